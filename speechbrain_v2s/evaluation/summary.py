"""Per-system summaries: means with Student-t intervals, corpus WER with a
bootstrap interval, failure and length-mismatch counts.
"""

import math

import numpy as np

from speechbrain_v2s.evaluation.scoring import METRICS

BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.95


def _finite(values):
    out = []
    for v in values:
        try:
            v = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(v):
            out.append(v)
    return np.asarray(out, dtype=np.float64)


def mean_ci(values, confidence=CONFIDENCE):
    """Mean and half-width of its Student-t confidence interval.

    Non-finite values are ignored; the half-width is ``nan`` with fewer than
    two values.

    Example
    -------
    >>> m, h = mean_ci([1.0, 2.0, 3.0])
    >>> m, round(h, 3)
    (2.0, 2.484)
    """
    from scipy import stats

    x = _finite(values)
    if x.size == 0:
        return math.nan, math.nan
    if x.size == 1:
        return float(x[0]), math.nan
    sem = x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean()), float(sem * stats.t.ppf(0.5 + confidence / 2, x.size - 1))


def corpus_wer_ci(errors, words, resamples=BOOTSTRAP_RESAMPLES, seed=0):
    """Corpus WER (%) and the half-width of its percentile bootstrap 95 % CI.

    Utterances are resampled with replacement; each resample's WER is total
    errors over total reference words. The reported half-width is half the
    distance between the 2.5th and 97.5th percentiles.

    Example
    -------
    >>> w, h = corpus_wer_ci([0, 1, 2, 3], [6, 6, 6, 6])
    >>> w, 0 < h < 20
    (25.0, True)
    """
    e, n = np.asarray(errors, dtype=np.float64), np.asarray(words, dtype=np.float64)
    if n.sum() <= 0:
        return math.nan, math.nan
    value = float(100.0 * e.sum() / n.sum())
    if e.size < 2:
        return value, math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, e.size, size=(resamples, e.size))
    tot_n = n[idx].sum(1)
    ok = tot_n > 0
    boot = 100.0 * e[idx].sum(1)[ok] / tot_n[ok]
    low, high = np.percentile(boot, [2.5, 97.5])
    return value, float((high - low) / 2)


def summarise(rows):
    """Per-metric mean and 95 % confidence interval over utterances.

    PESQ, STOI, ESTOI and MCD: mean over the utterances where the metric is
    defined (PESQ is ``nan`` where it finds no speech; ``n`` says how many),
    Student-t interval. WER: corpus level (all word errors over all
    reference words) with a percentile bootstrap interval.

    Speaker similarity (``speaker_sim``, when rows have it): mean with a
    Student-t interval, like PESQ.

    Returns
    -------
    dict
        ``{metric: {"mean", "ci95", "n"}}`` for the metrics, ``speaker_sim``
        and ``wer``, plus
        ``utterances``, ``failed`` (rows with an error), ``length_mismatches``
        (rows whose lengths differ), ``mean_abs_length_diff_ms`` and
        ``ci_method``.

    Example
    -------
    >>> rows = [{"pesq": 4.0, "stoi": 1.0, "estoi": 1.0, "mcd": 0.0,
    ...          "word_errors": 0, "ref_words": 6, "error": "",
    ...          "length_diff_ms": 0.0}] * 3
    >>> s = summarise(rows)
    >>> s["pesq"]["mean"], s["wer"]["mean"], s["failed"]
    (4.0, 0.0, 0)
    """
    ok = [r for r in rows if not r.get("error")]
    out = {}
    for key in METRICS + ("speaker_sim",):
        mean, ci = mean_ci([r.get(key) for r in ok])
        out[key] = {
            "mean": mean,
            "ci95": ci,
            "n": int(_finite(r.get(key) for r in ok).size),
        }
    scored = [r for r in ok if r.get("ref_words") not in ("", None)]
    errors = [int(r["word_errors"]) for r in scored]
    words = [int(r["ref_words"]) for r in scored]
    wer_value, wer_ci = corpus_wer_ci(errors, words)
    out["wer"] = {"mean": wer_value, "ci95": wer_ci, "n": len(scored)}
    diffs = _finite(r.get("length_diff_ms") for r in ok)
    out["utterances"] = len(rows)
    out["failed"] = len(rows) - len(ok)
    out["length_mismatches"] = int(np.count_nonzero(diffs))
    out["mean_abs_length_diff_ms"] = float(np.abs(diffs).mean()) if diffs.size else 0.0
    out["ci_method"] = (
        "95% CI half-widths: Student-t over utterances for PESQ/STOI/ESTOI/MCD "
        "(and speaker similarity) means; percentile bootstrap "
        f"({BOOTSTRAP_RESAMPLES} utterance resamples, seed 0) for corpus-level WER"
    )
    return out
