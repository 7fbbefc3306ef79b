"""Manifest preparation shared by every ``<dataset>_prepare.py`` recipe script.

A prepare script does only the dataset-specific part: it finds the files of
one corpus layout and turns them into *candidate entries*, plain dicts with an
``id``, a ``wav`` and/or ``video`` path, a speaker and a transcript. This
module does everything else, the same way for every dataset:

* :func:`require_folder` fails clearly when the dataset folder is missing;
* :func:`probe_entries` probes every file in parallel (tqdm progress bar):
  audio info (``soundfile``, falling back to PyAV/``torchaudio`` for formats
  libsndfile cannot read), silence (peak/RMS of the decoded audio), video frame
  count and rate (OpenCV), audio stream inside a video (PyAV, when installed),
  audio/video length agreement and duration filters. A bad file is written to
  the report and skipped, never fatal;
* :func:`split_items`, :func:`split_seen`, :func:`split_speakers` and
  :func:`split_by_lists` make deterministic splits (hash order of the ids, so
  a split does not depend on the order files were found in);
* :func:`run_preparation` skips the work when ``save_folder`` was already
  prepared with the same options (``prepare_options.json``), and otherwise
  writes the SpeechBrain JSON manifests ``{id: {field: value}}`` (read by
  ``DynamicItemDataset.from_json``), the bad-file report
  ``prepare_report.csv`` (columns ``file,reason,action``; ``action`` is
  ``skipped`` or ``kept``) and, last, the options file. Every file is written
  to a temporary file first and renamed, so an interrupted run never leaves a
  half-written manifest that a later run would trust.

Example
-------
>>> import json, os, tempfile
>>> import numpy as np, soundfile
>>> root = tempfile.mkdtemp()
>>> for name in ("a", "b", "c"):
...     t = np.arange(16000) / 16000
...     soundfile.write(os.path.join(root, name + ".wav"), 0.5 * np.sin(900 * t), 16000)
>>> soundfile.write(os.path.join(root, "quiet.wav"), np.zeros(16000), 16000)
>>> def build(report):
...     files = find_files(root, AUDIO_EXTENSIONS)
...     entries = [{"id": os.path.basename(f)[:-4], "wav": f} for f in files]
...     entries = probe_entries(entries, report, progress=False)
...     return split_items(entries, (0.6, 0.4), names=("train", "valid"))
>>> save = os.path.join(root, "manifests")
>>> paths = run_preparation(save, {"prepare": "demo"}, ("train", "valid"), build)
>>> with open(paths["train"]) as f:
...     train = json.load(f)
>>> with open(paths["valid"]) as f:
...     valid = json.load(f)
>>> sorted(train), sorted(valid)
(['b', 'c'], ['a'])
>>> train["b"]["duration"], train["b"]["sr"]
(1.0, 16000)
>>> print(open(os.path.join(save, REPORT_NAME)).read().splitlines()[1])
/...quiet.wav,silent audio (peak 0 < 0.001),skipped
"""

import argparse
import csv
import hashlib
import io
import json
import logging
import math
import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import soundfile
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
VIDEO_EXTENSIONS = (".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".mkv", ".webm")
# Containers whose header frame count is an estimate: frames are counted.
_INEXACT_FRAME_COUNT = (".mpg", ".mpeg", ".vob", ".ts", ".webm", ".mkv")
# Formats libsndfile is the reference reader for: no fallback decoder.
_SNDFILE_NATIVE = (".wav", ".flac")

REPORT_NAME = "prepare_report.csv"
REPORT_FIELDS = ("file", "reason", "action")
OPTIONS_NAME = "prepare_options.json"
MANIFEST_VERSION = 1
SPLITS = ("train", "valid", "test")

# Below either threshold (linear, full scale 1.0) decoded audio is "silent":
# peak -60 dBFS, RMS -80 dBFS. Quiet speech is far above both.
SILENCE_PEAK = 1e-3
SILENCE_RMS = 1e-4
# An audio stream's duration in a container header includes the codec's
# priming/padding (AAC: 1024 priming samples plus up to one 1024-sample frame),
# so in-video audio gets this much extra slack before a length warning.
CODEC_PADDING_SAMPLES = 2048
# Parallel probing pays a process start-up: only worth it for many files.
MIN_PARALLEL_ITEMS = 256
MAX_WORKERS = 8


class BadFileError(Exception):
    """A file that cannot go into a manifest, with the file and the reason.

    Arguments
    ---------
    path : str
        The offending file.
    reason : str
        Why, in words (goes to the report).

    Example
    -------
    >>> str(BadFileError("x.wav", "empty file (0 bytes)"))
    'x.wav: empty file (0 bytes)'
    """

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class PrepareReport:
    """Rows ``(file, reason, action)`` for every file skipped or kept with a warning.

    Example
    -------
    >>> import os, tempfile
    >>> report = PrepareReport()
    >>> report.skip("a.wav", "silent audio")
    >>> report.warn("b.mpg", "audio/video length differ by 0.08 s")
    >>> len(report), report.skipped_files()
    (2, ['a.wav'])
    >>> path = report.write(tempfile.mkdtemp())
    >>> print(open(path).read().strip())
    file,reason,action
    a.wav,silent audio,skipped
    b.mpg,audio/video length differ by 0.08 s,kept
    """

    def __init__(self):
        self.rows = []

    def skip(self, file, reason):
        """Record ``file`` as left out of the manifests because of ``reason``.

        Example
        -------
        >>> report = PrepareReport()
        >>> report.skip("x.wav", "unreadable")
        >>> report.rows
        [{'file': 'x.wav', 'reason': 'unreadable', 'action': 'skipped'}]
        """
        self.rows.append({"file": str(file), "reason": reason, "action": "skipped"})

    def warn(self, file, reason):
        """Record a problem with ``file`` that did not keep it out.

        Example
        -------
        >>> report = PrepareReport()
        >>> report.warn("x.mpg", "no alignment file")
        >>> report.rows[0]["action"]
        'kept'
        """
        self.rows.append({"file": str(file), "reason": reason, "action": "kept"})

    def extend(self, rows):
        """Append rows (dicts with ``file``, ``reason``, ``action``).

        Example
        -------
        >>> report = PrepareReport()
        >>> report.extend([{"file": "a", "reason": "r", "action": "kept"}])
        >>> len(report)
        1
        """
        self.rows.extend(rows)

    def skipped_files(self):
        """Files left out, in report order.

        Example
        -------
        >>> PrepareReport().skipped_files()
        []
        """
        return [row["file"] for row in self.rows if row["action"] == "skipped"]

    def __len__(self):
        return len(self.rows)

    def write(self, save_folder):
        """Write ``<save_folder>/prepare_report.csv`` (header only when empty).

        Example
        -------
        >>> import tempfile
        >>> os.path.basename(PrepareReport().write(tempfile.mkdtemp()))
        'prepare_report.csv'
        """
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=REPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        path = os.path.join(save_folder, REPORT_NAME)
        write_text_atomic(path, buffer.getvalue())
        return path


# ---------------------------------------------------------------------------
# Files and folders


def require_folder(path, expected):
    """Absolute path of the dataset folder ``path``, or a clear error.

    Arguments
    ---------
    path : str
        The folder given by the user.
    expected : str
        The layout that was expected there, in words (goes into the error).

    Returns
    -------
    str

    Raises
    ------
    FileNotFoundError
        Naming the path and the expected layout.

    Example
    -------
    >>> require_folder("/no/such/GRID", "<root>/<spk>/<utt>.mpg")
    Traceback (most recent call last):
    ...
    FileNotFoundError: dataset folder not found: /no/such/GRID (expected layout: ...)
    """
    if path is None or not os.path.isdir(path):
        kind = "is not a folder" if path and os.path.exists(path) else "not found"
        raise FileNotFoundError(
            f"dataset folder {kind}: {path} (expected layout: {expected})"
        )
    return os.path.abspath(path)


def list_dirs(path):
    """Sorted names of the sub-folders of ``path`` (empty if it is not a folder).

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "b")); os.makedirs(os.path.join(root, "a"))
    >>> list_dirs(root), list_dirs(os.path.join(root, "missing"))
    (['a', 'b'], [])
    """
    if not os.path.isdir(path):
        return []
    with os.scandir(path) as it:
        return sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))


def find_files(root, extensions, exclude_dirs=()):
    """All files under ``root`` (recursive) whose name ends with one of ``extensions``.

    Arguments
    ---------
    root : str
        Folder to search.
    extensions : sequence of str
        Lower-case endings such as ``(".wav", ".flac")``; the match ignores case.
    exclude_dirs : sequence of str
        Folder names not to descend into.

    Returns
    -------
    list of str
        Sorted paths (deterministic whatever the file system order).

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "spk", "skip"))
    >>> for name in ("spk/b.WAV", "spk/a.flac", "spk/skip/c.wav", "notes.txt"):
    ...     open(os.path.join(root, name), "w").close()
    >>> found = find_files(root, (".wav", ".flac"), exclude_dirs=["skip"])
    >>> [os.path.relpath(f, root) for f in found]
    ['spk/a.flac', 'spk/b.WAV']
    """
    extensions = tuple(e.lower() for e in extensions)
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(
            d for d in dirs if d not in exclude_dirs and not d.startswith(".")
        )
        found.extend(
            os.path.join(folder, f) for f in files if f.lower().endswith(extensions)
        )
    return sorted(found)


def strip_extension(name):
    """File name without folder and extension.

    Example
    -------
    >>> strip_extension("/data/s1/bbaf2n.mpg")
    'bbaf2n'
    """
    return os.path.splitext(os.path.basename(name))[0]


def read_text_file(path, encoding="utf-8"):
    """Whole text of ``path`` stripped, or ``None`` if missing/unreadable.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.txt")
    >>> _ = open(path, "w").write(" hello world\\n")
    >>> read_text_file(path), read_text_file(path + ".missing")
    ('hello world', None)
    """
    try:
        with open(path, encoding=encoding, errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def read_key_values(path):
    """``Key: value`` header lines of a text file, as ``{key (lower case): value}``.

    Reading stops at the first line that is not ``Key: value`` once some were
    read (LRS3 puts a word-timing table after its header; LRW a duration
    line after the word).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "00001.txt")
    >>> _ = open(path, "w").write(
    ...     "Text:  SO WE WENT\\nConf:  4\\n\\n"
    ...     "WORD START END ASDSCORE\\nSO 0.1 0.2 3.5\\n"
    ... )
    >>> read_key_values(path)
    {'text': 'SO WE WENT', 'conf': '4'}
    """
    fields = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            key, sep, value = line.partition(":")
            if not sep or not key.strip() or " " in key.strip():
                if fields:
                    break
                continue
            fields[key.strip().lower()] = value.strip()
    return fields


def read_list_file(path):
    """Non-empty lines of a list file, ``#`` comments removed.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "spk.txt")
    >>> _ = open(path, "w").write("# test speakers\\ns1\\ns2  # male\\n\\n")
    >>> read_list_file(path)
    ['s1', 's2']
    """
    with open(path, encoding="utf-8") as f:
        lines = (line.split("#", 1)[0].strip() for line in f)
        return [line for line in lines if line]


# ---------------------------------------------------------------------------
# Audio


def _check_nonempty(path):
    if not os.path.isfile(path):
        raise BadFileError(path, "file not found")
    if os.path.getsize(path) == 0:
        raise BadFileError(path, "empty file (0 bytes)")


def _short(err):
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]


def _read_with_pyav(path):
    import av

    chunks, sr = [], None
    with av.open(path) as container:
        if not container.streams.audio:
            raise BadFileError(path, "no audio stream")
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            sr = frame.sample_rate
            data = frame.to_ndarray()
            if frame.format.is_planar:
                data = data.T
            else:
                data = data.reshape(-1, len(frame.layout.channels))
            chunks.append(data.astype(np.float32))
    if not chunks:
        return np.zeros((0, 1), np.float32), sr or 0
    return np.concatenate(chunks), sr


def _read_with_torchaudio(path):
    import torchaudio

    wav, sr = torchaudio.load(path)
    return wav.numpy().T.astype(np.float32), sr


def read_audio_array(path):
    """Decode ``path`` to float32 ``[samples, channels]`` and its sample rate.

    ``soundfile`` first; for formats other than wav/flac (mp3, ogg, m4a, ...),
    whose libsndfile support depends on the build, PyAV and then ``torchaudio``
    are tried before giving up.

    Raises
    ------
    BadFileError
        Missing, empty or undecodable file.

    Example
    -------
    >>> import tempfile, soundfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.flac")
    >>> soundfile.write(path, np.full(800, 0.25), 8000)
    >>> data, sr = read_audio_array(path)
    >>> data.shape, sr, round(float(data.max()), 2)
    ((800, 1), 8000, 0.25)
    """
    _check_nonempty(path)
    errors = []
    readers = [("soundfile", _soundfile_read)]
    if not path.lower().endswith(_SNDFILE_NATIVE):
        readers += [("pyav", _read_with_pyav), ("torchaudio", _read_with_torchaudio)]
    for name, reader in readers:
        try:
            return reader(path)
        except BadFileError:
            raise
        except Exception as err:  # each backend raises its own types
            errors.append(f"{name}: {_short(err)}")
    raise BadFileError(path, "unreadable audio (" + "; ".join(errors) + ")")


def _soundfile_read(path):
    return soundfile.read(path, dtype="float32", always_2d=True)


def audio_info(path):
    """Sample rate, frames, channels and duration of an audio file.

    Reads only the header with ``soundfile``; formats it cannot read are
    decoded (see :func:`read_audio_array`).

    Returns
    -------
    dict
        ``sr``, ``frames``, ``channels``, ``duration`` (seconds).

    Raises
    ------
    BadFileError
        Missing, empty, unreadable file, or a file without samples.

    Example
    -------
    >>> import tempfile, soundfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> soundfile.write(path, np.zeros((1200, 2)), 24000)
    >>> audio_info(path)
    {'sr': 24000, 'frames': 1200, 'channels': 2, 'duration': 0.05}
    >>> _ = open(path, "wb").write(os.urandom(100))
    >>> audio_info(path)
    Traceback (most recent call last):
    ...
    speechbrain_v2s.data.manifests.BadFileError: /...a.wav: unreadable audio (...)
    """
    _check_nonempty(path)
    try:
        info = soundfile.info(path)
        sr, frames, channels = int(info.samplerate), int(info.frames), info.channels
    except Exception as err:  # libsndfile's errors vary by format
        if path.lower().endswith(_SNDFILE_NATIVE):
            raise BadFileError(
                path, f"unreadable audio (soundfile: {_short(err)})"
            ) from err
        data, sr = read_audio_array(path)
        frames, channels = data.shape
    if frames <= 0 or sr <= 0:
        raise BadFileError(path, "no samples")
    return {
        "sr": sr,
        "frames": frames,
        "channels": channels,
        "duration": frames / sr,
    }


def silence_reason(samples, peak=SILENCE_PEAK, rms=SILENCE_RMS):
    """Why decoded ``samples`` count as silent, or ``None`` if they do not.

    Arguments
    ---------
    samples : numpy.ndarray
        Float audio in [-1, 1], any shape.
    peak, rms : float
        Silent when the peak or the RMS is below these (linear, full scale 1).

    Example
    -------
    >>> silence_reason(np.zeros(100)), silence_reason(np.full(100, 0.5))
    ('silent audio (peak 0 < 0.001)', None)
    >>> silence_reason(np.r_[np.zeros(10**6), 0.01])
    'silent audio (RMS 1e-05 < 0.0001)'
    """
    if samples.size == 0:
        return "no samples"
    samples = np.asarray(samples, dtype=np.float64)
    level = float(np.max(np.abs(samples)))
    if level < peak:
        return f"silent audio (peak {level:.3g} < {peak:.3g})"
    power = float(np.sqrt(np.mean(np.square(samples))))
    if power < rms:
        return f"silent audio (RMS {power:.3g} < {rms:.3g})"
    return None


def check_audio_file(path, check_silence=True, peak=SILENCE_PEAK, rms=SILENCE_RMS):
    """:func:`audio_info` plus, optionally, a silence check on the decoded audio.

    Raises
    ------
    BadFileError
        Unreadable, empty or silent file.

    Example
    -------
    >>> import tempfile, soundfile
    >>> path = os.path.join(tempfile.mkdtemp(), "zero.wav")
    >>> soundfile.write(path, np.zeros(8000), 16000)
    >>> check_audio_file(path, check_silence=False)["duration"]
    0.5
    >>> check_audio_file(path)
    Traceback (most recent call last):
    ...
    speechbrain_v2s.data.manifests.BadFileError: /...zero.wav: silent audio (...)
    """
    info = audio_info(path)
    if check_silence:
        data, _ = read_audio_array(path)
        reason = silence_reason(data, peak, rms)
        if reason:
            raise BadFileError(path, reason)
    return info


# ---------------------------------------------------------------------------
# Video


def video_info(path, exact_frames="auto"):
    """Frame count, frame rate and size of a video, read with ``cv2.VideoCapture``.

    Arguments
    ---------
    path : str
        Any container OpenCV's FFmpeg backend reads (mp4, mpg, avi, ...).
    exact_frames : bool or "auto"
        Count frames by reading through the file instead of trusting the
        header. ``"auto"`` counts for containers whose header count is an
        estimate (MPEG program streams such as GRID's ``.mpg``) or missing.

    Returns
    -------
    dict
        ``frames``, ``fps``, ``width``, ``height``, ``duration`` (seconds).

    Raises
    ------
    BadFileError
        Missing, empty or unreadable file, no frames, or no frame rate.

    Example
    -------
    >>> import tempfile, cv2
    >>> path = os.path.join(tempfile.mkdtemp(), "v.mp4")
    >>> writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 25, (32, 24))
    >>> for i in range(5):
    ...     writer.write(np.full((24, 32, 3), 40 * i, np.uint8))
    >>> writer.release()
    >>> video_info(path)
    {'frames': 5, 'fps': 25.0, 'width': 32, 'height': 24, 'duration': 0.2}
    """
    import cv2

    _check_nonempty(path)
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            raise BadFileError(path, "unreadable video (OpenCV cannot open it)")
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        if exact_frames == "auto":
            exact_frames = frames <= 0 or path.lower().endswith(_INEXACT_FRAME_COUNT)
        if exact_frames:
            frames = 0
            while capture.grab():
                frames += 1
    finally:
        capture.release()
    if frames <= 0:
        raise BadFileError(path, "video has no frames")
    if not math.isfinite(fps) or fps <= 0:
        raise BadFileError(path, "video has no frame rate")
    return {
        "frames": frames,
        "fps": round(fps, 3),
        "width": width,
        "height": height,
        "duration": round(frames / fps, 4),
    }


def pyav_available():
    """Whether PyAV (``av``) can be imported (needed to look inside containers).

    Example
    -------
    >>> pyav_available() in (True, False)
    True
    """
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def video_audio_info(path):
    """The audio stream inside a video container, read with PyAV.

    Returns
    -------
    dict or None
        ``sr``, ``channels``, ``duration`` (seconds, ``None`` if the container
        does not say) and ``checked`` (``False`` when PyAV is not installed and
        nothing could be checked: all values are then ``None``). ``None`` when
        the container has no audio stream.

    Raises
    ------
    BadFileError
        The container cannot be opened.

    Example
    -------
    >>> import tempfile, cv2
    >>> path = os.path.join(tempfile.mkdtemp(), "silent.mp4")
    >>> writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 25, (16, 16))
    >>> writer.write(np.zeros((16, 16, 3), np.uint8)); writer.release()
    >>> video_audio_info(path) is None or not pyav_available()
    True
    """
    if not pyav_available():
        return {"sr": None, "channels": None, "duration": None, "checked": False}
    import av

    _check_nonempty(path)
    try:
        with av.open(path) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            context = stream.codec_context
            sr = int(stream.rate or context.sample_rate or 0) or None
            layout = getattr(context, "layout", None)
            channels = len(layout.channels) if layout is not None else None
            if stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            elif container.duration:
                duration = container.duration / 1_000_000
            else:
                duration = None
    except Exception as err:  # PyAV raises FFmpeg errors of many types
        raise BadFileError(path, f"unreadable container ({_short(err)})") from err
    return {"sr": sr, "channels": channels, "duration": duration, "checked": True}


# ---------------------------------------------------------------------------
# Probing candidate entries


def duration_reason(duration, min_duration=None, max_duration=None):
    """Why ``duration`` fails the filters, or ``None`` if it passes.

    Example
    -------
    >>> duration_reason(0.3, min_duration=0.5)
    'too short (0.3 s < 0.5 s)'
    >>> duration_reason(40.0, max_duration=30), duration_reason(3.0, 0.5, 30)
    ('too long (40 s > 30 s)', None)
    """
    if min_duration is not None and duration < min_duration:
        return f"too short ({duration:.3g} s < {min_duration:.3g} s)"
    if max_duration is not None and duration > max_duration:
        return f"too long ({duration:.3g} s > {max_duration:.3g} s)"
    return None


def av_mismatch(video_duration, audio_duration, fps, tolerance, slack=0.0):
    """Classify an audio/video length difference.

    Arguments
    ---------
    video_duration, audio_duration : float
        Seconds.
    fps : float
        Video frame rate (one frame's worth is the warning threshold).
    tolerance : float or None
        Seconds of difference above which the entry is skipped (``None``:
        always kept).
    slack : float
        Seconds added to the one-frame warning threshold (codec padding of an
        audio stream inside a container, see :data:`CODEC_PADDING_SAMPLES`).

    Returns
    -------
    tuple
        ``(action, reason)``: ``(None, None)`` when within one frame, else
        ``("kept" | "skipped", reason)``.

    Example
    -------
    >>> av_mismatch(3.0, 3.02, 25, 0.2)
    (None, None)
    >>> av_mismatch(3.0, 3.1, 25, 0.2)
    ('kept', 'audio/video length differ by 0.1 s (audio 3.1 s, video 3 s)')
    >>> av_mismatch(3.0, 1.5, 25, 0.2)[0]
    'skipped'
    >>> av_mismatch(3.0, 3.1, 25, 0.2, slack=0.128)
    (None, None)
    """
    difference = abs(audio_duration - video_duration)
    if difference <= 1.0 / fps + slack + 1e-6:
        return None, None
    reason = (
        f"audio/video length differ by {difference:.3g} s "
        f"(audio {audio_duration:.4g} s, video {video_duration:.4g} s)"
    )
    if tolerance is not None and difference > tolerance:
        return "skipped", reason
    return "kept", reason


def probe_settings(
    min_duration=None,
    max_duration=None,
    check_silence=True,
    silence_peak=SILENCE_PEAK,
    silence_rms=SILENCE_RMS,
    exact_frames="auto",
    av_tolerance=0.2,
):
    """The settings dict :func:`probe_entry` takes (defaults filled in).

    Arguments
    ---------
    min_duration, max_duration : float, optional
        Duration filters in seconds.
    check_silence : bool
        Decode separate audio files and skip silent ones.
    silence_peak, silence_rms : float
        Silence thresholds (see :func:`silence_reason`).
    exact_frames : bool or "auto"
        See :func:`video_info`.
    av_tolerance : float or None
        Audio/video length difference (s) above which an entry is skipped;
        above one frame it is only reported.

    Example
    -------
    >>> probe_settings(max_duration=10)["max_duration"]
    10
    """
    return {
        "min_duration": min_duration,
        "max_duration": max_duration,
        "check_silence": check_silence,
        "silence_peak": silence_peak,
        "silence_rms": silence_rms,
        "exact_frames": exact_frames,
        "av_tolerance": av_tolerance,
    }


def probe_entry(entry, settings=None):
    """Fill in ``duration``, ``sr`` (and ``frames``, ``fps`` for videos) of one entry.

    ``entry`` has ``wav`` (audio file) and/or ``video``; with
    ``audio_in_video`` true the audio is the video's own stream. For videos,
    ``duration`` is the video's (``frames / fps``), the length the aligned
    pipeline uses; otherwise the audio's.

    Arguments
    ---------
    entry : dict
        Candidate entry.
    settings : dict, optional
        From :func:`probe_settings`.

    Returns
    -------
    tuple
        ``(entry or None, rows)``: the completed entry (``None`` when skipped)
        and report rows for it.

    Example
    -------
    >>> import tempfile, soundfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> soundfile.write(path, np.full(4000, 0.1), 16000)
    >>> entry, rows = probe_entry({"id": "a", "wav": path})
    >>> entry["duration"], entry["sr"], rows
    (0.25, 16000, [])
    >>> probe_entry({"id": "a", "wav": path}, probe_settings(min_duration=1))[0] is None
    True
    """
    settings = settings or probe_settings()
    rows = []
    out = dict(entry)
    current = entry.get("video") or entry.get("wav")
    try:
        video = None
        if entry.get("video"):
            current = entry["video"]
            video = video_info(current, settings["exact_frames"])
            out["frames"], out["fps"] = video["frames"], video["fps"]
        audio = None
        if entry.get("audio_in_video"):
            audio = video_audio_info(entry["video"])
            if audio is None:
                raise BadFileError(entry["video"], "no audio stream in the video")
        elif entry.get("wav"):
            current = entry["wav"]
            audio = audio_info(current)
        if audio is not None:
            out["sr"] = audio["sr"]
        duration = video["duration"] if video else audio["duration"]
        out["duration"] = round(duration, 4)
        if video and audio and audio.get("duration"):
            in_video = entry.get("audio_in_video") and audio.get("sr")
            action, reason = av_mismatch(
                video["duration"],
                audio["duration"],
                video["fps"],
                settings["av_tolerance"],
                CODEC_PADDING_SAMPLES / audio["sr"] if in_video else 0.0,
            )
            if action == "skipped":
                raise BadFileError(current, reason)
            if action == "kept":
                rows.append({"file": current, "reason": reason, "action": "kept"})
        reason = duration_reason(
            duration, settings["min_duration"], settings["max_duration"]
        )
        if reason:
            raise BadFileError(current, reason)
        if (
            settings["check_silence"]
            and entry.get("wav")
            and not out.get("audio_in_video")
        ):
            current = entry["wav"]
            data, _ = read_audio_array(current)
            reason = silence_reason(
                data, settings["silence_peak"], settings["silence_rms"]
            )
            if reason:
                raise BadFileError(current, reason)
    except BadFileError as err:  # a skipped file gets no other (warning) row
        return None, [{"file": err.path, "reason": err.reason, "action": "skipped"}]
    except Exception as err:  # never let one file stop the preparation
        return None, [
            {
                "file": str(current),
                "reason": f"unexpected error ({type(err).__name__}: {_short(err)})",
                "action": "skipped",
            }
        ]
    return out, rows


def _probe_task(task):
    return probe_entry(*task)


def _init_worker():
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - cv2 is a dependency
        pass


def default_workers():
    """Worker processes used when none is given: the usable cores, at most 8.

    Example
    -------
    >>> 1 <= default_workers() <= MAX_WORKERS
    True
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


def parallel_map(
    function,
    items,
    num_workers=None,
    desc=None,
    progress=True,
    min_parallel_items=MIN_PARALLEL_ITEMS,
):
    """``[function(item) for item in items]`` in worker processes, with progress.

    Results come back in input order. Small inputs (fewer than
    ``min_parallel_items``) or ``num_workers <= 1`` run in this process.
    Workers are started with ``spawn`` (forked children of a process already
    running OpenCV/torch threads can deadlock), so ``function`` must be a
    module-level function.

    Arguments
    ---------
    function : callable
        Picklable function of one argument.
    items : sequence
        Inputs.
    num_workers : int, optional
        Processes (default :func:`default_workers`).
    desc : str, optional
        Progress bar label.
    progress : bool
        Show the tqdm bar.
    min_parallel_items : int
        Below this many items, no worker processes are started.

    Returns
    -------
    list

    Example
    -------
    >>> parallel_map(abs, [-1, 2, -3], progress=False)
    [1, 2, 3]
    """
    items = list(items)
    workers = default_workers() if num_workers is None else int(num_workers)
    bar = tqdm(total=len(items), desc=desc, disable=not progress, dynamic_ncols=True)
    try:
        if workers <= 1 or len(items) < max(2, min_parallel_items):
            results = []
            for item in items:
                results.append(function(item))
                bar.update(1)
            return results
        workers = min(workers, len(items))
        chunksize = max(1, min(64, len(items) // (workers * 8)))
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_init_worker
        ) as pool:
            results = []
            for result in pool.map(function, items, chunksize=chunksize):
                results.append(result)
                bar.update(1)
            return results
    finally:
        bar.close()


def probe_entries(
    entries, report, settings=None, num_workers=None, progress=True, desc="probing"
):
    """Probe candidate entries in parallel; return those kept, report the others.

    Arguments
    ---------
    entries : list of dict
        Candidates (see :func:`probe_entry`).
    report : PrepareReport
        Receives a row per skipped file and per warning.
    settings : dict, optional
        From :func:`probe_settings`.
    num_workers : int, optional
        Worker processes (see :func:`parallel_map`).
    progress : bool
        Show a progress bar.
    desc : str
        Progress bar label.

    Returns
    -------
    list of dict
        Completed entries, in input order.

    Example
    -------
    >>> import tempfile
    >>> bad = os.path.join(tempfile.mkdtemp(), "bad.wav")
    >>> _ = open(bad, "wb").write(b"not audio")
    >>> report = PrepareReport()
    >>> probe_entries([{"id": "x", "wav": bad}], report, progress=False)
    []
    >>> print(report.rows[0]["reason"])
    unreadable audio (soundfile: Error opening ...: Format not recognised.)
    """
    settings = settings or probe_settings()
    tasks = [(entry, settings) for entry in entries]
    kept = []
    for entry, rows in parallel_map(
        _probe_task, tasks, num_workers, desc=desc, progress=progress
    ):
        report.extend(rows)
        if entry is not None:
            kept.append(entry)
    return kept


def fill_missing(entries, report, field, default, reason):
    """Set ``field`` to ``default`` where it is ``None``, with a report warning.

    Called after :func:`probe_entries`, so that files skipped anyway get no
    extra warning.

    Example
    -------
    >>> report = PrepareReport()
    >>> entries = [{"id": "a", "video": "a.mp4", "text": None}]
    >>> fill_missing(entries, report, "text", "", "no transcript")[0]["text"]
    ''
    >>> report.rows
    [{'file': 'a.mp4', 'reason': 'no transcript', 'action': 'kept'}]
    """
    for entry in entries:
        if entry.get(field) is None:
            report.warn(entry.get("video") or entry.get("wav"), reason)
            entry[field] = default
    return entries


def drop_duplicates(entries, report, key="id"):
    """Keep the first entry of each ``key``; report the others.

    Example
    -------
    >>> report = PrepareReport()
    >>> entries = [{"id": "a", "wav": "1.wav"}, {"id": "a", "wav": "2.wav"}]
    >>> [e["wav"] for e in drop_duplicates(entries, report)], report.rows[0]["reason"]
    (['1.wav'], 'duplicate id a (first: 1.wav)')
    """
    seen, kept = {}, []
    for entry in entries:
        first = seen.get(entry[key])
        if first is not None:
            path = entry.get("video") or entry.get("wav")
            report.skip(path, f"duplicate {key} {entry[key]} (first: {first})")
            continue
        seen[entry[key]] = entry.get("video") or entry.get("wav")
        kept.append(entry)
    return kept


# ---------------------------------------------------------------------------
# Deterministic splits


def stable_order(keys, seed=0):
    """``keys`` sorted by a seeded hash: a shuffle that is the same on every machine.

    Unlike ``random.shuffle``, a key's place does not depend on the other
    keys, so adding files to a corpus moves few others between splits.

    Example
    -------
    >>> order = stable_order(["a", "b", "c", "d"], seed=1)
    >>> order == stable_order(["d", "c", "b", "a"], seed=1)
    True
    """

    def _hash(key):
        digest = hashlib.md5(f"{seed}:{key}".encode()).hexdigest()
        return int(digest[:16], 16), key

    return sorted(keys, key=_hash)


def split_counts(n, ratios):
    """How many of ``n`` items each split gets.

    The first split takes the remainder; each other split with a non-zero
    ratio gets at least one item as long as the first keeps one.

    Example
    -------
    >>> split_counts(1000, (0.9, 0.05, 0.05))
    [900, 50, 50]
    >>> split_counts(6, (0.9, 0.05, 0.05)), split_counts(2, (0.9, 0.05, 0.05))
    ([4, 1, 1], [1, 1, 0])
    """
    total = float(sum(ratios))
    if n <= 0 or total <= 0:
        return [max(n, 0)] + [0] * (len(ratios) - 1)
    counts = [0] + [int(n * r / total + 0.5) for r in ratios[1:]]
    for i, ratio in enumerate(ratios[1:], start=1):
        if ratio > 0 and counts[i] == 0 and sum(counts) < n - 1:
            counts[i] = 1
    while sum(counts[1:]) > n - 1 and any(counts[1:]):
        largest = max(range(1, len(counts)), key=lambda i: counts[i])
        counts[largest] -= 1
    counts[0] = n - sum(counts[1:])
    return counts


def split_items(entries, ratios, seed=0, names=SPLITS, key="id"):
    """Split entries by ``key`` in seeded hash order.

    Arguments
    ---------
    entries : list of dict
        Entries with a unique ``key``.
    ratios : sequence of float
        One per split name; the first split takes the remainder.
    seed : int
        Changes the order.
    names : sequence of str
        Split names.
    key : str
        Field to order by.

    Returns
    -------
    dict
        Split name → list of entries (sorted by ``key``).

    Example
    -------
    >>> entries = [{"id": str(i)} for i in range(10)]
    >>> parts = split_items(entries, (0.8, 0.2), names=("train", "valid"))
    >>> [len(parts[n]) for n in ("train", "valid")]
    [8, 2]
    """
    if len(ratios) != len(names):
        raise ValueError(f"{len(ratios)} ratios for {len(names)} splits {names}")
    by_key = {entry[key]: entry for entry in entries}
    ordered = stable_order(by_key, seed)
    counts = split_counts(len(ordered), list(ratios))
    # Held-out splits first in hash order; the first split gets the rest.
    parts, start = {}, 0
    for name, count in zip(names[1:], counts[1:]):
        parts[name] = ordered[start : start + count]
        start += count
    parts[names[0]] = ordered[start:]
    return {name: [by_key[k] for k in sorted(parts[name])] for name in names}


def _group(entries, key):
    groups = {}
    for entry in entries:
        groups.setdefault(entry[key], []).append(entry)
    return groups


def split_seen(entries, ratios, seed=0, names=SPLITS, group_key="spk_id"):
    """Seen-speaker split: every speaker's utterances divided by ``ratios``.

    Example
    -------
    >>> entries = [{"id": f"{s}_{i}", "spk_id": s} for s in "ab" for i in range(20)]
    >>> parts = split_seen(entries, (0.8, 0.1, 0.1))
    >>> [len(parts[n]) for n in SPLITS]
    [32, 4, 4]
    >>> sorted({e["spk_id"] for e in parts["test"]})
    ['a', 'b']
    """
    parts = {name: [] for name in names}
    for _, group in sorted(_group(entries, group_key).items()):
        for name, chunk in split_items(group, ratios, seed, names).items():
            parts[name].extend(chunk)
    return parts


def split_speakers(entries, ratios, seed=0, names=SPLITS, group_key="spk_id"):
    """Unseen-speaker split: speakers divided by ``ratios``, none in two splits.

    Example
    -------
    >>> entries = [{"id": f"{s}_{i}", "spk_id": s} for s in "abcdef" for i in range(3)]
    >>> parts = split_speakers(entries, (0.6, 0.2, 0.2))
    >>> [sorted({e["spk_id"] for e in parts[n]}) for n in SPLITS]
    [['b', 'c', 'd', 'e'], ['a'], ['f']]
    """
    groups = _group(entries, group_key)
    speakers = [{"id": speaker} for speaker in groups]
    assigned = split_items(speakers, ratios, seed, names)
    return {
        name: [e for s in assigned[name] for e in groups[s["id"]]] for name in names
    }


def split_by_lists(
    entries,
    speaker_lists,
    rest=None,
    fallback_ratios=None,
    seed=0,
    group_key="spk_id",
    restrict=True,
):
    """Speaker-disjoint split from fixed speaker lists, tolerant of missing speakers.

    Arguments
    ---------
    entries : list of dict
        Entries with ``group_key``.
    speaker_lists : dict
        Split name → speakers (order of the dict = order of the splits).
    rest : str, optional
        Split that also gets the speakers present but in no list.
    fallback_ratios : sequence of float, optional
        Proportions for the fallback split (:func:`split_speakers` over the
        speakers present). Default: proportional to the list sizes.
    seed : int
        For the fallback split.
    group_key : str
        Speaker field.
    restrict : bool
        When listed speakers are missing from the data: ``True`` keeps the
        lists (restricted to the speakers present) as long as every split
        keeps a speaker, and falls back otherwise; ``False`` always falls back.

    Returns
    -------
    tuple
        ``(parts, missing, fell_back)``: split name → entries, the listed
        speakers absent from the data, and whether the fallback was used.

    Example
    -------
    >>> entries = [{"id": f"{s}_0", "spk_id": s} for s in ("s1", "s2", "s3")]
    >>> lists = {"train": ["s3"], "valid": ["s2"], "test": ["s1"]}
    >>> parts, missing, fell_back = split_by_lists(entries, lists)
    >>> [[e["id"] for e in parts[n]] for n in lists], missing, fell_back
    ([['s3_0'], ['s2_0'], ['s1_0']], [], False)
    >>> lists["test"] = ["s9"]
    >>> parts, missing, fell_back = split_by_lists(entries, lists)
    >>> missing, fell_back, sum(len(p) for p in parts.values())
    (['s9'], True, 3)
    >>> lists["valid"] = ["s2", "s9"]; lists["test"] = ["s1"]
    >>> split_by_lists(entries, lists)[1:]
    (['s9'], False)
    >>> split_by_lists(entries, lists, restrict=False)[1:]
    (['s9'], True)
    """
    names = list(speaker_lists)
    present = {entry[group_key] for entry in entries}
    listed = {spk for spks in speaker_lists.values() for spk in spks}
    missing = sorted(listed - present, key=_natural_key)
    chosen = {name: set(speaker_lists[name]) & present for name in names}
    if rest is not None:
        chosen[rest] |= present - listed
    if all(chosen.values()) and (restrict or not missing):
        parts = {
            name: [e for e in entries if e[group_key] in chosen[name]] for name in names
        }
        return parts, missing, False
    if fallback_ratios is None:
        fallback_ratios = [max(len(speaker_lists[n]), 1) for n in names]
    parts = split_speakers(entries, fallback_ratios, seed, names, group_key)
    return parts, missing, True


def _natural_key(text):
    digits = "".join(ch for ch in text if ch.isdigit())
    return (text.rstrip("0123456789"), int(digits) if digits else -1, text)


def natural_sorted(items):
    """Sort names like ``s2`` before ``s10``.

    Example
    -------
    >>> natural_sorted(["s10", "s2", "s1"])
    ['s1', 's2', 's10']
    """
    return sorted(items, key=_natural_key)


# ---------------------------------------------------------------------------
# Writing and skipping


def write_text_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename.

    Readers never see a half-written file; an interrupted write leaves the
    old file (if any) untouched.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> write_text_atomic(path, "done")
    >>> open(path).read(), [f for f in os.listdir(os.path.dirname(path))]
    ('done', ['x.txt'])
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(
        dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json_atomic(path, data):
    """Write ``data`` as indented JSON, atomically (see :func:`write_text_atomic`).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.json")
    >>> write_json_atomic(path, {"a": 1})
    >>> json.load(open(path))
    {'a': 1}
    """
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_manifest(path, entries):
    """Write entries (dicts with ``id``) as a SpeechBrain JSON manifest.

    The file maps each id to the entry's other fields: ``{id: {field: value}}``.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> path = os.path.join(tempfile.mkdtemp(), "train.json")
    >>> write_manifest(path, [{"id": "u1", "wav": "/a.wav", "duration": 1.5}])
    >>> DynamicItemDataset.from_json(path).data
    {'u1': {'wav': '/a.wav', 'duration': 1.5}}
    """
    data = {}
    for entry in sorted(entries, key=lambda e: e["id"]):
        fields = dict(entry)
        data[fields.pop("id")] = fields
    write_json_atomic(path, data)


def merge_split_manifests(save_folder, out_path, split_names=SPLITS, prefix=""):
    """One manifest holding every utterance of a preparation's split manifests.

    Used to test on a whole other corpus (e.g. unseen speakers). ``prefix`` is
    put before every id and ``spk_id``, so that ``s1`` of another corpus (another
    person) does not collide with a training speaker ``s1``.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for split, key, spk in [("train", "a", "s1"), ("test", "b", "s2")]:
    ...     path = os.path.join(folder, f"{split}.json")
    ...     write_manifest(path, [{"id": key, "spk_id": spk}])
    >>> out = merge_split_manifests(folder, os.path.join(folder, "all.json"),
    ...                             ["train", "test"], prefix="unseen_")
    >>> with open(out) as f:
    ...     json.load(f)
    {'unseen_a': {'spk_id': 'unseen_s1'}, 'unseen_b': {'spk_id': 'unseen_s2'}}
    """
    entries = {}
    for path in manifest_paths(save_folder, split_names).values():
        with open(path, encoding="utf-8") as handle:
            for key, entry in json.load(handle).items():
                if prefix and "spk_id" in entry:
                    entry["spk_id"] = f"{prefix}{entry['spk_id']}"
                entries[f"{prefix}{key}"] = entry
    write_json_atomic(out_path, entries)
    return out_path


def manifest_paths(save_folder, split_names):
    """``{split: <save_folder>/<split>.json}``.

    Example
    -------
    >>> manifest_paths("out", ["train"])
    {'train': 'out/train.json'}
    """
    return {name: os.path.join(save_folder, f"{name}.json") for name in split_names}


def normalise_options(options):
    """Options as they read back from JSON (tuples become lists, etc.).

    Example
    -------
    >>> normalise_options({"ratios": (0.9, 0.1), "seed": 1})
    {'ratios': [0.9, 0.1], 'seed': 1}
    """
    return json.loads(json.dumps(options, sort_keys=True, default=str))


def is_prepared(save_folder, split_names, options):
    """Whether ``save_folder`` holds every manifest, prepared with ``options``.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> is_prepared(folder, ["train"], {"seed": 1})
    False
    >>> write_manifest(os.path.join(folder, "train.json"), [])
    >>> write_json_atomic(os.path.join(folder, OPTIONS_NAME), {"seed": 1})
    >>> is_prepared(folder, ["train"], {"seed": 1})
    True
    >>> is_prepared(folder, ["train"], {"seed": 2})
    False
    """
    path = os.path.join(save_folder, OPTIONS_NAME)
    if not os.path.isfile(path):
        return False
    if not all(
        os.path.isfile(p) for p in manifest_paths(save_folder, split_names).values()
    ):
        return False
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return False
    return saved == normalise_options(options)


def run_preparation(save_folder, options, split_names, build, log_name=None):
    """Skip if already prepared with ``options``; otherwise build and write everything.

    Arguments
    ---------
    save_folder : str
        Where ``<split>.json``, ``prepare_report.csv`` and
        ``prepare_options.json`` go.
    options : dict
        Everything that changes the manifests (JSON-serialisable); saved
        last, so an interrupted run is redone.
    split_names : sequence of str
        Manifests to write.
    build : callable
        ``build(report) -> {split: [entry, ...]}`` (entries are dicts with
        ``id``); records bad files in ``report`` (a :class:`PrepareReport`).
    log_name : str, optional
        Dataset name for log messages.

    Returns
    -------
    dict
        ``{split: manifest path}``.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> def build(report):
    ...     return {"train": [{"id": "u1", "wav": "/a.wav", "duration": 1.0}]}
    >>> path = run_preparation(folder, {"seed": 1}, ["train"], build)["train"]
    >>> mtime = os.stat(path).st_mtime_ns
    >>> _ = run_preparation(folder, {"seed": 1}, ["train"], build)
    >>> os.stat(path).st_mtime_ns == mtime
    True
    """
    name = log_name or options.get("prepare", "data")
    paths = manifest_paths(save_folder, split_names)
    options = dict(options, manifest_version=MANIFEST_VERSION)
    if is_prepared(save_folder, split_names, options):
        logger.info(
            "%s manifests in %s already prepared with these options, skipping",
            name,
            save_folder,
        )
        return paths
    os.makedirs(save_folder, exist_ok=True)
    options_path = os.path.join(save_folder, OPTIONS_NAME)
    if os.path.exists(options_path):
        os.remove(options_path)  # the manifests about to change no longer match it
    report = PrepareReport()
    parts = build(report)
    for split in split_names:
        entries = parts.get(split, [])
        if not entries:
            logger.warning("%s: the %s split is empty", name, split)
        write_manifest(paths[split], entries)
    report_path = report.write(save_folder)
    write_json_atomic(options_path, normalise_options(options))
    sizes = ", ".join(f"{s} {len(parts.get(s, []))}" for s in split_names)
    skipped = len(report.skipped_files())
    logger.info(
        "%s manifests written to %s (%s); %d file(s) skipped, %d warning(s): see %s",
        name,
        save_folder,
        sizes,
        skipped,
        len(report) - skipped,
        report_path,
    )
    return paths


# ---------------------------------------------------------------------------
# Command line helpers


def ratios_arg(text):
    """Parse ``"0.9,0.05,0.05"`` (argparse ``type=``).

    Example
    -------
    >>> ratios_arg("0.9,0.05,0.05")
    (0.9, 0.05, 0.05)
    """
    return tuple(float(x) for x in text.split(","))


def add_common_arguments(
    parser,
    min_duration=None,
    max_duration=None,
    seed=1234,
    av_tolerance=None,
    silence_check=False,
):
    """Add the options prepare scripts share (``--seed``, durations, workers).

    Always ``--min_duration``, ``--max_duration`` and ``--num_workers``;
    ``--seed`` unless ``seed=None`` (datasets without a random split); before
    them, ``--av_tolerance`` when ``av_tolerance`` (its default) is given and
    ``--no_silence_check`` with ``silence_check=True``.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_common_arguments(parser, max_duration=30.0)
    >>> vars(parser.parse_args(["--seed", "3"]))
    {'seed': 3, 'min_duration': None, 'max_duration': 30.0, 'num_workers': None}
    >>> parser = argparse.ArgumentParser()
    >>> add_common_arguments(parser, seed=None, av_tolerance=0.2, silence_check=True)
    >>> sorted(vars(parser.parse_args(["--no_silence_check"])).items())[:2]
    [('av_tolerance', 0.2), ('max_duration', None)]
    """
    if av_tolerance is not None:
        parser.add_argument(
            "--av_tolerance", type=float, default=av_tolerance, help="seconds"
        )
    if silence_check:
        parser.add_argument("--no_silence_check", action="store_true")
    if seed is not None:
        parser.add_argument("--seed", type=int, default=seed, help="split seed")
    parser.add_argument(
        "--min_duration", type=float, default=min_duration, help="seconds"
    )
    parser.add_argument(
        "--max_duration", type=float, default=max_duration, help="seconds"
    )
    parser.add_argument(
        "--num_workers",
        type=int,
        default=None,
        help=f"probing processes (default: cores, at most {MAX_WORKERS})",
    )


def prepare_main(
    prepare,
    argv,
    doc,
    data_help,
    add_arguments=None,
    common=None,
    convert=None,
    several_folders=False,
):
    """The ``main()`` of a prepare script: parse, log to stderr, call ``prepare``.

    The command line is ``DATA_FOLDER SAVE_FOLDER`` (``DATA_FOLDER
    [DATA_FOLDER ...] SAVE_FOLDER`` with ``several_folders``), the script's own
    options (``add_arguments(parser)``), then :func:`add_common_arguments`
    (``common``: its keyword arguments). ``prepare`` gets the folders by
    position and every option by its name, ``--no_silence_check`` as
    ``check_silence=False``; ``convert(options)`` may rewrite the options
    dict first.

    Arguments
    ---------
    prepare : callable
        ``prepare(data_folder(s), save_folder, **options)``.
    argv : list of str or None
        Arguments (``None``: ``sys.argv[1:]``).
    doc : str
        The script's docstring; its first paragraph describes it in ``--help``.
    data_help : str
        Help of the data folder argument.
    add_arguments : callable, optional
        ``add_arguments(parser)`` adds the script's own options.
    common : dict, optional
        Keyword arguments of :func:`add_common_arguments`.
    convert : callable, optional
        ``convert(options) -> options``, for options whose command-line form
        differs from ``prepare``'s.
    several_folders : bool
        One or more data folders (``data_folders``) instead of one.

    Example
    -------
    >>> def prepare(data_folder, save_folder, seed, **durations):
    ...     print(data_folder, save_folder, seed, sorted(durations))
    >>> prepare_main(prepare, ["/data", "save", "--seed", "7"], "Demo.", "root")
    /data save 7 ['max_duration', 'min_duration', 'num_workers']
    >>> def show(folders, save, words, check_silence, **common):
    ...     print(folders, words, check_silence)
    >>> def options(parser):
    ...     parser.add_argument("--words", nargs="+")
    >>> argv = ["a", "b", "save", "--words", "HI", "--no_silence_check"]
    >>> prepare_main(show, argv, "Demo.", "roots", options, {"silence_check": True},
    ...              several_folders=True)
    ['a', 'b'] ['HI'] False
    """
    data = "data_folders" if several_folders else "data_folder"
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument(data, nargs="+" if several_folders else None, help=data_help)
    parser.add_argument("save_folder", help="where the manifests go")
    if add_arguments is not None:
        add_arguments(parser)
    add_common_arguments(parser, **(common or {}))
    options = vars(parser.parse_args(argv))
    setup_cli_logging()
    if "no_silence_check" in options:
        options["check_silence"] = not options.pop("no_silence_check")
    if convert is not None:
        options = convert(options)
    prepare(options.pop(data), options.pop("save_folder"), **options)


def setup_cli_logging():
    """Log INFO messages to stderr (for the prepare scripts run from a shell).

    Example
    -------
    >>> setup_cli_logging()
    """
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
