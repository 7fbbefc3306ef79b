"""The strategies benchmark's report, once its runs are scored.

:mod:`finetune_strategies` (the command) trains, exports and scores the runs;
from their results (``{(strategy, seed): result}``, as ``Runner.score``
returns them) this module makes the mean over seeds with its 95 % Student-t
interval, a table per speaker group with its reference rows, a row per run,
the tally of seeds where ``init`` beats ``scratch``, the validation-curve PNG
and the family's ``benchmarks/RESULTS.md`` section.
"""

import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _path in (
    os.path.join(ROOT, "recipes", "Synthetic"),
    os.path.join(ROOT, "benchmarks"),
):
    if _path not in sys.path:
        sys.path.insert(0, _path)
from demo import BATCH_SIZE, UNSEEN_SEED, steps_done  # noqa: E402
from results_md import machine_line  # noqa: E402

from speechbrain_v2s.evaluation.report import (  # noqa: E402
    TABLE_COLUMNS,
    markdown_table,
)
from speechbrain_v2s.evaluation.summary import mean_ci  # noqa: E402
from speechbrain_v2s.training.logs import read_train_log  # noqa: E402

SECTION = "## The paper's table at toy scale: fine-tuning strategies, {family}"
STRATEGIES = ("scratch", "init", "freeze_decoder", "joint")
GROUPS = ("seen", "unseen")
# The built-in corpora's seed: the command generates them, the section names it.
CORPUS_SEED = 99
MEL_COLUMN = ("mel_l1", "best valid mel L1", False)


def seed_stats(values):
    """Mean over seeds and the half-width of its 95 % Student-t interval
    (:func:`speechbrain_v2s.evaluation.summary.mean_ci`, the rule
    ``v2s-evaluate`` applies over utterances).

    Arguments
    ---------
    values : iterable of float or None
        One value per seed; ``None`` and ``nan`` are left out.

    Returns
    -------
    dict
        ``{"mean", "ci95", "n"}``, as a
        :func:`~speechbrain_v2s.evaluation.markdown_table` cell reads it;
        ``ci95`` is ``nan`` with fewer than two values.

    Example
    -------
    >>> s = seed_stats([0.2, 0.3, 0.4])
    >>> round(s["mean"], 3), round(s["ci95"], 3), s["n"]
    (0.3, 0.248, 3)
    >>> s = seed_stats([0.5, None])
    >>> s["mean"], math.isnan(s["ci95"]), s["n"]
    (0.5, True, 1)
    """
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    mean, ci = mean_ci(finite)
    return {"mean": mean, "ci95": ci, "n": len(finite)}


def aggregate(runs, group, keys=tuple(k for k, _, _ in TABLE_COLUMNS)):
    """One table row from several runs (seeds): :func:`seed_stats` per metric.

    Arguments
    ---------
    runs : list of dict
        Results as :meth:`Runner.score` returns them: ``{"valid":
        {"mel_l1_best": ...}, "seen": {"estoi": {"mean": ...}, ...}, ...}``.
    group : str
        ``seen`` or ``unseen``.
    keys : tuple of str
        Metrics; ``mel_l1`` is the best validation mel L1, every other key
        the run's summary on ``group``.

    Returns
    -------
    dict
        ``{key: {"mean", "ci95", "n"}}``.

    Example
    -------
    >>> runs = [{"valid": {"mel_l1_best": b}, "seen": {"wer": {"mean": w}}}
    ...         for b, w in ((0.6, 20.0), (0.8, 30.0))]
    >>> row = aggregate(runs, "seen", keys=("wer", "mel_l1"))
    >>> row["wer"]["mean"], row["mel_l1"]["mean"], row["wer"]["n"]
    (25.0, 0.7, 2)
    """
    row = {}
    for key in keys:
        if key == "mel_l1":
            values = [r["valid"]["mel_l1_best"] for r in runs]
        else:
            values = [r[group].get(key, {}).get("mean") for r in runs]
        row[key] = seed_stats(values)
    return row


def wins(results, better, worse, group, key, higher):
    """Seeds where strategy ``better`` beats ``worse`` on ``key``.

    Arguments
    ---------
    results : dict
        ``{(strategy, seed): result}`` (:meth:`Runner.score`); only seeds
        both strategies ran count.
    better, worse : str
        The strategies compared.
    group : str
        ``seen``, ``unseen``, or ``valid`` (the best validation mel L1;
        ``key`` is then ignored).
    key : str
        Metric of the group's summary.
    higher : bool
        Whether higher is better.

    Returns
    -------
    tuple of int
        ``(seeds won, seeds compared)``; a missing value never wins.

    Example
    -------
    >>> r = {("init", 1): {"seen": {"wer": {"mean": 20.0}}},
    ...      ("scratch", 1): {"seen": {"wer": {"mean": 40.0}}},
    ...      ("init", 2): {"seen": {"wer": {"mean": 50.0}}},
    ...      ("scratch", 2): {"seen": {"wer": {"mean": 45.0}}},
    ...      ("init", 3): {"seen": {"wer": {"mean": 10.0}}}}
    >>> wins(r, "init", "scratch", "seen", "wer", higher=False)
    (1, 2)
    """
    seeds = sorted(
        seed for (st, seed) in results if st == better and (worse, seed) in results
    )

    def value(strategy, seed):
        result = results[strategy, seed]
        if group == "valid":
            return result["valid"]["mel_l1_best"]
        value = result[group].get(key, {}).get("mean")
        return math.nan if value is None else value

    won = 0
    for seed in seeds:
        a, b = value(better, seed), value(worse, seed)
        won += (a > b) if higher else (a < b)
    return won, len(seeds)


def curve(rows, steps_per_epoch, key):
    """A validation metric against optimizer steps.

    Arguments
    ---------
    rows : list of dict
        A train log (:func:`~speechbrain_v2s.training.logs.read_train_log`).
    steps_per_epoch : int
        Optimizer steps of one epoch: epoch ``e`` is at step
        ``e * steps_per_epoch`` (epoch 0, the untrained model, at 0).
    key : str
        Validation metric, e.g. ``estoi``.

    Returns
    -------
    tuple of list
        ``(steps, values)``; test lines are left out.

    Example
    -------
    >>> rows = [{"epoch": 0, "valid": {"estoi": 0.0}, "test": {}},
    ...         {"epoch": 1, "valid": {"estoi": 0.2}, "test": {}},
    ...         {"epoch": 2, "valid": {}, "test": {}},
    ...         {"epoch": 2, "valid": {}, "test": {"estoi": 0.3}}]
    >>> curve(rows, 54, "estoi")
    ([0, 54], [0.0, 0.2])
    """
    points = [
        (row["epoch"] * steps_per_epoch, row["valid"][key])
        for row in rows
        if "epoch" in row and key in row["valid"] and not row["test"]
    ]
    return [p[0] for p in points], [p[1] for p in points]


def plot_curves(run_dirs, path, title):
    """Write validation ESTOI and mel L1 against optimizer steps as a PNG.

    Arguments
    ---------
    run_dirs : dict
        ``{(strategy, seed): finished V2A run folder}``: a thin line per
        seed, a colour per strategy.
    path : str
        PNG to write (folders are created).
    title : str
        Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    colours = {"scratch": "tab:blue", "init": "tab:orange"}
    for (strategy, seed), run_dir in sorted(run_dirs.items()):
        rows = read_train_log(os.path.join(run_dir, "train_log.txt"))
        epochs = max(r["epoch"] for r in rows if "epoch" in r)
        per_epoch = steps_done(run_dir) // max(epochs, 1)
        for ax, key in zip(axes, ("estoi", "mel_l1")):
            x, y = curve(rows, per_epoch, key)
            first = seed == min(s for st, s in run_dirs if st == strategy)
            ax.plot(
                x,
                y,
                color=colours.get(strategy),
                linewidth=0.9,
                alpha=0.85,
                label=strategy if first else None,
            )
    for ax, label in zip(axes, ("valid ESTOI ↑", "valid mel L1 ↓")):
        ax.set_xlabel("optimizer steps")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(title="a line per seed")
    axes[1].set_yscale("log")
    for which in ("major", "minor"):
        getattr(axes[1].yaxis, f"set_{which}_formatter")(FormatStrFormatter("%g"))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def reference_rows(results, group):
    """The reference rows of a group (ground truth, vocoder ceiling).

    Arguments
    ---------
    results : dict
        ``{(strategy, seed): result}`` (:meth:`Runner.score`).
    group : str
        ``seen`` (a test set per seed: mean ± CI over them, like the
        systems) or ``unseen`` (one set: its utterance-level interval).

    Returns
    -------
    tuple
        ``({row name: {metric: stats}}, number of test sets)``.
    """
    per_set = {}
    for result in results.values():
        key = result["seed"] if group == "seen" else 0
        per_set[key] = result[f"{group}_reference"]
    names = next(iter(per_set.values())).keys()
    rows = {}
    for name in names:
        row = {}
        for key, _, _ in TABLE_COLUMNS:
            # .get: results scored before a column was added lack its key
            values = [
                systems[name].get(key, {}).get("mean") for systems in per_set.values()
            ]
            if len(values) == 1:  # one test set: its utterance-level interval
                row[key] = dict(next(iter(per_set.values()))[name].get(key, {}))
            else:
                row[key] = seed_stats(values)
        rows[name] = row
    return rows, len(per_set)


def group_table(results, group, strategies, with_mel):
    """A group's Markdown table: strategies, then the reference rows.

    Arguments
    ---------
    results : dict
        ``{(strategy, seed): result}`` (:meth:`Runner.score`).
    group : str
        ``seen`` or ``unseen``.
    strategies : sequence of str
        Row order.
    with_mel : bool
        Add the best validation mel L1 column.

    Returns
    -------
    str
    """
    columns = TABLE_COLUMNS + ((MEL_COLUMN,) if with_mel else ())
    keys = tuple(k for k, _, _ in columns)
    rows = {}
    for strategy in strategies:
        runs = [r for (st, _), r in sorted(results.items()) if st == strategy]
        if runs:
            label = f"{strategy} ({len(runs)} seed{'s' if len(runs) > 1 else ''})"
            rows[label] = aggregate(runs, group, keys)
    lines = markdown_table(rows, columns).splitlines()
    references, sets = reference_rows(results, group)
    for name, row in references.items():
        label = f"{name} ({sets} test sets)" if sets > 1 else name
        # One row at a time: no bold between the references.
        lines.append(markdown_table({label: row}, columns).splitlines()[-1])
    return "\n".join(lines)


def run_table(results):
    """Markdown: one row per run (its values, no interval).

    Arguments
    ---------
    results : dict
        ``{(strategy, seed): result}`` (:meth:`Runner.score`).

    Returns
    -------
    str
    """

    def cell(summary, key):
        value = summary.get(key, {}).get("mean")
        if value is None or not math.isfinite(value):
            return "–"
        return f"{value:.{1 if key == 'wer' else 2 if key in ('pesq', 'mcd') else 3}f}"

    head = ["strategy", "seed", "steps", "best valid mel L1"]
    metrics = " / ".join(h for _, h, _ in TABLE_COLUMNS)
    head += [f"{g} {metrics}" for g in GROUPS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (strategy, seed), r in sorted(
        results.items(), key=lambda kv: (STRATEGIES.index(kv[0][0]), kv[0][1])
    ):
        cells = [
            strategy,
            str(seed),
            str(r["steps"]),
            f"{r['valid']['mel_l1_best']:.3f}",
        ]
        for group in GROUPS:
            cells.append(" / ".join(cell(r[group], k) for k, _, _ in TABLE_COLUMNS))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def wins_line(results):
    """The line saying how often ``init`` beats ``scratch`` (:func:`wins`).

    Arguments
    ---------
    results : dict
        ``{(strategy, seed): result}`` (:meth:`Runner.score`).

    Returns
    -------
    str
    """
    parts = []
    for group in GROUPS:
        for key, label, higher in (("estoi", "ESTOI", True), ("wer", "WER", False)):
            won, n = wins(results, "init", "scratch", group, key, higher)
            parts.append(f"{group} {label} {won}/{n}")
    won, n = wins(results, "init", "scratch", "valid", "mel_l1", False)
    parts.append(f"best valid mel L1 {won}/{n}")
    return "- `init` ahead of `scratch` (seeds won): " + ", ".join(parts) + "."


def plural(n, word):
    """``"1 epoch"``, ``"3 epochs"``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def section(args, runner, results, command, figure_link, wall, load_start):
    """The family's RESULTS.md section (Markdown, heading first)."""
    a = args
    v2a_epochs = runner.v2a_epochs()
    a2a = runner.a2a_valid
    text_seeds = ", ".join(
        f"`{st}` {a.seeds if st in a.every_seed else a.seeds[:1]}"
        for st in a.strategies
    )
    reused = (
        f" ({len(runner.reused)} of {len(results) + 1} trainings reused from an "
        "earlier invocation)"
        if runner.reused
        else ""
    )
    lines = [
        SECTION.format(family=a.family),
        "",
        machine_line(
            load_start=load_start, extra=f"{a.jobs} runs at a time, 1 thread each"
        ),
        f"- Command: `{command}`; wall time {wall / 60:.0f} min{reused}.",
        f"- Data (built-in synthetic corpus): A2A on {a.audio} x {a.audio_utts} "
        f"audio-only utterances (seed {CORPUS_SEED}); V2A on {a.av} x {a.av_utts} "
        f"audio-visual utterances (seed {CORPUS_SEED}), per-speaker 90/5/5 "
        "train/valid/test split drawn by each run's seed (the *seen* test set: "
        f"{a.av} training speakers); *unseen*: {a.unseen} x {a.unseen_utts} "
        f"utterances of new voices and faces (seed {UNSEEN_SEED}), neutral "
        "speaker identity.",
        f"- Budgets (optimizer steps, batch {BATCH_SIZE}): A2A {runner.a2a_steps} "
        f"steps ({plural(runner.a2a_epochs, 'epoch')}; best valid mel L1 "
        f"{a2a['mel_l1_best']:.3f}, ESTOI (last epochs) "
        f"{a2a.get('estoi_last', math.nan):.3f}), once, shared by every V2A run; "
        f"V2A {next(iter(results.values()))['steps']} steps "
        f"({plural(v2a_epochs, 'epoch')}) "
        f"each. Seeds: {text_seeds}.",
        f"- Scored by `v2s-evaluate` on the exported models' output "
        f"(`VideoToSpeech.from_hparams`); WER judge `--asr {a.judge}`. Cells: mean "
        "over seeds ± the 95 % Student-t interval over seeds (a run's value: its "
        "mean over test utterances, its corpus WER); one seed: its value alone. "
        "Reference rows: the real audio"
        + (
            " and its mel through the models' Griffin-Lim (the vocoder ceiling)"
            if "mel" in a.family
            else ""
        )
        + "; over the seeds' seen test sets like the systems, and on the one "
        "unseen set with the utterance-level interval.",
        wins_line(results),
        f"- Validation curves (scratch vs init, a line per seed): [{figure_link}]"
        f"({figure_link}).",
        "",
        "Seen speakers (test split of the training speakers; valid mel L1 on "
        "their validation split):",
        "",
        group_table(results, "seen", a.strategies, with_mel=True),
        "",
        f"Unseen speakers ({a.unseen} new voices and faces):",
        "",
        group_table(results, "unseen", a.strategies, with_mel=False),
        "",
        "Per run:",
        "",
        run_table(results),
        "",
        f"Per-run numbers: `<work>/{a.family}/results.json`; scores per utterance: "
        f"`<work>/{a.family}/{os.path.basename(runner.eval_root)}/`.",
    ]
    return "\n".join(lines) + "\n"
