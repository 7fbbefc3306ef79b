"""Model cards for exported models, from the templates in ``hub_cards/``.

The templates live at the top of the repository (``hub_cards/``) and are
shipped inside the package as ``speechbrain_v2s/hub_cards/`` (setup.cfg maps
that package folder to the repository's one), so an installed wheel finds
them next to this module and a checkout in the repository.

The card is filled from the run itself (:func:`card_fields`): the dataset
and counts from its manifests, the metrics from the last test (or validation)
line of its train log, the recipe from SpeechBrain's header of its YAML, the
parameter count from the exported weights; how the waveform is made (HiFi-GAN
vocoder, Griffin-Lim or a waveform generator) and what input the model takes
(raw face video, or mouth crops with ``already_cropped=True``). It names no
folder of the exporting machine. Its YAML front matter is valid Hub
model-card metadata (``huggingface_hub.ModelCard`` parses it).

Example
-------
>>> metrics_table({"pesq": 1.5, "stoi": 0.6})
'| PESQ ↑ | STOI ↑ |\\n|---|---|\\n| 1.500 | 0.600 |'
"""

import json
import math
import os

from speechbrain_v2s.training.logs import read_train_log

_HERE = os.path.dirname(os.path.abspath(__file__))
#: Where templates are looked for, in order: the installed package's copy,
#: then the repository's folder (a checkout, or an editable install).
TEMPLATE_DIRS = (
    os.path.join(_HERE, "hub_cards"),
    os.path.join(os.path.dirname(_HERE), "hub_cards"),
)
METRIC_NAMES = {
    "pesq": "PESQ ↑",
    "stoi": "STOI ↑",
    "estoi": "ESTOI ↑",
    "wer": "WER ↓",
    "mel_l1": "mel L1 ↓",
}


def last_logged_metrics(train_log, stage="test"):
    """Metrics of the last ``stage`` line of a SpeechBrain train log (``{}`` when
    the log or such a line is missing); a ``nan`` is read as a float.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "log.txt")
    >>> _ = open(path, "w").write("epoch: 1 - valid loss: nan, valid stoi: 0.5\\n")
    >>> last_logged_metrics(path, "valid")
    {'loss': nan, 'stoi': 0.5}
    """
    if not os.path.isfile(train_log):
        return {}
    logged = [row[stage] for row in read_train_log(train_log) if row[stage]]
    return logged[-1] if logged else {}


def _count(manifest):
    if not manifest or not os.path.isfile(manifest):
        return "an unknown number of"
    with open(manifest, encoding="utf-8") as handle:
        return len(json.load(handle))


def _num_params(state):
    return sum(v.numel() for v in state.values() if v.is_floating_point())


def header_source(run_folder):
    """The recipe YAML (absolute path) that SpeechBrain's header of the run's
    ``hyperparams.yaml`` names, or ``None``.

    Example
    -------
    >>> header_source("/no/run") is None
    True
    """
    path = os.path.join(str(run_folder), "hyperparams.yaml")
    try:
        with open(path, encoding="utf-8") as handle:
            head = [handle.readline() for _ in range(2)]
    except OSError:
        return None
    if not head[0].startswith("# Generated") or not head[1].startswith("# "):
        return None
    source = head[1][2:].strip()
    return source if source.endswith((".yaml", ".yml")) else None


def recipe_source(run_folder):
    """The recipe YAML a run was started from, as SpeechBrain's header of the
    run's ``hyperparams.yaml`` names it (from ``recipes/`` on when the path
    has it), or ``None`` when the run folder does not say.

    Example
    -------
    >>> import os, tempfile
    >>> run = tempfile.mkdtemp()
    >>> recipe_source(run) is None
    True
    >>> with open(os.path.join(run, "hyperparams.yaml"), "w") as f:
    ...     _ = f.write("# Generated 2026-12-01 from:\\n"
    ...                 "# /home/me/v2s/recipes/GRID/V2A/hparams/wave.yaml\\n"
    ...                 "# yamllint disable\\nseed: 1\\n")
    >>> recipe_source(run)
    'recipes/GRID/V2A/hparams/wave.yaml'
    """
    source = header_source(run_folder)
    if source is None:
        return None
    marker = "/recipes/"
    if marker in source:
        return "recipes/" + source.split(marker, 1)[1]
    return os.path.basename(source)


def public_source(source, run_folder):
    """How a model card names a file or model the run used, without the
    exporting machine's folders: Hub ids and relative paths as the run's YAML
    wrote them, absolute paths from the repository the run was made in (the
    folder above ``recipes/`` in the run's header), else the file's name.

    Example
    -------
    >>> public_source("user/a2a", "/no/run"), public_source("results/a.ckpt", "/x")
    ('user/a2a', 'results/a.ckpt')
    >>> public_source("/home/me/runs/a2a_model.ckpt", "/no/run")
    'a2a_model.ckpt'
    """
    source = str(source)
    if not os.path.isabs(source) and not source.startswith("~"):
        return source
    header = header_source(run_folder) or ""
    marker = os.sep + "recipes" + os.sep
    if marker in header:
        root = header.split(marker, 1)[0]
        if source.startswith(root + os.sep):
            return os.path.relpath(source, root)
    return os.path.basename(source.rstrip(os.sep))


def _waveform_text(family, has_vocoder):
    if family == "wave":
        return "waveform GAN", "The generator outputs the 24 kHz waveform directly."
    if has_vocoder:
        return "mel spectrogram + HiFi-GAN vocoder", (
            "Its mel spectrograms are turned into 24 kHz speech by the HiFi-GAN "
            "vocoder shipped beside it (`vocoder.safetensors`)."
        )
    return "mel spectrogram + Griffin-Lim", (
        "No neural vocoder ships with it: its mel spectrograms are turned into "
        "24 kHz speech by Griffin-Lim, which sounds rougher than a vocoder "
        "(export with `--vocoder` to ship one)."
    )


def card_fields(
    run_folder, hparams, kind, out_dir, state, has_vocoder=False, locate=None
):
    """What the model card says, taken from the run.

    ``locate`` maps a path of the run's YAML to where it is on this machine
    (``speechbrain_v2s.export.run_path``; default: as written).

    Example
    -------
    >>> import os, tempfile, torch
    >>> run = os.path.join(tempfile.mkdtemp(), "V2A")
    >>> os.makedirs(run)
    >>> with open(os.path.join(run, "train_log.txt"), "w") as f:
    ...     _ = f.write("epoch loaded: 9 - test loss: 1.0, test stoi: 0.61\\n")
    >>> hparams = {"arch": {"vocoder": None}, "data_folder": "/data/LRS3/",
    ...            "finetune_strategy": "init", "pretrained_a2a": "user/a2a"}
    >>> fields = card_fields(run, hparams, "v2a", "/out/my-v2a",
    ...                      {"w": torch.zeros(3, 2), "steps": torch.tensor(1)})
    >>> fields["name"], fields["dataset"], fields["family"], fields["arch"]
    ('my-v2a', 'LRS3', 'mel', 'V2A')
    >>> fields["metrics"], fields["params"], fields["train_count"]
    ({'loss': 1.0, 'stoi': 0.61}, '6', 'an unknown number of')
    >>> fields["init_text"]
    'initialised from the A2A pre-trained decoder `user/a2a`'
    >>> fields["family_long"]  # no vocoder shipped
    'mel spectrogram + Griffin-Lim'
    >>> import pathlib  # a pathlib.Path works too
    >>> card_fields(pathlib.Path(run), hparams, "v2a", "/out/x", {})["arch"]
    'V2A'
    """
    locate = locate or (lambda path: path)
    arch = hparams.get("arch", {})
    family = "mel" if "vocoder" in arch else "wave"
    data = hparams.get("data_folder") or hparams.get("data_folders") or "?"
    if isinstance(data, (list, tuple)):
        data = ", ".join(os.path.basename(str(d).rstrip("/")) for d in data)
    else:
        data = os.path.basename(str(data).rstrip("/"))
    stage = "test" if kind == "v2a" else "valid"
    source = recipe_source(run_folder)
    metrics = last_logged_metrics(os.path.join(run_folder, "train_log.txt"), stage)
    pretrained = hparams.get("pretrained_a2a")
    strategy = hparams.get("finetune_strategy", "scratch")
    init = (
        "initialised from the A2A pre-trained decoder "
        f"`{public_source(pretrained, run_folder)}`"
        if pretrained and strategy != "scratch"
        else "trained from scratch (no A2A initialisation)"
    )
    family_long, waveform_text = _waveform_text(family, has_vocoder)
    cropped = bool(hparams.get("already_cropped"))
    detector = hparams.get("roi_detector", "auto")
    name = os.path.basename(os.path.abspath(out_dir))
    return {
        "name": name,
        "repo": "<user>/" + name,
        "dataset": data,
        "family": family,
        "family_long": family_long,
        "waveform_text": waveform_text,
        "strategy": strategy,
        "init_text": init,
        "metrics": metrics,
        "train_count": _count(locate(hparams.get("train_json"))),
        "test_count": _count(locate(hparams.get("test_json"))),
        "params": f"{_num_params(state):,}",
        # the recipe YAML's name (tiny_mel, wave, ...) is the architecture's
        "arch": (
            os.path.splitext(os.path.basename(source))[0]
            if source
            else os.path.basename(os.path.abspath(str(run_folder)))
        ),
        "recipe": source or "(not recorded in the run folder)",
        "detector": detector,
        # Models trained on already-cropped mouth videos must be given such
        # videos: face detection on a mouth crop finds no face.
        "input_text": (
            "mouth-crop videos (grayscale mouth region, as in training), "
            "passed with `already_cropped=True`"
            if cropped
            else "a video showing one frontal talking face (the mouth region "
            f"is found with offline face landmarks: {detector})"
        ),
        "synth_call": (
            'synthesize_file("mouth.mp4", already_cropped=True)'
            if cropped
            else 'synthesize_file("talk.mp4")'
        ),
        "cli_call": (
            "v2s-synthesize mouth.mp4 --already-cropped -o mouth.wav"
            if cropped
            else "v2s-synthesize talk.mp4 -o talk.wav"
        ),
    }


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
    >>> metrics_yaml({"stoi": float("nan")})  # Hub metadata takes numbers only
    '    []'
    """
    lines = []
    for key in METRIC_NAMES:
        if key in metrics and math.isfinite(float(metrics[key])):
            lines += [
                f"    - type: {key}",
                f"      value: {round(float(metrics[key]), 4)}",
                f"      name: {METRIC_NAMES[key].split()[0]}",
            ]
    return "\n".join(lines) if lines else "    []"


def template_path(kind, folders=None):
    """The card template of ``kind``: the first ``<folder>/<kind>.md`` found
    in ``folders`` (default :data:`TEMPLATE_DIRS`).

    Raises
    ------
    FileNotFoundError
        No folder holds it (a broken install); the message names where it
        was looked for.

    Example
    -------
    >>> os.path.basename(template_path("v2a"))
    'v2a.md'
    >>> template_path("v2a", ["/no/cards"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: no model-card template v2a.md in /no/cards (reinstall ...)
    """
    folders = TEMPLATE_DIRS if folders is None else folders
    for folder in folders:
        path = os.path.join(folder, f"{kind}.md")
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"no model-card template {kind}.md in {' or '.join(folders)} "
        "(reinstall speechbrain-v2s)"
    )


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

    with open(template_path(kind), encoding="utf-8") as handle:
        template = handle.read()
    metrics = fields.get("metrics", {})
    values = _Keep(
        metrics_table=metrics_table(metrics), metrics_yaml=metrics_yaml(metrics)
    )
    values.update({k: v for k, v in fields.items() if k != "metrics"})
    return template.format_map(values)
