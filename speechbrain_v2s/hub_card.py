"""Model cards for exported models, from the templates in ``hub_cards/``.

The card is filled from the run itself: the dataset and counts from its
manifests, the metrics from the last test (or validation) line of its train
log, the parameter count from the exported weights. Its YAML front matter is
valid Hub model-card metadata (``huggingface_hub.ModelCard`` parses it).

Example
-------
>>> metrics_table({"pesq": 1.5, "stoi": 0.6})
'| PESQ ↑ | STOI ↑ |\\n|---|---|\\n| 1.500 | 0.600 |'
"""

import os
import re

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "hub_cards")
METRIC_NAMES = {
    "pesq": "PESQ ↑",
    "stoi": "STOI ↑",
    "estoi": "ESTOI ↑",
    "wer": "WER ↓",
    "mel_l1": "mel L1 ↓",
}
_STAT = re.compile(r"(train|valid|test) ([\w ]+?): ([-\d.e+]+)")


def last_logged_metrics(train_log, stage="test"):
    """Metrics of the last ``stage`` line of a SpeechBrain train log.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "log.txt")
    >>> _ = open(path, "w").write("epoch: 1 - valid loss: 2.0, valid stoi: 0.5\\n")
    >>> last_logged_metrics(path, "valid")
    {'loss': 2.0, 'stoi': 0.5}
    """
    found = {}
    if not os.path.isfile(train_log):
        return found
    with open(train_log, encoding="utf-8") as handle:
        for line in handle:
            stats = {
                k.strip(): float(v) for s, k, v in _STAT.findall(line) if s == stage
            }
            if stats:
                found = stats
    return found


def metrics_table(metrics):
    """A one-row Markdown table of the known metrics present in ``metrics``.

    Example
    -------
    >>> print(metrics_table({"wer": 12.5, "stoi": 0.61234, "loss": 3.0}))
    | STOI ↑ | WER ↓ |
    |---|---|
    | 0.612 | 12.500 |
    >>> metrics_table({"loss": 3.0})
    '(no metrics recorded)'
    """
    keys = [k for k in METRIC_NAMES if k in metrics]
    if not keys:
        return "(no metrics recorded)"
    head = "| " + " | ".join(METRIC_NAMES[k] for k in keys) + " |"
    rule = "|" + "---|" * len(keys)
    row = "| " + " | ".join(f"{metrics[k]:.3f}" for k in keys) + " |"
    return "\n".join([head, rule, row])


def metrics_yaml(metrics):
    """``model-index`` metric entries (YAML lines, indented for the templates).

    Example
    -------
    >>> print(metrics_yaml({"stoi": 0.61}))
        - type: stoi
          value: 0.61
          name: STOI
    """
    lines = []
    for key in METRIC_NAMES:
        if key in metrics:
            lines += [
                f"    - type: {key}",
                f"      value: {round(float(metrics[key]), 4)}",
                f"      name: {METRIC_NAMES[key].split()[0]}",
            ]
    return "\n".join(lines) if lines else "    []"


def render_card(kind, fields):
    """Fill ``hub_cards/<kind>.md`` (``v2a``, ``a2a`` or ``vocoder``).

    Unknown fields are left visible as ``{name}`` rather than failing, so a
    template may grow without breaking exports.

    Example
    -------
    >>> card = render_card("vocoder", {"name": "x", "dataset": "synthetic"})
    >>> card.startswith("---") and "# x: HiFi-GAN vocoder" in card
    True
    """

    class _Keep(dict):
        def __missing__(self, key):
            return "{" + key + "}"

    with open(os.path.join(TEMPLATES, f"{kind}.md"), encoding="utf-8") as handle:
        template = handle.read()
    metrics = fields.get("metrics", {})
    values = _Keep(
        metrics_table=metrics_table(metrics), metrics_yaml=metrics_yaml(metrics)
    )
    values.update({k: v for k, v in fields.items() if k != "metrics"})
    return template.format_map(values)
