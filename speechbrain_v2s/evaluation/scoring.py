"""Scoring generated speech against its reference, one row per utterance:
PESQ, STOI, ESTOI and MCD, WER with an ASR model, speaker similarity with a
speaker-embedding model; optionally in worker processes.
"""

import math
import multiprocessing

import torch
from tqdm import tqdm

from speechbrain_v2s.audio.features import SAMPLE_RATE
from speechbrain_v2s.audio.io import AudioReadError, load_audio
from speechbrain_v2s.evaluation.references import attach_transcripts
from speechbrain_v2s.metrics import (
    estoi,
    mcd,
    normalise_text,
    pesq,
    speaker_similarity,
    stoi,
    word_errors,
)

METRICS = ("pesq", "stoi", "estoi", "mcd")
CSV_FIELDS = (
    "system",
    "id",
    "ref",
    "gen",
    "ref_samples",
    "gen_samples",
    "length_diff_ms",
    "pesq",
    "stoi",
    "estoi",
    "mcd",
    "speaker_sim",
    "ref_text",
    "hyp",
    "word_errors",
    "ref_words",
    "wer",
    "error",
)


def _empty_row(pair):
    row = {field: "" for field in CSV_FIELDS}
    row.update(id=pair["id"], ref=pair["ref"], gen=pair.get("gen", ""))
    for key in METRICS + ("wer", "speaker_sim"):
        row[key] = math.nan
    row["ref_text"] = pair.get("ref_text") or ""
    return row


def _score_pair(pair, asr=None):
    """One row of :func:`evaluate_pairs`; never raises for a bad file."""
    row = _empty_row(pair)
    try:
        if not pair.get("gen"):
            row["error"] = f"{pair['id']}: no generated file found"
            return row
        ref = load_audio(pair["ref"], SAMPLE_RATE)
        gen = load_audio(pair["gen"], SAMPLE_RATE)
    except AudioReadError as err:
        row["error"] = str(err)
        return row
    row["ref_samples"] = int(ref.shape[-1])
    row["gen_samples"] = int(gen.shape[-1])
    row["length_diff_ms"] = round(
        1000.0 * (gen.shape[-1] - ref.shape[-1]) / SAMPLE_RATE, 3
    )
    try:
        row["pesq"] = pesq(gen, ref)
        row["stoi"] = stoi(gen, ref)
        row["estoi"] = estoi(gen, ref)
        row["mcd"] = mcd(gen, ref)
        if asr is not None:
            row["hyp"] = asr.transcribe(gen, SAMPLE_RATE)
    except Exception as err:  # noqa: BLE001 - one bad pair never stops a run
        row["error"] = f"metric failed: {type(err).__name__}: {err}"
    _fill_wer(row, asr is not None)
    return row


def _fill_wer(row, have_hyp):
    if have_hyp and pair_has_text(row) and not row["error"]:
        errors, n_ref = word_errors(row["hyp"], row["ref_text"])
        row["word_errors"], row["ref_words"] = errors, n_ref
        row["wer"] = 100.0 * errors / n_ref if n_ref else math.nan


def pair_has_text(row):
    """Whether a pair/row has a non-empty reference text.

    Example
    -------
    >>> pair_has_text({"ref_text": " "}), pair_has_text({"ref_text": "bin"})
    (False, True)
    """
    return bool(normalise_text(row.get("ref_text") or ""))


_WORKER_ASR = None


def _init_worker(asr):
    global _WORKER_ASR
    torch.set_num_threads(1)  # the processes are the parallelism
    _WORKER_ASR = asr


def _worker(item):
    index, pair = item
    return index, _score_pair(pair, _WORKER_ASR)


def evaluate_pairs(
    pairs, asr=None, transcripts=None, jobs=1, progress=True, speaker_model=None
):
    """Score every (reference, generated) pair; one row per pair, in order.

    A file that cannot be read (missing, corrupt, empty) gives a row with
    ``error`` set to the file and the reason and ``nan`` scores; the run goes
    on. With ``asr``, the generated audio is transcribed (``hyp``) and
    compared with the pair's reference text for WER.

    Arguments
    ---------
    pairs : list of dict
        ``{"id", "ref", "gen"}`` and optionally ``"ref_text"``
        (:func:`~speechbrain_v2s.evaluation.find_pairs`,
        :func:`~speechbrain_v2s.evaluation.pairs_from_manifest`).
    asr : speechbrain_v2s.asr.Transcriber, optional
        Speech recogniser for WER.
    transcripts : dict, optional
        Reference texts
        (:func:`~speechbrain_v2s.evaluation.load_transcripts`); pairs
        without one also look for ``.txt``/``.align`` files beside the
        reference.
    jobs : int
        Worker processes (metrics are CPU bound); 1 runs here.
    progress : bool
        Show a tqdm progress bar.
    speaker_model : callable, optional
        Speaker embedder, ``wav[batch, samples] at 24 kHz -> [batch, emb]``
        (e.g. :func:`make_speaker_model`); run in this process. Gives
        ``speaker_sim``, the cosine similarity of the reference's and the
        generation's embeddings (both whole, no length alignment).

    Returns
    -------
    list of dict
        Keys of :data:`CSV_FIELDS` (``system`` empty): lengths in samples at
        24 kHz, ``length_diff_ms`` (generated minus reference), ``pesq``,
        ``stoi``, ``estoi``, ``mcd`` (dB), ``speaker_sim`` (``nan`` without
        ``speaker_model``), ``ref_text``, ``hyp``, ``word_errors``,
        ``ref_words``, ``wer`` (%), ``error``.

    Example
    -------
    >>> rows = evaluate_pairs([{"id": "x", "ref": "/no/r.wav", "gen": "/no/g.wav"}],
    ...                       progress=False)
    >>> rows[0]["error"]
    '/no/r.wav: file not found'
    """
    pairs = [dict(p) for p in pairs]
    if asr is not None or transcripts:
        attach_transcripts(pairs, transcripts)
    in_workers = asr if asr is None or getattr(asr, "parallel_safe", False) else None
    rows = [None] * len(pairs)
    jobs = max(1, min(int(jobs or 1), len(pairs)))
    bar = tqdm(total=len(pairs), desc="evaluate", unit="utt", disable=not progress)
    try:
        if jobs == 1:
            for i, pair in enumerate(pairs):
                rows[i] = _score_pair(pair, in_workers)
                bar.update(1)
        else:
            # spawn: forked children of a process with torch threads can hang.
            context = multiprocessing.get_context("spawn")
            with context.Pool(jobs, _init_worker, (in_workers,)) as pool:
                for i, row in pool.imap_unordered(_worker, list(enumerate(pairs))):
                    rows[i] = row
                    bar.update(1)
    finally:
        bar.close()
    if asr is not None and in_workers is None:
        _transcribe_here(rows, asr, progress)
    if speaker_model is not None:
        _speaker_similarity_here(rows, speaker_model, progress)
    return rows


def _speaker_similarity_here(rows, speaker_model, progress):
    """Speaker similarity in this process (embedders are not sent to workers)."""
    todo = [r for r in rows if not r["error"]]
    for row in tqdm(todo, desc="speaker", unit="utt", disable=not progress):
        try:
            ref = load_audio(row["ref"], SAMPLE_RATE)
            gen = load_audio(row["gen"], SAMPLE_RATE)
            row["speaker_sim"] = speaker_similarity(gen, ref, speaker_model)
        except Exception as err:  # noqa: BLE001 - one bad pair never stops a run
            row["error"] = f"speaker model failed: {type(err).__name__}: {err}"


def _transcribe_here(rows, asr, progress):
    """ASR in this process, for models that are not sent to workers."""
    todo = [r for r in rows if not r["error"]]
    for row in tqdm(todo, desc="asr", unit="utt", disable=not progress):
        try:
            row["hyp"] = asr.transcribe(load_audio(row["gen"], SAMPLE_RATE))
        except Exception as err:  # noqa: BLE001
            row["error"] = f"asr failed: {type(err).__name__}: {err}"
            continue
        _fill_wer(row, True)
