"""Objective evaluation of generated speech, as reported by Kefalas et al. (2024).

Every generated file is compared with its reference: PESQ (wide-band), STOI,
ESTOI and MCD (:mod:`speechbrain_v2s.metrics`); with an ASR model
(:mod:`speechbrain_v2s.asr`), the transcript of the generated speech against
the reference text for WER; with a speaker-embedding model (any SpeechBrain
``EncoderClassifier.from_hparams`` source, e.g. an ECAPA-TDNN folder), the
cosine similarity of the reference's and the generation's embeddings. The
results are one row per utterance and one summary per system, written as CSV,
JSON, a Markdown table and a LaTeX table in the paper's layout (rows =
systems; PESQ, STOI, ESTOI, WER with 95 % confidence intervals, and speaker
similarity when asked for), plus reference-vs-generated mel plots.

Length rule: the generated waveform is cut or zero-padded at its end to the
reference's length (:func:`speechbrain_v2s.metrics.align_lengths`); both
lengths are recorded in every row and mismatches are counted in the summary.

Confidence intervals: 95 % two-sided, Student-t over utterances for the mean
of PESQ, STOI, ESTOI, MCD and speaker similarity; percentile bootstrap over
utterances (1000 resamples, fixed seed) for the corpus-level WER.

    v2s-evaluate --ref-dir data/test_wavs --gen-dir out/ours --system Ours \\
        --gen-dir out/baseline --system Baseline \\
        --asr pocketsphinx:grid --out results --plots 4 --jobs 2

For the built-in synthetic corpus, ``--asr synthetic:<folder>`` uses the CTC
recogniser trained on that corpus (``recipes/Synthetic/ASR``), and
``--speaker-model <ECAPA folder>`` adds the speaker-similarity column.

Example
-------
>>> import os, tempfile, torch
>>> from speechbrain_v2s.audio.io import write_audio
>>> root = tempfile.mkdtemp()
>>> t = torch.arange(24000) / 24000
>>> wav = 0.3 * torch.sin(2 * 3.1416 * 220 * t) * (torch.sin(2 * 3.1416 * 3 * t) > 0)
>>> for d in ("ref", "gen"):
...     write_audio(os.path.join(root, d, "u1.wav"), wav)
>>> pairs = find_pairs(os.path.join(root, "ref"), os.path.join(root, "gen"))
>>> rows = evaluate_pairs(pairs, progress=False)
>>> rows[0]["stoi"] > 0.99, rows[0]["error"]
(True, '')
"""

import argparse
import csv
import json
import logging
import math
import multiprocessing
import os
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from speechbrain_v2s.audio.features import SAMPLE_RATE, compute_mel
from speechbrain_v2s.audio.io import AudioReadError, load_audio
from speechbrain_v2s.metrics import (
    estoi,
    mcd,
    normalise_text,
    pesq,
    speaker_similarity,
    stoi,
    word_errors,
)

PROG = "v2s-evaluate"
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
SILENCE_WORDS = frozenset({"sil", "sp", "<sil>", "sil0"})
METRICS = ("pesq", "stoi", "estoi", "mcd")
TABLE_COLUMNS = (  # the paper's table: key, header, higher is better
    ("pesq", "PESQ", True),
    ("stoi", "STOI", True),
    ("estoi", "ESTOI", True),
    ("wer", "WER (%)", False),
)
SPEAKER_COLUMN = ("speaker_sim", "SpkSim", True)  # with --speaker-model
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
BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.95

logger = logging.getLogger(__name__)


class EvaluationError(ValueError):
    """Unusable evaluation input (missing folder, no pairs, bad manifest).

    Example
    -------
    >>> str(EvaluationError("no pairs"))
    'no pairs'
    """


# ---------------------------------------------------------------- pairing


def _audio_files(root):
    root = Path(root)
    files = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file():
            files[path.relative_to(root).with_suffix("").as_posix()] = path
    return files


def _require_dir(path, what):
    if path is None or not os.path.isdir(path):
        raise EvaluationError(f"{what} folder not found: {path}")


def find_pairs(ref_dir, gen_dir):
    """Pair reference and generated audio files of two folders.

    A reference ``<ref_dir>/s1/bbaf2n.wav`` is matched with the generated
    file of the same relative path without extension
    (``<gen_dir>/s1/bbaf2n.flac`` is fine), or else with the only generated
    file of the same stem anywhere in ``gen_dir``. Files on either side
    without a partner are left out and counted in the log.

    Arguments
    ---------
    ref_dir : str
        Reference audio folder (searched recursively).
    gen_dir : str
        Generated audio folder (searched recursively).

    Returns
    -------
    list of dict
        ``{"id", "ref", "gen"}`` with ``id`` the reference's relative path
        without extension, sorted by id.

    Raises
    ------
    EvaluationError
        A missing folder.

    Example
    -------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for f in ("r/s1/a.wav", "r/s1/b.wav", "g/a.wav"):
    ...     (root / f).parent.mkdir(parents=True, exist_ok=True)
    ...     (root / f).touch()
    >>> [p["id"] for p in find_pairs(root / "r", root / "g")]
    ['s1/a']
    """
    _require_dir(ref_dir, "reference")
    _require_dir(gen_dir, "generated")
    refs, gens = _audio_files(ref_dir), _audio_files(gen_dir)
    by_stem = {}
    for key, path in gens.items():
        by_stem.setdefault(path.stem, []).append(key)
    pairs, used = [], set()
    for key, ref in refs.items():
        match = key if key in gens else None
        if match is None and len(by_stem.get(ref.stem, ())) == 1:
            match = by_stem[ref.stem][0]
        if match is not None and match not in used:
            used.add(match)
            pairs.append({"id": key, "ref": str(ref), "gen": str(gens[match])})
    if len(pairs) < len(refs) or len(used) < len(gens):
        logger.warning(
            "%s: %d references and %d generated files have no partner",
            gen_dir,
            len(refs) - len(pairs),
            len(gens) - len(used),
        )
    return pairs


def _read_manifest(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError as err:
        raise EvaluationError(f"manifest not found: {path}") from err
    except (OSError, json.JSONDecodeError) as err:
        raise EvaluationError(f"cannot read manifest {path}: {err}") from err
    if not isinstance(data, dict) or not all(
        isinstance(v, dict) for v in data.values()
    ):
        raise EvaluationError(
            f"manifest {path} is not a SpeechBrain JSON manifest "
            "({id: {field: value}})"
        )
    return data


def _fill_root(value, data_root):
    value = str(value)
    if data_root is not None:
        for key in ("{data_root}", "$data_root", "{root}", "$root"):
            value = value.replace(key, str(data_root))
    return value


def pairs_from_manifest(manifest, gen_dir, data_root=None):
    """Pairs from a SpeechBrain JSON manifest and a folder of generated audio.

    The manifest's ``wav`` field is the reference (``{data_root}`` or
    ``$data_root`` placeholders are filled with ``data_root``); the generated
    file is looked up in ``gen_dir`` as ``<id>.<ext>``, then
    ``<speaker folder>/<stem>.<ext>``, then ``<stem>.<ext>``. Every manifest
    entry is part of the test set: one without a generated file is kept, with
    ``gen`` empty, and reported as an error row by :func:`evaluate_pairs`.
    Texts in ``text``, ``wrd`` or ``words`` are returned as ``ref_text``.

    Arguments
    ---------
    manifest : str
        JSON manifest path.
    gen_dir : str
        Generated audio folder.
    data_root : str, optional
        Value of the ``data_root`` placeholder.

    Returns
    -------
    list of dict
        ``{"id", "ref", "gen"}`` (plus ``"ref_text"`` when the entry has one).

    Example
    -------
    >>> import json, os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> m = os.path.join(root, "test.json")
    >>> entry = {"wav": "{data_root}/s1/a.wav", "text": "Bin blue"}
    >>> json.dump({"s1_a": entry}, open(m, "w"))
    >>> pairs_from_manifest(m, root, data_root="/d")[0]["ref_text"]
    'Bin blue'
    """
    _require_dir(gen_dir, "generated")
    data = _read_manifest(manifest)
    gens = _audio_files(gen_dir)
    pairs = []
    for key, entry in data.items():
        if "wav" not in entry:
            raise EvaluationError(f"manifest {manifest}: entry {key} has no 'wav'")
        ref = Path(_fill_root(entry["wav"], data_root))
        candidates = (str(key), f"{ref.parent.name}/{ref.stem}", ref.stem)
        gen = next((gens[c] for c in candidates if c in gens), None)
        pair = {"id": str(key), "ref": str(ref), "gen": str(gen) if gen else ""}
        text = _entry_text(entry)
        if text is not None:
            pair["ref_text"] = text
        pairs.append(pair)
    return pairs


def _entry_text(entry):
    for field in ("text", "wrd", "words", "transcript"):
        if entry.get(field) is not None:
            return str(entry[field])
    return None


def reference_files(manifest=None, ref_dir=None, data_root=None):
    """Reference audio files by the ids evaluation pairs them with.

    Arguments
    ---------
    manifest : str, optional
        SpeechBrain JSON manifest: ids are its keys, files its ``wav`` field
        (placeholders filled with ``data_root``).
    ref_dir : str, optional
        Reference folder (when there is no manifest): ids are the files'
        relative paths without extension, as in :func:`find_pairs`.
    data_root : str, optional
        Value of the ``data_root`` placeholder.

    Returns
    -------
    dict
        ``{id: path}``.

    Example
    -------
    >>> import json, os, tempfile
    >>> m = os.path.join(tempfile.mkdtemp(), "test.json")
    >>> json.dump({"s1_a": {"wav": "{data_root}/s1/a.wav"}}, open(m, "w"))
    >>> reference_files(manifest=m, data_root="/d")
    {'s1_a': '/d/s1/a.wav'}
    """
    if manifest is not None:
        files = {}
        for key, entry in _read_manifest(manifest).items():
            if "wav" not in entry:
                raise EvaluationError(f"manifest {manifest}: entry {key} has no 'wav'")
            files[str(key)] = _fill_root(entry["wav"], data_root)
        return files
    _require_dir(ref_dir, "reference")
    return {key: str(path) for key, path in _audio_files(ref_dir).items()}


def load_synthesizer(source, savedir=None):
    """A model folder or Hub id, loaded as a V2A model
    (:class:`~speechbrain_v2s.inference.VideoToSpeech`) or, when it has no
    ROI statistics, an A2A one (:class:`~speechbrain_v2s.inference.AudioToAudio`):
    both give the folder's mel-to-wave path (``vocode``).

    Raises
    ------
    EvaluationError
        A model that does not load (with the reason).

    Example
    -------
    >>> load_synthesizer("/no/such/model")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.evaluation.EvaluationError: model folder not found: /no/such/model
    """
    from speechbrain_v2s.inference import AudioToAudio, VideoToSpeech

    source = str(source)
    local = os.path.isabs(source) or source.startswith((".", "~"))
    if (local or source.count("/") > 1) and not os.path.isdir(source):
        raise EvaluationError(f"model folder not found: {source}")
    try:
        try:
            return VideoToSpeech.from_hparams(source=source, savedir=savedir)
        except ValueError as err:  # no roi_mean/roi_std: an A2A folder
            if "Need hparams" not in str(err):
                raise
            return AudioToAudio.from_hparams(source=source, savedir=savedir)
    except Exception as err:  # noqa: BLE001 - any failure: one clear message
        raise EvaluationError(
            f"cannot load model {source!r}: {type(err).__name__}: {err}"
        ) from err


def write_vocoder_ceiling(model, references, out_dir, savedir=None, overwrite=False):
    """The mel family's ceiling as a system: ``<out_dir>/<id>.wav`` for each
    reference, its mel (:func:`compute_mel`, the models' training target)
    through the model folder's own mel-to-wave path (its vocoder, or
    Griffin-Lim when it ships none).

    Scored against the real audio, this row says how much of a mel model's
    distance to the ground truth the vocoder alone costs: a model that
    predicted the reference mel exactly would score this.

    Arguments
    ---------
    model : str or speechbrain_v2s.inference.VideoToSpeech
        Mel-family model folder / Hub id, or a loaded interface
        (``AudioToAudio`` too).
    references : dict
        ``{id: reference audio path}`` (:func:`reference_files`).
    out_dir : str
        Output folder; ids with ``/`` become subfolders.
    savedir : str, optional
        Where ``from_hparams`` puts the model when ``model`` is a source.
    overwrite : bool
        Re-vocode files that exist (default: keep them, so re-runs are cheap).

    Returns
    -------
    str
        The row's name, ``"ground truth (mel + <vocoder>)"``.

    Raises
    ------
    EvaluationError
        A model that does not load or outputs waveforms (no vocoder gap).

    Example
    -------
    >>> import os, tempfile, torch
    >>> from speechbrain_v2s.audio.io import write_audio
    >>> from speechbrain_v2s.export import export_architecture
    >>> from speechbrain_v2s.inference import VideoToSpeech
    >>> root = tempfile.mkdtemp()
    >>> arch = os.path.join(os.path.dirname(os.path.dirname(__file__)),
    ...                     "hparams", "tiny_mel.yaml")
    >>> _ = export_architecture(arch, os.path.join(root, "model"))
    >>> v2s = VideoToSpeech.from_hparams(source=os.path.join(root, "model"),
    ...                                  savedir=os.path.join(root, "model"))
    >>> del v2s.mods["vocoder"]  # Griffin-Lim, as in a folder without one
    >>> write_audio(os.path.join(root, "ref", "u1.wav"), torch.randn(4800) * 0.1)
    >>> refs = reference_files(ref_dir=os.path.join(root, "ref"))
    >>> write_vocoder_ceiling(v2s, refs, os.path.join(root, "ceiling"))
    'ground truth (mel + Griffin-Lim)'
    >>> os.listdir(os.path.join(root, "ceiling"))
    ['u1.wav']
    """
    from speechbrain_v2s.audio.io import write_audio

    if isinstance(model, str | os.PathLike):
        model = load_synthesizer(model, savedir)
    try:
        name = f"ground truth (mel + {model.vocoder_name})"
    except ValueError as err:
        raise EvaluationError(f"no vocoder ceiling: {err}") from err
    for key, ref in references.items():
        path = os.path.join(out_dir, f"{key}.wav")
        if os.path.isfile(path) and not overwrite:
            continue
        try:
            wav = load_audio(ref, SAMPLE_RATE)
        except AudioReadError as err:
            # Left out: the evaluation reports the missing file as its row.
            logger.warning("vocoder ceiling: %s", err)
            continue
        write_audio(path, model.vocode_audio(wav), SAMPLE_RATE)
    return name


# ---------------------------------------------------------------- transcripts


def read_align(path):
    """The words of a GRID ``.align`` file (``start end word``), silences dropped.

    Example
    -------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "bbaf2n.align")
    >>> _ = open(p, "w").write("0 100 sil\\n100 200 bin\\n200 300 blue\\n300 400 sp\\n")
    >>> read_align(p)
    'bin blue'
    """
    words = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2].lower() not in SILENCE_WORDS:
                words.append(parts[2])
            elif len(parts) == 1 and parts[0].lower() not in SILENCE_WORDS:
                words.append(parts[0])
    return " ".join(words)


def load_transcripts(manifest):
    """Reference texts from a JSON manifest, keyed several ways for matching.

    Each entry's text (``text``, ``wrd``, ``words`` or ``transcript``) is
    stored under its id, the stem of its ``wav`` and ``<speaker>/<stem>``.

    Example
    -------
    >>> import json, os, tempfile
    >>> m = os.path.join(tempfile.mkdtemp(), "t.json")
    >>> json.dump({"s1_a": {"wav": "/x/s1/a.wav", "wrd": "BIN BLUE"}}, open(m, "w"))
    >>> sorted(load_transcripts(m))
    ['a', 's1/a', 's1_a']
    """
    texts = {}
    for key, entry in _read_manifest(manifest).items():
        text = _entry_text(entry)
        if text is None:
            continue
        texts[str(key)] = text
        if "wav" in entry:
            wav = Path(str(entry["wav"]))
            texts.setdefault(f"{wav.parent.name}/{wav.stem}", text)
            texts.setdefault(wav.stem, text)
    return texts


def find_transcript(ref_path):
    """Reference text stored next to a reference audio file, or ``None``.

    Looks for ``<stem>.txt`` and ``<stem>.align`` beside the file, then for a
    GRID ``align`` folder beside one of its parent folders
    (``<corpus>/audio_25k/s1/x.wav`` -> ``<corpus>/align/s1/x.align``).

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "align", "s1"))
    >>> p = os.path.join(root, "align", "s1", "x.align")
    >>> _ = open(p, "w").write("0 5 sil\\n5 9 bin\\n")
    >>> find_transcript(os.path.join(root, "audio_25k", "s1", "x.wav"))
    'bin'
    """
    ref = Path(ref_path)
    txt = ref.with_suffix(".txt")
    if txt.is_file():
        return txt.read_text(encoding="utf-8").strip()
    candidates = [ref.with_suffix(".align")]
    tail = [ref.stem + ".align"]
    for parent in list(ref.parents)[:3]:
        candidates.append(parent.parent / "align" / Path(*tail))
        tail.insert(0, parent.name)
    for path in candidates:
        if path.is_file():
            return read_align(path)
    return None


def attach_transcripts(pairs, transcripts=None):
    """Give each pair a ``ref_text`` (manifest first, then files beside it).

    Arguments
    ---------
    pairs : list of dict
        From :func:`find_pairs` or :func:`pairs_from_manifest`.
    transcripts : dict, optional
        From :func:`load_transcripts`; matched by id, ``<speaker>/<stem>``,
        stem.

    Returns
    -------
    int
        How many pairs have a reference text.

    Example
    -------
    >>> pairs = [{"id": "s1/a", "ref": "/nowhere/s1/a.wav", "gen": ""}]
    >>> attach_transcripts(pairs, {"a": "bin blue"}), pairs[0]["ref_text"]
    (1, 'bin blue')
    """
    found = 0
    for pair in pairs:
        if pair.get("ref_text") is None and transcripts:
            ref = Path(pair["ref"])
            for key in (pair["id"], f"{ref.parent.name}/{ref.stem}", ref.stem):
                if key in transcripts:
                    pair["ref_text"] = transcripts[key]
                    break
        if pair.get("ref_text") is None:
            pair["ref_text"] = find_transcript(pair["ref"])
        found += pair["ref_text"] is not None
    return found


# ---------------------------------------------------------------- scoring


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
        (:func:`find_pairs`, :func:`pairs_from_manifest`).
    asr : speechbrain_v2s.asr.Transcriber, optional
        Speech recogniser for WER.
    transcripts : dict, optional
        Reference texts (:func:`load_transcripts`); pairs without one also
        look for ``.txt``/``.align`` files beside the reference.
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


def make_speaker_model(source, savedir=None):
    """The speaker embedder of ``--speaker-model``: a ``from_hparams`` source.

    Any SpeechBrain ``EncoderClassifier`` model (e.g. an ECAPA-TDNN folder or
    Hub id) through :class:`speechbrain_v2s.nnet.speaker.SpeakerEmbedder`,
    which resamples the 24 kHz audio to the model's 16 kHz.

    Raises
    ------
    EvaluationError
        A missing folder, or a model that does not load (with the reason).

    Example
    -------
    >>> make_speaker_model("/no/spk")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.evaluation.EvaluationError: speaker model folder not found: /no/spk
    """
    from speechbrain_v2s.nnet.speaker import SpeakerEmbedder

    source = str(source)
    local = os.path.isabs(source) or source.startswith((".", "~"))
    if (local or source.count("/") > 1) and not os.path.isdir(source):
        raise EvaluationError(f"speaker model folder not found: {source}")
    if os.path.isdir(source) and not os.path.isfile(
        os.path.join(source, "hyperparams.yaml")
    ):
        raise EvaluationError(f"speaker model folder has no hyperparams.yaml: {source}")
    try:
        return SpeakerEmbedder(source, savedir=savedir)
    except Exception as err:  # noqa: BLE001 - any failure: one clear message
        raise EvaluationError(
            f"cannot load speaker model {source!r}: {type(err).__name__}: {err}"
        ) from err


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


# ---------------------------------------------------------------- summary


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


# ---------------------------------------------------------------- output


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
        ``{name: summary}`` with summaries from :func:`summarise`.
    columns : sequence of (str, str, bool)
        Metric key, header and whether higher is better.

    Returns
    -------
    str

    Example
    -------
    >>> s = {"pesq": {"mean": 1.5, "ci95": 0.1}, "stoi": {"mean": 0.6, "ci95": 0.02},
    ...      "estoi": {"mean": 0.4, "ci95": 0.03}, "wer": {"mean": 20.0, "ci95": 3.0}}
    >>> print(markdown_table({"Ours": s}))
    | System | PESQ ↑ | STOI ↑ | ESTOI ↑ | WER (%) ↓ |
    |---|---|---|---|---|
    | Ours | 1.50 ± 0.10 | 0.600 ± 0.020 | 0.400 ± 0.030 | 20.0 ± 3.0 |
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
        ``{name: summary}`` with summaries from :func:`summarise`.
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


# ---------------------------------------------------------------- CLI


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser():
    p = _Parser(
        prog=PROG,
        description="Score generated speech against references: PESQ, STOI, "
        "ESTOI, MCD and WER, per utterance and as the paper's table.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--ref-dir", help="reference audio folder")
    src.add_argument(
        "--manifest", help="SpeechBrain JSON manifest; its 'wav' is the reference"
    )
    p.add_argument(
        "--gen-dir",
        action="append",
        required=True,
        help="generated audio folder (repeat for several systems)",
    )
    p.add_argument(
        "--system",
        action="append",
        help="system name for each --gen-dir, in order (default: folder name)",
    )
    p.add_argument("--data-root", help="fills {data_root} in the manifest's paths")
    p.add_argument(
        "--asr",
        help="ASR for WER: pocketsphinx, pocketsphinx:grid (real GRID speech), "
        "synthetic:<folder> (the synthetic corpus's CTC model from "
        "recipes/Synthetic/ASR), or a SpeechBrain from_hparams source "
        "(default: no WER)",
    )
    p.add_argument(
        "--speaker-model",
        metavar="SOURCE",
        help="speaker-embedding model (SpeechBrain EncoderClassifier from_hparams "
        "source, e.g. an ECAPA-TDNN folder): adds the cosine similarity of "
        "reference and generated speaker embeddings (default: none)",
    )
    p.add_argument(
        "--transcripts", help="JSON manifest with reference texts (text/wrd field)"
    )
    p.add_argument(
        "--vocoder-ceiling",
        metavar="MODEL",
        help="mel-family model folder or Hub id: adds the row 'ground truth (mel "
        "+ <vocoder>)', each reference's mel through that model's vocoder (or "
        "Griffin-Lim when it ships none), written to <out>/vocoder_ceiling/: the "
        "part of the gap to the ground truth that is the vocoder's",
    )
    p.add_argument("--out", default="evaluation", help="results folder")
    p.add_argument(
        "--plots", type=int, default=0, help="mel plots for the first N pairs"
    )
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _system_names(args):
    names = args.system or []
    if names and len(names) != len(args.gen_dir):
        raise EvaluationError(
            f"{len(names)} --system names for {len(args.gen_dir)} --gen-dir folders"
        )
    names = names or [Path(g).resolve().name or str(g) for g in args.gen_dir]
    if len(set(names)) != len(names):
        raise EvaluationError(f"system names must differ: {', '.join(names)}")
    return names


def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _safe_name(text):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text))


def run(args):
    """Run the evaluation for parsed ``args``; returns ``{system: summary}``.

    Writes ``per_utterance.csv`` and ``summary.json``/``.md``/``.tex`` to
    ``args.out`` and prints the Markdown table.

    Example
    -------
    >>> import contextlib, io, os, tempfile, torch
    >>> from speechbrain_v2s.audio.io import write_audio
    >>> root = tempfile.mkdtemp()
    >>> t = torch.arange(12000) / 24000
    >>> wav = 0.3 * torch.sin(2 * 3.1416 * 220 * t)
    >>> for d in ("ref", "gen"):
    ...     write_audio(os.path.join(root, d, "u1.wav"), wav)
    >>> out = os.path.join(root, "results")
    >>> args = _parser().parse_args(["--ref-dir", os.path.join(root, "ref"),
    ...     "--gen-dir", os.path.join(root, "gen"), "--system", "Copy",
    ...     "--out", out, "--no-progress"])
    >>> with contextlib.redirect_stdout(io.StringIO()) as table:
    ...     summaries = run(args)
    >>> s = summaries["Copy"]
    >>> s["utterances"], s["failed"], s["stoi"]["mean"] > 0.99
    (1, 0, True)
    >>> "| Copy |" in table.getvalue(), sorted(os.listdir(out))
    (True, ['per_utterance.csv', 'summary.json', 'summary.md', 'summary.tex'])
    >>> args.system = ["A", "B"]  # two names for one --gen-dir
    >>> run(args)
    Traceback (most recent call last):
    ...
    speechbrain_v2s.evaluation.EvaluationError: 2 --system names for 1 --gen-dir folders
    """
    from speechbrain_v2s.asr import TranscriberError, make_transcriber

    names, gen_dirs = _system_names(args), list(args.gen_dir)
    if args.jobs < 1 or args.plots < 0:
        raise EvaluationError("--jobs must be >= 1 and --plots >= 0")
    if getattr(args, "vocoder_ceiling", None):
        # The first row: the best any mel model with this vocoder can score.
        folder = os.path.join(args.out, "vocoder_ceiling")
        name = write_vocoder_ceiling(
            args.vocoder_ceiling,
            reference_files(args.manifest, args.ref_dir, args.data_root),
            folder,
            savedir=os.path.join(args.out, "vocoder_ceiling_model"),
            overwrite=True,  # never a previous run's model
        )
        if name in names:
            raise EvaluationError(f"system names must differ: {name!r} is taken")
        names, gen_dirs = [name] + names, [folder] + gen_dirs
    transcripts = load_transcripts(args.transcripts) if args.transcripts else None
    all_pairs = {}
    for name, gen_dir in zip(names, gen_dirs):
        if args.manifest:
            pairs = pairs_from_manifest(args.manifest, gen_dir, args.data_root)
        else:
            pairs = find_pairs(args.ref_dir, gen_dir)
        if not pairs:
            ref = args.manifest or args.ref_dir
            raise EvaluationError(f"no matching audio files in {ref} and {gen_dir}")
        all_pairs[name] = pairs
    try:
        asr = make_transcriber(args.asr)
    except TranscriberError as err:
        raise EvaluationError(f"--asr {args.asr}: {err}") from err
    if asr is not None:
        for pairs in all_pairs.values():
            if attach_transcripts(pairs, transcripts) == 0:
                raise EvaluationError(
                    "--asr given but no reference texts found (use --transcripts, "
                    "a manifest 'text' field, or .txt/.align files)"
                )
    speaker_model = None
    if args.speaker_model:
        speaker_model = make_speaker_model(args.speaker_model)
    columns = TABLE_COLUMNS + ((SPEAKER_COLUMN,) if speaker_model else ())
    os.makedirs(args.out, exist_ok=True)
    summaries, all_rows = {}, []
    for name, pairs in all_pairs.items():
        rows = evaluate_pairs(
            pairs,
            asr,
            transcripts,
            jobs=args.jobs,
            progress=not args.no_progress,
            speaker_model=speaker_model,
        )
        for row in rows:
            row["system"] = name
        all_rows.extend(rows)
        summaries[name] = summarise(rows)
        if summaries[name]["failed"]:
            logger.warning(
                "%s: %d of %d pairs failed (see 'error' in per_utterance.csv)",
                name,
                summaries[name]["failed"],
                len(rows),
            )
        for row in [r for r in rows if not r["error"]][: args.plots]:
            target = Path(args.out, "plots", _safe_name(name), _safe_name(row["id"]))
            plot_mels(
                row["ref"], row["gen"], str(target) + ".png", f"{name}: {row['id']}"
            )
    write_csv(all_rows, os.path.join(args.out, "per_utterance.csv"))
    report = {
        "systems": summaries,
        "asr": repr(asr) if asr is not None else None,
        "speaker_model": args.speaker_model,
        "reference": args.manifest or args.ref_dir,
        "generated": dict(zip(names, gen_dirs)),
    }
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(_json_safe(report), f, indent=2, ensure_ascii=False)
    table = markdown_table(summaries, columns)
    with open(os.path.join(args.out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n\n" + next(iter(summaries.values()))["ci_method"] + "\n")
    with open(os.path.join(args.out, "summary.tex"), "w", encoding="utf-8") as f:
        f.write(latex_table(summaries, columns) + "\n")
    print(table)
    return summaries


def main(argv=None):
    """``v2s-evaluate`` entry point; returns the exit code (2 on bad input).

    Example
    -------
    >>> main(["--ref-dir", "/no/such/ref", "--gen-dir", "/no/such/gen"])
    2
    """
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
    args = _parser().parse_args(argv)
    try:
        run(args)
    except EvaluationError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
