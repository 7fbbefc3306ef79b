"""One audio or video file: decoding audio, its header (sample rate, length),
silence, a video's frame count and rate, the audio stream inside a video.
Every problem is a :class:`~speechbrain_v2s.errors.FileError` naming the file:
a :class:`~speechbrain_v2s.prepare.reports.BadFileError`, or the decoder's
:class:`~speechbrain_v2s.audio.io.AudioReadError`.
"""

import math
import os

import numpy as np
import soundfile

from speechbrain_v2s.audio import AUDIO_EXTENSIONS  # noqa: F401  (re-exported)
from speechbrain_v2s.audio.io import read_audio
from speechbrain_v2s.errors import first_line
from speechbrain_v2s.prepare.reports import BadFileError
from speechbrain_v2s.video import VIDEO_EXTENSIONS  # noqa: F401  (re-exported)

# Containers whose header frame count is an estimate: frames are counted.
_INEXACT_FRAME_COUNT = (
    ".mpg",
    ".mpeg",
    ".vob",
    ".ts",
    ".webm",
    ".mkv",
    ".flv",
    ".wmv",
)

# Below either threshold (linear, full scale 1.0) decoded audio is "silent":
# peak -60 dBFS, RMS -80 dBFS. Quiet speech is far above both.
SILENCE_PEAK = 1e-3
SILENCE_RMS = 1e-4


def _check_nonempty(path):
    if not os.path.isfile(path):
        raise BadFileError(path, "file not found")
    if os.path.getsize(path) == 0:
        raise BadFileError(path, "empty file (0 bytes)")


def audio_info(path):
    """Sample rate, frames, channels and duration of an audio file.

    Reads only the header with ``soundfile``; formats it cannot read are
    decoded (:func:`speechbrain_v2s.audio.io.read_audio`).

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
    speechbrain_v2s.prepare.reports.BadFileError: /...a.wav: unreadable audio (...)
    """
    _check_nonempty(path)
    try:
        info = soundfile.info(path)
        sr, frames, channels = int(info.samplerate), int(info.frames), info.channels
    except Exception as err:  # libsndfile's errors vary by format
        if path.lower().endswith((".wav", ".flac")):  # no other decoder for these
            raise BadFileError(
                path, f"unreadable audio (soundfile: {first_line(err)})"
            ) from err
        data, sr = read_audio(path)
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
        raise BadFileError(path, f"unreadable container ({first_line(err)})") from err
    return {"sr": sr, "channels": channels, "duration": duration, "checked": True}
