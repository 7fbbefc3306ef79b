"""The strategies benchmark's pure parts: intervals over seeds, the table rows
and the init-vs-scratch tally (no training)."""

import math
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import strategies_report as report  # noqa: E402


def _summary(pesq, stoi, estoi, wer, ci=0.01):
    values = dict(pesq=pesq, stoi=stoi, estoi=estoi, wer=wer)
    return {k: {"mean": v, "ci95": ci, "n": 10} for k, v in values.items()}


def _results():
    """Two strategies x 3 seeds (freeze_decoder: seed 1 only), references."""
    results = {}
    for seed, (s_estoi, i_estoi) in zip(
        (1, 2, 3), ((0.2, 0.3), (0.25, 0.2), (0.1, 0.4))
    ):
        for strategy, estoi in (("scratch", s_estoi), ("init", i_estoi)):
            results[strategy, seed] = {
                "strategy": strategy,
                "seed": seed,
                "steps": 1242,
                "valid": {"mel_l1_best": 0.7 - estoi},
                "seen": _summary(1.1, 0.5, estoi, 100 * (1 - 2 * estoi)),
                "unseen": _summary(1.0, 0.4, estoi / 2, 90.0),
                # the seen test set follows the seed; the unseen one does not
                "seen_reference": {
                    "ground truth": _summary(4.5, 1.0, 0.9 + seed / 100, seed)
                },
                "unseen_reference": {"ground truth": _summary(4.5, 1.0, 1.0, 2.0, 0.5)},
            }
    results["freeze_decoder", 1] = dict(results["init", 1], strategy="freeze_decoder")
    return results


def test_seed_stats_is_the_student_t_interval_over_seeds():
    s = report.seed_stats([0.2, 0.3, 0.4])
    # sd 0.1, n 3: t(0.975, 2) = 4.303 -> half-width 4.303 * 0.1 / sqrt(3)
    assert s["mean"] == pytest.approx(0.3)
    assert s["ci95"] == pytest.approx(4.3027 * 0.1 / math.sqrt(3), rel=1e-4)
    one = report.seed_stats([0.5, float("nan"), None])
    assert (one["mean"], one["n"]) == (0.5, 1) and math.isnan(one["ci95"])


def test_wins_counts_only_seeds_both_strategies_ran():
    results = _results()
    assert report.wins(results, "init", "scratch", "seen", "estoi", True) == (2, 3)
    assert report.wins(results, "init", "scratch", "seen", "wer", False) == (2, 3)
    assert report.wins(results, "init", "scratch", "valid", "mel_l1", False) == (2, 3)
    assert report.wins(results, "freeze_decoder", "scratch", "seen", "estoi", True) == (
        1,
        1,
    )
    assert "seen ESTOI 2/3" in report.wins_line(results)


def test_group_table_rows_and_references():
    results = _results()
    lines = report.group_table(
        results, "seen", report.STRATEGIES, with_mel=True
    ).splitlines()
    assert lines[0].startswith("| System | PESQ") and "best valid mel L1 ↓" in lines[0]
    by_name = {line.split(" | ")[0][2:]: line for line in lines[2:]}
    assert set(by_name) == {
        "scratch (3 seeds)",
        "init (3 seeds)",
        "freeze_decoder (1 seed)",
        "ground truth (3 test sets)",
    }
    init_estoi = report.seed_stats([0.3, 0.2, 0.4])
    assert (
        f"{init_estoi['mean']:.3f} ± {init_estoi['ci95']:.3f}"
        in by_name["init (3 seeds)"]
    )
    assert "±" not in by_name["freeze_decoder (1 seed)"].split(" | ")[3]  # one seed
    # Unseen: one test set for every seed -> its own utterance-level interval.
    unseen = report.group_table(results, "unseen", report.STRATEGIES, with_mel=False)
    assert "| ground truth | 4.50 ± 0.50 |" in unseen
    assert "best valid mel L1" not in unseen


def test_curve_puts_epochs_on_the_step_axis():
    rows = [
        {"epoch": 0, "valid": {"mel_l1": 3.0}, "test": {}},
        {"epoch": 1, "valid": {"mel_l1": 1.0}, "test": {}},
        {"epoch": 1, "valid": {}, "test": {"mel_l1": 0.9}},
    ]
    assert report.curve(rows, 54, "mel_l1") == ([0, 54], [3.0, 1.0])
