"""The built-in synthetic corpora: espeak-ng speech with matching mouth videos.

Nothing can be downloaded on the project's machines, so demos, tests and CI
train on a corpus made here. Speakers are espeak-ng voices (accent, variant,
pitch, rate) with a drawn mouth (:mod:`~speechbrain_v2s.synthetic.mouth_render`);
sentences follow the GRID grammar; the mouth moves with the phoneme timeline
espeak reports (:mod:`~speechbrain_v2s.synthetic.visemes`), so the video carries
the speech content a V2A model has to learn.

Audio-visual corpus (GRID's release layout, read by ``grid_prepare.py``)::

    <out>/s1/bbaf2n.mpg               silent 25 fps MPEG-1, 88x88 grayscale
    <out>/audio_25k/s1/bbaf2n.wav     16-bit mono, 24 kHz (--sample-rate)
    <out>/align/s1/bbaf2n.align       "start end word", 1/25,000 s, sil/sp
    <out>/meta/s1/bbaf2n.json         phonemes, words, per-frame mouth shape
    <out>/speakers.json               speaker profiles
    <out>/corpus.json                 summary (written last: the corpus is complete)

:func:`ensure_corpus` generates a corpus only when its ``corpus.json`` is missing.

Audio-only corpus (``--audio-only``, read by ``audio_prepare.py``'s ``folder``
layout)::

    <out>/a1/u0001.wav + u0001.txt    GRID and free sentences, transcript
    <out>/meta/a1/u0001.json, <out>/speakers.json, <out>/corpus.json

Everything is determined by the seed: every utterance has its own seed derived
from ``(seed, speaker, utterance)`` and espeak starts from a fresh state for
each utterance, so ``--jobs`` changes the speed, never the files. Existing files
of the same names are overwritten; other files in ``<out>`` are left alone.

    v2s-synth-corpus --output corpus_av --speakers 6 --utterances-per-speaker 20
    v2s-synth-corpus --output corpus_audio --audio-only --speakers 8

espeak-ng (GPL-3.0) is loaded as a library from the ``espeakng-loader`` wheel
while a corpus is generated (``V2S_ESPEAK_LIBRARY`` picks another one).

Example
-------
>>> import os, tempfile
>>> out = tempfile.mkdtemp()
>>> summary = generate_corpus(out, speakers=1, utterances_per_speaker=1,
...                           jobs=1, progress=False)
>>> summary["utterances"], sorted(os.listdir(out))
(1, ['align', 'audio_25k', 'corpus.json', 'meta', 's1', 'speakers.json'])
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch

from speechbrain_v2s.audio.features import SAMPLE_RATE, VIDEO_FPS
from speechbrain_v2s.cli_common import HelpFormatter, add_version
from speechbrain_v2s.synthetic.espeak import Espeak, EspeakError, check_voice
from speechbrain_v2s.synthetic.mouth_render import DEFAULT_SIZE
from speechbrain_v2s.synthetic.speakers import make_speakers
from speechbrain_v2s.synthetic.utterances import (
    ALIGN_DIR,
    AUDIO_DIR,
    META_DIR,
    _run,
    _utterance_plan,
    default_jobs,
)
from speechbrain_v2s.video.errors import VideoError

PROG = "v2s-synth-corpus"
CORPUS_FILE = "corpus.json"  # the summary, written last: its presence = complete


class CorpusError(ValueError):
    """Bad arguments or an unusable output folder.

    Example
    -------
    >>> str(CorpusError("speakers must be positive"))
    'speakers must be positive'
    """


def _check_output(output):
    """Create ``output`` and make sure files can be written there."""
    try:
        os.makedirs(output, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output):
            pass
    except OSError as err:
        reason = err.strerror or str(err)
        raise CorpusError(f"cannot write to output folder {output}: {reason}") from err


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise CorpusError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def generate_corpus(
    output_dir,
    speakers=4,
    utterances_per_speaker=10,
    seed=1234,
    audio_only=False,
    sample_rate=SAMPLE_RATE,
    jobs=None,
    progress=True,
    frame_size=DEFAULT_SIZE,
    grid_fraction=0.4,
):
    """Generate a synthetic corpus (see the module docstring for the layout).

    Arguments
    ---------
    output_dir : str
        Corpus root (created if missing).
    speakers : int
        Number of speakers (``s1..sN``, or ``a1..aN`` when ``audio_only``).
    utterances_per_speaker : int
        Utterances of each speaker.
    seed : int
        Everything (voices, looks, sentences, timing, noise) follows from it.
    audio_only : bool
        Audio-only corpus for A2A pre-training instead of the GRID-layout
        audio-visual one.
    sample_rate : int
        Audio sampling rate (Hz).
    jobs : int, optional
        Worker processes (default: the CPU cores, one per 25 utterances at
        most, since starting a worker costs about 2 s). The files do not
        depend on it.
    progress : bool
        Show a tqdm progress bar.
    frame_size : int
        Video frame height and width (px).
    grid_fraction : float
        Audio-only corpus: the share of GRID sentences (the others are free
        sentences); 1.0 for a GRID-only corpus (e.g. to train the synthetic
        judge ASR). The audio-visual corpus is all GRID.

    Returns
    -------
    dict
        The summary also written to ``corpus.json``.

    Raises
    ------
    CorpusError
        Non-positive counts, a bad sample rate, or an unwritable folder.
    EspeakError
        libespeak-ng cannot be loaded.

    Example
    -------
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> s = generate_corpus(out, 1, 2, audio_only=True, jobs=1, progress=False)
    >>> s["kind"], s["speakers"], sorted(os.listdir(os.path.join(out, "a1")))
    ('audio-only', ['a1'], ['u0001.txt', 'u0001.wav', 'u0002.txt', 'u0002.wav'])
    """
    count = _positive("speakers", speakers)
    per_speaker = _positive("utterances_per_speaker", utterances_per_speaker)
    sample_rate = _positive("sample_rate", sample_rate)
    frame_size = _positive("frame_size", frame_size)
    if not 4000 <= sample_rate <= 192000:
        raise CorpusError(f"sample_rate must be 4000-192000 Hz, got {sample_rate}")
    if frame_size < 16:
        raise CorpusError(f"frame_size must be at least 16 px, got {frame_size}")
    if jobs is not None:
        jobs = _positive("jobs", jobs)
    if not 0.0 <= grid_fraction <= 1.0:
        raise CorpusError(f"grid_fraction must be in [0, 1], got {grid_fraction}")
    output = os.path.abspath(output_dir)
    _check_output(output)
    engine = Espeak()  # fails here, clearly, if the library cannot be loaded
    profiles = make_speakers(
        count, seed, prefix="a" if audio_only else "s", stream=int(audio_only)
    )
    for profile in profiles:
        if not check_voice(profile.voice):
            raise EspeakError(f"espeak voice variant missing: {profile.voice}")

    tasks = []
    for index, profile in enumerate(profiles):
        folders = [os.path.join(output, META_DIR, profile.name)]
        if audio_only:
            folders.append(os.path.join(output, profile.name))
        else:
            folders += [
                os.path.join(output, sub, profile.name)
                for sub in ("", AUDIO_DIR, ALIGN_DIR)
            ]
        for folder in folders:
            os.makedirs(folder, exist_ok=True)
        plan = _utterance_plan(index, per_speaker, seed, audio_only, grid_fraction)
        for number, (utt_id, words, spoken) in enumerate(plan):
            tasks.append(
                {
                    "output": output,
                    "speaker": profile.to_dict(),
                    "utt_id": utt_id,
                    "words": list(words),
                    "spoken": list(spoken),
                    "seed": [int(seed), int(audio_only), index, number],
                    "audio_only": bool(audio_only),
                    "sample_rate": sample_rate,
                    "size": frame_size,
                }
            )
    workers = default_jobs() if jobs is None else jobs
    # Starting a worker (spawn, imports) costs about as much as 50 utterances.
    workers = max(1, min(workers, len(tasks) // 25 if jobs is None else len(tasks)))
    threads = torch.get_num_threads()
    try:
        # One thread: resampling results then cannot depend on the thread count.
        torch.set_num_threads(1)
        results = _run(tasks, workers, progress, engine)
    finally:
        torch.set_num_threads(threads)

    seconds = float(sum(r["duration"] for r in results))
    summary = {
        "kind": "audio-only" if audio_only else "audio-visual",
        "layout": "folder" if audio_only else "grid",
        "speakers": [p.name for p in profiles],
        "num_speakers": count,
        "utterances_per_speaker": per_speaker,
        "utterances": len(results),
        "seed": int(seed),
        "sample_rate": sample_rate,
        "fps": None if audio_only else VIDEO_FPS,
        "frame_size": None if audio_only else frame_size,
        "seconds": round(seconds, 3),
        "hours": round(seconds / 3600, 6),
        "espeak_ng": engine.version,
        "generator": "speechbrain_v2s.synthetic",
    }
    with open(os.path.join(output, "speakers.json"), "w", encoding="utf-8") as f:
        json.dump({p.name: p.to_dict() for p in profiles}, f, indent=2)
    # corpus.json last: ensure_corpus takes its presence to mean "complete".
    with open(os.path.join(output, CORPUS_FILE), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    return summary


def ensure_corpus(folder, **generate_kwargs):
    """The synthetic corpus in ``folder``, generated first if it is not there.

    :func:`generate_corpus` writes ``corpus.json`` last, so its presence
    means a complete corpus, and that corpus is used as it is: it is not
    compared with ``generate_kwargs`` (delete the folder to regenerate it
    with other arguments). A run interrupted before ``corpus.json`` is
    generated again in full (the generator overwrites its own files).

    Arguments
    ---------
    folder : str
        Corpus root.
    **generate_kwargs
        Arguments of :func:`generate_corpus` after ``output_dir``, used only
        when the corpus is generated.

    Returns
    -------
    dict
        The corpus summary (the content of ``corpus.json``).

    Raises
    ------
    CorpusError
        ``corpus.json`` exists but is not a readable JSON summary, or the
        arguments are bad (see :func:`generate_corpus`).

    Example
    -------
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> first = ensure_corpus(out, speakers=1, utterances_per_speaker=1,
    ...                       audio_only=True, jobs=1, progress=False)
    >>> ensure_corpus(out, speakers=5) == first  # already there: not regenerated
    True
    """
    path = os.path.join(folder, CORPUS_FILE)
    if not os.path.isfile(path):
        return generate_corpus(folder, **generate_kwargs)
    try:
        with open(path, encoding="utf-8") as handle:
            summary = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorpusError(
            f"{path}: unreadable corpus summary ({err}); delete the folder to "
            "generate the corpus again"
        ) from err
    if not isinstance(summary, dict):
        raise CorpusError(
            f"{path}: not a corpus summary (a JSON object was expected); delete "
            "the folder to generate the corpus again"
        )
    return summary


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive_arg(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def build_parser():
    """The ``v2s-synth-corpus`` command line (built without running anything).

    Example
    -------
    >>> args = build_parser().parse_args(["-o", "corpus", "-j", "2"])
    >>> args.output, args.jobs, args.speakers, args.seed
    ('corpus', 2, 4, 1234)
    """
    parser = _Parser(
        prog=PROG,
        description="Generate the synthetic audio-visual (GRID layout) or "
        "audio-only speech corpus with espeak-ng.",
        formatter_class=HelpFormatter,
    )
    add_version(parser)
    parser.add_argument("-o", "--output", required=True, help="corpus folder")
    parser.add_argument(
        "--speakers", type=_positive_arg, default=4, help="number of speakers"
    )
    parser.add_argument(
        "--utterances-per-speaker",
        type=_positive_arg,
        default=10,
        help="utterances of each speaker",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1234,
        help="voices, looks, sentences, timing and noise all follow from it",
    )
    parser.add_argument(
        "--audio-only",
        action="store_true",
        help="wav + txt per utterance, for A2A pre-training",
    )
    parser.add_argument(
        "--grid-fraction",
        type=float,
        default=0.4,
        help="audio-only: share of GRID sentences (the rest are free sentences)",
    )
    parser.add_argument(
        "--sample-rate",
        type=_positive_arg,
        default=SAMPLE_RATE,
        help="audio sampling rate (Hz)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=_positive_arg,
        default=None,
        help="worker processes (default: the CPU cores, at most one per 25 "
        "utterances; the files do not depend on it)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv=None):
    """Command line ``v2s-synth-corpus``; returns the exit status.

    Example
    -------
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> main(["--output", out, "--speakers", "1", "--utterances-per-speaker", "1",
    ...       "--no-progress"])
    wrote 1 utterances (1 speakers, 0.00 h) to ...
    0
    """
    args = build_parser().parse_args(argv)
    try:
        summary = generate_corpus(
            args.output,
            speakers=args.speakers,
            utterances_per_speaker=args.utterances_per_speaker,
            seed=args.seed,
            audio_only=args.audio_only,
            sample_rate=args.sample_rate,
            jobs=args.jobs,
            progress=not args.no_progress,
            grid_fraction=args.grid_fraction,
        )
    except (CorpusError, EspeakError, VideoError, OSError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    print(
        f"wrote {summary['utterances']} utterances ({summary['num_speakers']} "
        f"speakers, {summary['hours']:.2f} h) to {os.path.abspath(args.output)}"
    )
    return 0
