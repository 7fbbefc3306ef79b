"""The built-in synthetic corpora: espeak-ng speech with matching mouth videos.

Nothing can be downloaded on the project's machines, so demos, tests and CI
train on a corpus made here. Speakers are espeak-ng voices (accent, variant,
pitch, rate) with a drawn mouth (:mod:`~speechbrain_v2s.data.mouth_render`);
sentences follow the GRID grammar; the mouth moves with the phoneme timeline
espeak reports (:mod:`~speechbrain_v2s.data.visemes`), so the video carries
the speech content a V2A model has to learn.

Audio-visual corpus (GRID's release layout, read by ``grid_prepare.py``)::

    <out>/s1/bbaf2n.mpg               silent 25 fps MPEG-1, 88x88 grayscale
    <out>/audio_25k/s1/bbaf2n.wav     16-bit mono, 24 kHz (--sample-rate)
    <out>/align/s1/bbaf2n.align       "start end word", 1/25,000 s, sil/sp
    <out>/meta/s1/bbaf2n.json         phonemes, words, per-frame mouth shape
    <out>/speakers.json               speaker profiles
    <out>/corpus.json                 summary (written last: the corpus is complete)

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
import contextlib
import json
import math
import multiprocessing
import os
import sys
import tempfile
from dataclasses import dataclass, field

import cv2
import numpy as np
import soundfile
import torch
from tqdm import tqdm

from speechbrain_v2s.audio.features import SAMPLE_RATE, VIDEO_FPS
from speechbrain_v2s.data.espeak import Espeak, EspeakError, check_voice
from speechbrain_v2s.data.grid_grammar import sample_sentences
from speechbrain_v2s.data.mouth_render import (
    DEFAULT_SIZE,
    SKIN_RANGE,
    Appearance,
    random_appearance,
    render_frames,
)
from speechbrain_v2s.data.visemes import PARAMETERS, viseme_track
from speechbrain_v2s.video.errors import VideoError
from speechbrain_v2s.video.io import write_video

PROG = "v2s-synth-corpus"
AUDIO_DIR = "audio_25k"  # GRID's folder name, whatever --sample-rate is
ALIGN_DIR = "align"
META_DIR = "meta"
ALIGN_RATE = 25000  # GRID .align time unit: 1/25,000 s
ACCENTS = (
    "en-us",
    "en",
    "en-gb-x-rp",
    "en-gb-scotland",
    "en-us-nyc",
    "en-029",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m6", "m7")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4")
# espeak pitch settings per gender: measured mean F0 about 70-110 Hz (male
# variants) and 140-230 Hz (female), so no male and female speaker share an F0.
PITCH_RANGES = {"m": (0, 45), "f": (15, 70)}
LEAD_SILENCE = (0.25, 0.6)  # seconds of silence before/after the speech
AV, AUDIO_ONLY = 0, 1  # seed stream of each corpus kind

# Free sentences of the audio-only corpus (pre-training wants more than GRID).
_SUBJECTS = (
    "the old man",
    "a young girl",
    "my brother",
    "the teacher",
    "our neighbour",
    "the small dog",
    "every student",
    "the pilot",
    "her mother",
    "a tired farmer",
)
_VERBS = (
    "found",
    "painted",
    "carried",
    "opened",
    "wanted",
    "moved",
    "watched",
    "bought",
    "dropped",
    "cleaned",
)
_OBJECTS = (
    "a red box",
    "the green door",
    "seven apples",
    "the heavy bag",
    "a blue kite",
    "the broken chair",
    "three white cups",
    "the long letter",
    "a wooden spoon",
    "the last ticket",
)
_ENDINGS = (
    "in the morning",
    "before lunch",
    "near the river",
    "after the rain",
    "on monday",
    "with great care",
    "at the station",
    "very quickly",
    "for the first time",
    "",
)


class CorpusError(ValueError):
    """Bad arguments or an unusable output folder.

    Example
    -------
    >>> str(CorpusError("speakers must be positive"))
    'speakers must be positive'
    """


@dataclass
class SpeakerProfile:
    """One synthetic speaker: an espeak voice and a mouth.

    Attributes
    ----------
    name : str
        ``s1``... (audio-visual) or ``a1``... (audio-only).
    accent : str
        espeak language voice (``en-us``, ``en-gb-scotland``...).
    variant : str
        espeak voice variant (``m1``-``m7``, ``f1``-``f4``).
    pitch, pitch_range : int
        espeak pitch and range, 0-100.
    rate : int
        Words per minute.
    articulation : float
        Scale of the mouth opening.
    appearance : Appearance
        The mouth's look.

    Example
    -------
    >>> profile = SpeakerProfile("s1", "en-us", "m3", 40, 50, 170)
    >>> profile.voice
    'en-us+m3'
    >>> SpeakerProfile.from_dict(profile.to_dict()) == profile
    True
    """

    name: str
    accent: str
    variant: str
    pitch: int
    pitch_range: int
    rate: int
    articulation: float = 1.0
    appearance: Appearance = field(default_factory=Appearance)

    @property
    def voice(self):
        """espeak voice name, ``accent+variant``.

        Example
        -------
        >>> SpeakerProfile("a1", "en", "f2", 50, 50, 160).voice
        'en+f2'
        """
        return f"{self.accent}+{self.variant}"

    def to_dict(self):
        """JSON-ready dict.

        Example
        -------
        >>> SpeakerProfile("s1", "en", "m1", 50, 50, 160).to_dict()["voice"]
        'en+m1'
        """
        return {
            "name": self.name,
            "voice": self.voice,
            "accent": self.accent,
            "variant": self.variant,
            "pitch": self.pitch,
            "pitch_range": self.pitch_range,
            "rate": self.rate,
            "articulation": round(float(self.articulation), 4),
            "appearance": self.appearance.to_dict(),
        }

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`.

        Example
        -------
        >>> SpeakerProfile.from_dict({"name": "s2", "accent": "en", "variant": "m1",
        ...     "pitch": 1, "pitch_range": 2, "rate": 150}).rate
        150
        """
        keys = ("name", "accent", "variant", "pitch", "pitch_range", "rate")
        return cls(
            **{key: data[key] for key in keys},
            articulation=data.get("articulation", 1.0),
            appearance=Appearance(**data.get("appearance", {})),
        )


def make_speakers(count, seed=1234, prefix="s", stream=AV):
    """``count`` distinct speaker profiles, the same for the same seed.

    Genders alternate; within a gender, pitches are spread evenly over
    :data:`PITCH_RANGES` (in shuffled order) so that no two speakers share a
    pitch, and skin tones are spread the same way.

    Example
    -------
    >>> speakers = make_speakers(3, seed=0)
    >>> [s.name for s in speakers], len({s.pitch for s in speakers[::2]})
    (['s1', 's2', 's3'], 2)
    """
    rng = np.random.default_rng([seed, stream, 1000])
    genders = ["m" if i % 2 == 0 else "f" for i in range(count)]
    pitches, variants = {}, {}
    for gender, pool in (("m", MALE_VARIANTS), ("f", FEMALE_VARIANTS)):
        n = genders.count(gender)
        low, high = PITCH_RANGES[gender]
        if n > 1:
            slots = np.linspace(low, high, n)
        else:
            slots = np.array([rng.uniform(low + 10, high - 10)])
        pitches[gender] = list(rng.permutation(np.round(slots).astype(int)))
        order = list(rng.permutation(pool))
        variants[gender] = [order[i % len(order)] for i in range(n)]
    # Skin tones spread like the pitches: speakers look different, too.
    skins = rng.permutation(np.linspace(*SKIN_RANGE, count)) if count > 1 else [None]
    speakers = []
    for i, gender in enumerate(genders):
        own = np.random.default_rng([seed, stream, 1001, i])
        speakers.append(
            SpeakerProfile(
                name=f"{prefix}{i + 1}",
                accent=str(ACCENTS[int(own.integers(len(ACCENTS)))]),
                variant=str(variants[gender].pop(0)),
                pitch=int(pitches[gender].pop(0)),
                pitch_range=int(own.integers(35, 80)),
                rate=int(own.integers(150, 200)),
                articulation=float(own.uniform(0.85, 1.15)),
                appearance=random_appearance(own, skins[i]),
            )
        )
    return speakers


def free_sentence(rng):
    """A random everyday sentence (audio-only corpus), lower case words.

    Example
    -------
    >>> len(free_sentence(np.random.default_rng(0))) >= 6
    True
    """
    parts = [rng.choice(p) for p in (_SUBJECTS, _VERBS, _OBJECTS, _ENDINGS)]
    return " ".join(str(p) for p in parts if p).split()


def _utterance_plan(speaker_index, count, seed, audio_only, grid_fraction=0.4):
    """``(utt_id, words, spoken_words)`` of one speaker's utterances."""
    stream = AUDIO_ONLY if audio_only else AV
    grid = sample_sentences(count, seed=[seed, stream, 2000, speaker_index])
    if not audio_only:
        return [(s.utterance_id, s.words, s.spoken) for s in grid]
    rng = np.random.default_rng([seed, stream, 2001, speaker_index])
    plan = []
    for i, sentence in enumerate(grid):
        if rng.random() < grid_fraction:
            words, spoken = sentence.words, sentence.spoken
        else:  # "a" is the article here, not the letter
            words = spoken = tuple(free_sentence(rng))
        plan.append((f"u{i + 1:04d}", words, spoken))
    return plan


def alignment_lines(words, total, rate=ALIGN_RATE):
    """GRID ``.align`` lines: leading ``sil``, words with ``sp`` in pauses, ``sil``.

    Arguments
    ---------
    words : list of tuple
        ``(word, start_s, end_s)`` in time order.
    total : float
        Utterance length (s).
    rate : int
        Time unit of the file (GRID: 25,000 per second).

    Example
    -------
    >>> alignment_lines([("bin", 0.5, 0.7), ("blue", 0.75, 1.0)], 1.5)
    ['0 12500 sil', '12500 17500 bin', '17500 18750 sp', '18750 25000 blue', \
'25000 37500 sil']
    """
    lines, cursor = [], 0
    end_total = int(round(total * rate))
    for index, (word, start, end) in enumerate(words):
        start = min(max(int(round(start * rate)), cursor), end_total)
        end = min(max(int(round(end * rate)), start), end_total)
        if start > cursor:
            lines.append(f"{cursor} {start} {'sil' if index == 0 else 'sp'}")
        lines.append(f"{start} {end} {word}")
        cursor = end
    if end_total > cursor or not lines:
        lines.append(f"{cursor} {end_total} sil")
    return lines


def _synthesize_utterance(engine, task):
    """Audio, timings and (AV) frames of one utterance; writes its files."""
    speaker = SpeakerProfile.from_dict(task["speaker"])
    rng = np.random.default_rng(task["seed"])
    sample_rate = task["sample_rate"]
    speech = engine.synthesize(
        list(task["spoken"]),
        voice=speaker.voice,
        pitch=int(np.clip(speaker.pitch + rng.integers(-2, 3), 0, 100)),
        rate=int(speaker.rate * rng.uniform(0.95, 1.05)),
        pitch_range=speaker.pitch_range,
        sample_rate=sample_rate,
        seed=int(rng.integers(1, 2**31 - 1)),
    )
    lead = rng.uniform(*LEAD_SILENCE)
    trail = rng.uniform(*LEAD_SILENCE)
    # Whole video frames; the audio fills exactly the same time.
    frames = int(math.ceil((lead + speech.duration + trail) * VIDEO_FPS))
    duration = frames / VIDEO_FPS
    samples = int(round(duration * sample_rate))
    offset = int(round(lead * sample_rate))
    wav = np.zeros(samples, np.float32)
    voiced = speech.waveform[: samples - offset]
    peak = float(np.abs(voiced).max()) or 1.0
    wav[offset : offset + len(voiced)] = voiced * (rng.uniform(0.5, 0.8) / peak)
    shift = offset / sample_rate
    phonemes = [("_", 0.0, shift)] if shift > 0 else []
    phonemes += [(p, s + shift, e + shift) for p, s, e in speech.phonemes]
    if phonemes[-1][2] < duration:
        phonemes.append(("_", phonemes[-1][2], duration))
    spans = {i: (s + shift, e + shift) for i, s, e in speech.words}
    words, cursor = [], shift
    for i, word in enumerate(task["words"]):
        # A word espeak merged into its neighbour keeps an empty span, so the
        # align file still holds the whole transcript.
        start, end = spans.get(i, (cursor, cursor))
        words.append((word, start, end))
        cursor = end

    out, spk, utt = task["output"], speaker.name, task["utt_id"]
    meta = {
        "id": utt,
        "speaker": spk,
        "text": " ".join(task["words"]),
        "duration": round(duration, 6),
        "sample_rate": sample_rate,
        "words": [[w, round(s, 5), round(e, 5)] for w, s, e in words],
        "phonemes": [[p, round(s, 5), round(e, 5)] for p, s, e in phonemes],
    }
    if task["audio_only"]:
        base = os.path.join(out, spk, utt)
        soundfile.write(base + ".wav", wav, sample_rate, subtype="PCM_16")
        with open(base + ".txt", "w", encoding="utf-8") as handle:
            handle.write(meta["text"] + "\n")
    else:
        wav_path = os.path.join(out, AUDIO_DIR, spk, utt + ".wav")
        soundfile.write(wav_path, wav, sample_rate, subtype="PCM_16")
        lines = alignment_lines(words, duration)
        with open(os.path.join(out, ALIGN_DIR, spk, utt + ".align"), "w") as handle:
            handle.write("\n".join(lines) + "\n")
        track = viseme_track(phonemes, frames, articulation=speaker.articulation)
        video = render_frames(
            track, speaker.appearance, size=task["size"], seed=task["seed"] + [7]
        )
        with _quiet_stderr():
            write_video(os.path.join(out, spk, utt + ".mpg"), video, fps=VIDEO_FPS)
        meta["fps"] = VIDEO_FPS
        meta["frames"] = frames
        meta["mouth"] = {
            name: [round(float(v), 4) for v in track[:, i]]
            for i, name in enumerate(PARAMETERS)
        }
    with open(os.path.join(out, META_DIR, spk, utt + ".json"), "w") as handle:
        json.dump(meta, handle)
    return {"id": utt, "speaker": spk, "duration": duration}


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2: OpenCV's FFmpeg writer prints a warning about
    the MPEG-1 tag for every file with ``fprintf``, which no log level stops."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_WORKER_ENGINE = None


def _init_worker():
    """One thread per worker (the workers are the parallelism) and own espeak."""
    global _WORKER_ENGINE
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    _WORKER_ENGINE = Espeak()


def _worker_task(task):
    return _synthesize_utterance(_WORKER_ENGINE, task)


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


def default_jobs():
    """Worker processes by default: the usable CPU cores.

    Example
    -------
    >>> default_jobs() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _run(tasks, jobs, progress, engine):
    """Results of all tasks in task order, in this process or in ``jobs`` workers."""
    bar = tqdm(
        total=len(tasks),
        desc="synthetic corpus",
        unit="utt",
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        if jobs <= 1:
            results = []
            for task in tasks:
                results.append(_synthesize_utterance(engine, task))
                bar.update(1)
            return results
        # spawn: forked children of a process running torch/OpenCV threads can
        # deadlock, and each worker must load its own espeak.
        context = multiprocessing.get_context("spawn")
        chunk = max(1, min(8, len(tasks) // (jobs * 8)))
        results = [None] * len(tasks)
        with context.Pool(jobs, initializer=_init_worker) as pool:
            indexed = pool.imap_unordered(
                _indexed_task, list(enumerate(tasks)), chunksize=chunk
            )
            for index, result in indexed:
                results[index] = result
                bar.update(1)
        return results
    finally:
        bar.close()


def _indexed_task(item):
    index, task = item
    return index, _worker_task(task)


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
        "generator": "speechbrain_v2s.data.synthetic",
    }
    with open(os.path.join(output, "speakers.json"), "w", encoding="utf-8") as f:
        json.dump({p.name: p.to_dict() for p in profiles}, f, indent=2)
    # corpus.json last: recipes take its presence to mean "corpus complete".
    with open(os.path.join(output, "corpus.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
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
    parser = _Parser(
        prog=PROG,
        description="Generate the synthetic audio-visual (GRID layout) or "
        "audio-only speech corpus with espeak-ng.",
    )
    parser.add_argument("--output", required=True, help="corpus folder")
    parser.add_argument("--speakers", type=_positive_arg, default=4)
    parser.add_argument("--utterances-per-speaker", type=_positive_arg, default=10)
    parser.add_argument("--seed", type=int, default=1234)
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
    parser.add_argument("--sample-rate", type=_positive_arg, default=SAMPLE_RATE)
    parser.add_argument(
        "--jobs", type=_positive_arg, default=None, help="worker processes"
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
