"""Writing the results: per-utterance CSV, the paper's table in Markdown and
LaTeX (best value in bold), and reference-vs-generated mel plots.
"""

import csv
import math
import os

import torch

from speechbrain_v2s.audio.features import SAMPLE_RATE, compute_mel
from speechbrain_v2s.audio.io import load_audio
from speechbrain_v2s.evaluation.scoring import CSV_FIELDS

TABLE_COLUMNS = (  # the paper's table: key, header, higher is better
    ("pesq", "PESQ", True),
    ("stoi", "STOI", True),
    ("estoi", "ESTOI", True),
    ("mcd", "MCD (dB)", False),
    ("wer", "WER (%)", False),
)
SPEAKER_COLUMN = ("speaker_sim", "SpkSim", True)  # with --speaker-model


def write_csv(rows, path):
    """Write per-utterance rows (:data:`CSV_FIELDS`) to a CSV file.

    Example
    -------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "rows.csv")
    >>> write_csv([{"id": "a", "pesq": 1.5}], p)
    >>> open(p).read().splitlines()[1].split(",")[:2]
    ['', 'a']
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row.get(k, "")) for k in CSV_FIELDS})


def _csv_value(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def _decimals(key):
    return 1 if key == "wer" else 2 if key in ("pesq", "mcd") else 3


def _cell(stats, key, latex=False):
    mean, ci = stats.get("mean", math.nan), stats.get("ci95", math.nan)
    if mean is None or not math.isfinite(mean):
        return "--" if latex else "–"
    d = _decimals(key)
    text = f"{mean:.{d}f}"
    if ci is not None and math.isfinite(ci):
        text += (r" $\pm$ " if latex else " ± ") + f"{ci:.{d}f}"
    return text


def _best(systems, key, higher):
    values = [s.get(key, {}).get("mean", math.nan) for s in systems.values()]
    values = [v for v in values if v is not None and math.isfinite(v)]
    if len(systems) < 2 or not values:
        return None
    return round(max(values) if higher else min(values), _decimals(key))


def markdown_table(systems, columns=TABLE_COLUMNS):
    """The paper's results table in Markdown: one row per system.

    Arguments
    ---------
    systems : dict
        ``{name: summary}`` with summaries from
        :func:`~speechbrain_v2s.evaluation.summarise`.
    columns : sequence of (str, str, bool)
        Metric key, header and whether higher is better.

    Returns
    -------
    str

    Example
    -------
    >>> s = {"pesq": {"mean": 1.5, "ci95": 0.1}, "stoi": {"mean": 0.6, "ci95": 0.02},
    ...      "estoi": {"mean": 0.4, "ci95": 0.03}, "mcd": {"mean": 7.5, "ci95": 0.4},
    ...      "wer": {"mean": 20.0, "ci95": 3.0}}
    >>> print(markdown_table({"Ours": s}))
    | System | PESQ ↑ | STOI ↑ | ESTOI ↑ | MCD (dB) ↓ | WER (%) ↓ |
    |---|---|---|---|---|---|
    | Ours | 1.50 ± 0.10 | 0.600 ± 0.020 | 0.400 ± 0.030 | 7.50 ± 0.40 | 20.0 ± 3.0 |
    """
    head = ["System"] + [f"{h} {'↑' if up else '↓'}" for _, h, up in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, summary in systems.items():
        cells = [str(name)]
        for key, _, up in columns:
            stats = summary.get(key, {})
            cell = _cell(stats, key)
            best = _best(systems, key, up)
            if (
                best is not None
                and round(stats.get("mean", math.nan), _decimals(key)) == best
            ):
                cell = f"**{cell}**"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _latex_escape(text):
    for char in "\\&%$#_{}":
        text = text.replace(char, "\\" + char if char != "\\" else r"\textbackslash{}")
    return text


def latex_table(systems, columns=TABLE_COLUMNS, caption=None, label="tab:v2s"):
    """The paper's results table as a LaTeX ``table`` (booktabs), best in bold.

    Arguments
    ---------
    systems : dict
        ``{name: summary}`` with summaries from
        :func:`~speechbrain_v2s.evaluation.summarise`.
    columns : sequence of (str, str, bool)
        Metric key, header and whether higher is better.
    caption : str, optional
        Table caption.
    label : str
        LaTeX label.

    Returns
    -------
    str

    Example
    -------
    >>> s = {"pesq": {"mean": 1.5, "ci95": 0.1}}
    >>> print(latex_table({"A_1": s}, columns=[("pesq", "PESQ", True)]).splitlines()[6])
    A\\_1 & 1.50 $\\pm$ 0.10 \\\\
    """
    spec = "l" + "c" * len(columns)
    head = " & ".join(
        ["System"]
        + [
            f"{_latex_escape(h)} $\\{'uparrow' if up else 'downarrow'}$"
            for _, h, up in columns
        ]
    )
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        head + r" \\",
        r"\midrule",
    ]
    for name, summary in systems.items():
        cells = [_latex_escape(str(name))]
        for key, _, up in columns:
            stats = summary.get(key, {})
            cell = _cell(stats, key, latex=True)
            best = _best(systems, key, up)
            if (
                best is not None
                and round(stats.get("mean", math.nan), _decimals(key)) == best
            ):
                cell = rf"\textbf{{{cell}}}"
            cells.append(cell)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(rf"\caption{{{_latex_escape(caption)}}}")
    lines += [rf"\label{{{label}}}", r"\end{table}"]
    return "\n".join(lines)


def plot_mels(ref, gen, path, title=None):
    """Save a PNG with the reference and generated log-mel spectrograms.

    Both come from :func:`~speechbrain_v2s.audio.features.compute_mel` and
    share one colour scale; the generated one is cut/padded to the
    reference's length first, as the metrics do. Uses Matplotlib's Agg
    canvas directly (no display, no global backend change).

    Arguments
    ---------
    ref : torch.Tensor or str
        Reference waveform ``[samples]`` at 24 kHz, or an audio file.
    gen : torch.Tensor or str
        Generated waveform or audio file.
    path : str
        Output PNG.
    title : str, optional
        Figure title.

    Example
    -------
    >>> import os, tempfile, torch
    >>> p = os.path.join(tempfile.mkdtemp(), "mel.png")
    >>> plot_mels(torch.randn(4800) * 0.1, torch.randn(4000) * 0.1, p)
    >>> open(p, "rb").read(4) == b"\\x89PNG"
    True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from speechbrain_v2s.metrics import align_lengths

    if isinstance(ref, str | os.PathLike):
        ref = load_audio(ref, SAMPLE_RATE)
    if isinstance(gen, str | os.PathLike):
        gen = load_audio(gen, SAMPLE_RATE)
    ref = torch.as_tensor(ref, dtype=torch.float32).reshape(-1)
    gen = align_lengths(torch.as_tensor(gen, dtype=torch.float32).reshape(-1), ref)
    mels = [compute_mel(ref).T.numpy(), compute_mel(gen).T.numpy()]
    low = min(float(m.min()) for m in mels) if mels[0].size else 0.0
    high = max(float(m.max()) for m in mels) if mels[0].size else 1.0
    fig = Figure(figsize=(8, 5), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True)
    for ax, mel, name in zip(axes, mels, ("reference", "generated")):
        image = ax.imshow(
            mel, origin="lower", aspect="auto", vmin=low, vmax=high, cmap="magma"
        )
        ax.set_ylabel(f"{name}\nmel bin")
    axes[-1].set_xlabel("frame (10 ms)")
    fig.colorbar(image, ax=list(axes), label="log mel")
    if title:
        fig.suptitle(title)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, format="png")
