"""One synthetic utterance: its sentence, speech, alignment, video and files.

The corpus driver (:mod:`speechbrain_v2s.synthetic.corpus`) plans every
utterance of a speaker (:func:`_utterance_plan`) as a task: the speaker, the
words, a seed. :func:`_run` runs the tasks in this process or in worker
processes, each with its own espeak-ng (the library is not thread-safe), and
:func:`_synthesize_utterance` turns one task into the utterance's files.

Example
-------
>>> alignment_lines([("bin", 0.5, 0.7)], 1.0)
['0 12500 sil', '12500 17500 bin', '17500 25000 sil']
"""

import contextlib
import json
import math
import multiprocessing
import os
import sys

import cv2
import numpy as np
import soundfile
import torch
from tqdm import tqdm

from speechbrain_v2s.audio.features import VIDEO_FPS
from speechbrain_v2s.synthetic.espeak import Espeak
from speechbrain_v2s.synthetic.grid_grammar import sample_sentences
from speechbrain_v2s.synthetic.mouth_render import render_frames
from speechbrain_v2s.synthetic.speakers import AUDIO_ONLY, AV, SpeakerProfile
from speechbrain_v2s.synthetic.visemes import PARAMETERS, viseme_track
from speechbrain_v2s.video.io import write_video

AUDIO_DIR = "audio_25k"  # GRID's folder name, whatever --sample-rate is
ALIGN_DIR = "align"
META_DIR = "meta"
ALIGN_RATE = 25000  # GRID .align time unit: 1/25,000 s
LEAD_SILENCE = (0.25, 0.6)  # seconds of silence before/after the speech

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
