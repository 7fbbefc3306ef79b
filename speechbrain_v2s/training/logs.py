"""Reading SpeechBrain ``train_log.txt`` files back, and the validation
summary the demo and the benchmarks report from them.

One ``train_log.txt`` line per epoch (and one for the test), as written by
``sb.utils.train_logger.FileTrainLogger``::

    epoch: 3, lr: 2.00e-03 - train mel_l1: 1.20 - valid mel_l1: 1.10, valid stoi: 0.41
"""

import re
import statistics

_STAGE = re.compile(r"(train|valid|test) ([\w ]+?): ([-\d.e+]+|nan)")
_META = re.compile(r"(epoch|Epoch loaded): (\d+)")
_LR = re.compile(r"\blr: ([-\d.e+]+)")


def parse_log_line(line):
    """One train-log line → ``{"epoch": n, "lr": x, "train": {...}, "valid":
    {...}, "test": {...}}`` (``epoch`` and ``lr`` only when the line has them).

    Example
    -------
    >>> row = parse_log_line("epoch: 2, lr: 1e-03 - train loss: 0.5 - valid stoi: 0.4")
    >>> row["epoch"], row["lr"], row["train"], row["valid"], row["test"]
    (2, 0.001, {'loss': 0.5}, {'stoi': 0.4}, {})
    """
    row = {"train": {}, "valid": {}, "test": {}}
    meta = _META.search(line)
    if meta:
        row["epoch"] = int(meta.group(2))
    lr = _LR.search(line)
    if lr:
        row["lr"] = float(lr.group(1))
    for stage, key, value in _STAGE.findall(line):
        row[stage][key.strip()] = float(value)
    return row


def read_train_log(path):
    """Every non-empty line of a ``train_log.txt`` as :func:`parse_log_line` rows.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "train_log.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("epoch: 1 - train loss: 2.0\\n\\n")
    ...     _ = f.write("Epoch loaded: 1 - test stoi: 0.3\\n")
    >>> [(r["epoch"], r["test"]) for r in read_train_log(path)]
    [(1, {}), (1, {'stoi': 0.3})]
    """
    with open(path, encoding="utf-8") as handle:
        return [parse_log_line(line) for line in handle if line.strip()]


def validation_summary(path, key="mel_l1", last=5, extra=("stoi", "estoi")):
    """Validation numbers of one training run, from its train log.

    Returns ``{key}_start`` (epoch 0: the model before training, when the
    recipe validated it), ``{key}_best`` (lowest over trained epochs: the
    checkpoint kept), ``epochs`` and ``<name>_last`` for ``key`` and each of
    ``extra``: the mean over the last ``last`` epochs (single epochs are
    noisy on tiny data).

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "train_log.txt")
    >>> lines = [f"epoch: {e} - valid mel_l1: {v}, valid stoi: 0.{e}\\n"
    ...          for e, v in enumerate([3.0, 2.0, 1.0, 1.5])]
    >>> with open(path, "w") as f:
    ...     _ = f.write("".join(lines))
    >>> s = validation_summary(path, last=2)
    >>> s["mel_l1_start"], s["mel_l1_best"], s["mel_l1_last"], s["epochs"]
    (3.0, 1.0, 1.25, 3)
    >>> round(s["stoi_last"], 2)
    0.25
    """
    rows = [r for r in read_train_log(path) if "epoch" in r and key in r["valid"]]
    if not rows:
        raise ValueError(f"{path}: no validation line with {key!r}")
    trained = [r["valid"] for r in rows if r["epoch"] >= 1] or [rows[-1]["valid"]]
    summary = {
        f"{key}_start": rows[0]["valid"][key],
        f"{key}_best": min(v[key] for v in trained),
        "epochs": len(trained),
    }
    for name in (key, *extra):
        values = [v[name] for v in trained[-last:] if name in v]
        if values:
            summary[f"{name}_last"] = statistics.mean(values)
    return summary


def last_test_stats(path):
    """The metrics of the last ``test`` line of a train log.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "train_log.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("Epoch loaded: 4 - test stoi: 0.5, test pesq: 1.2\\n")
    >>> last_test_stats(path)
    {'stoi': 0.5, 'pesq': 1.2}
    """
    rows = [r for r in read_train_log(path) if r["test"]]
    if not rows:
        raise ValueError(f"{path}: no test line")
    return rows[-1]["test"]
