"""Video decoding with frame-rate resampling, video writing, and audio in containers.

Frames are decoded with OpenCV's bundled FFmpeg (mp4, mpg, avi, mov, mkv, webm, ...),
falling back to PyAV (``pip install av``) when OpenCV cannot open a file. Audio in
containers (:func:`read_audio_from_video`, :func:`mux_audio`) lives in
:mod:`.mux` and is re-exported here.

Example
-------
>>> import os, tempfile, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "clip.mp4")
>>> write_video(path, np.zeros((30, 32, 32), np.uint8), fps=30)
>>> clip = read_video(path, target_fps=25.0, grayscale=True)
>>> clip.frames.shape, clip.fps, clip.original_fps
((25, 32, 32), 25.0, 30.0)
"""

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from speechbrain_v2s.video import VIDEO_EXTENSIONS  # noqa: F401  (re-exported)
from speechbrain_v2s.video.errors import (
    EmptyVideoError,
    UnreadableVideoError,
    VideoWriteError,
)
from speechbrain_v2s.video.mux import (  # noqa: F401  (re-exported)
    _MPEG1_RATES,
    MUX_EXTENSIONS,
    check_mux_output,
    mux_audio,
    read_audio_from_video,
)
from speechbrain_v2s.video.timing import (
    TimedResampler,
    declared_frames,
    warn_if_short,
)


@dataclass
class VideoClip:
    """Decoded frames with their timing.

    Attributes
    ----------
    frames : numpy.ndarray
        uint8 ``[T, H, W]`` (grayscale) or ``[T, H, W, 3]`` (RGB).
    fps : float
        Frame rate of ``frames`` (after resampling).
    original_fps : float
        Frame rate stored in the file.
    duration : float
        Seconds covered by ``frames`` (``T / fps``).
    path : str or None
        Where the frames came from.

    Example
    -------
    >>> clip = VideoClip(np.zeros((50, 8, 8), np.uint8), 25.0, 25.0, 2.0)
    >>> clip.num_frames, clip.duration
    (50, 2.0)
    """

    frames: np.ndarray
    fps: float
    original_fps: float
    duration: float
    path: str = None

    @property
    def num_frames(self):
        """Number of frames ``T``.

        Example
        -------
        >>> VideoClip(np.zeros((3, 2, 2), np.uint8), 25.0, 25.0, 0.12).num_frames
        3
        """
        return int(self.frames.shape[0])


def resampled_count(num_frames, source_fps, target_fps):
    """Frames at ``target_fps`` that cover ``num_frames`` frames at ``source_fps``
    (the same duration, rounded half up; at least one).

    Example
    -------
    >>> resampled_count(30, 30.0, 25.0), resampled_count(1, 50.0, 25.0)
    (25, 1)
    """
    return max(1, int(math.floor(num_frames * target_fps / source_fps + 0.5)))


def source_frame_index(j, source_fps, target_fps):
    """The source frame nearest in time to output frame ``j`` (an int or an
    array of them), before clipping to the frames that exist.

    Output frame ``j`` (at ``j / target_fps`` s) takes source frame
    ``round(j * source_fps / target_fps)``; ties go to the earlier frame (the
    one on screen at that time), where numpy's round-half-to-even would
    alternate.

    Example
    -------
    >>> source_frame_index(1, 50.0, 25.0), source_frame_index(1, 12.5, 25.0)
    (2, 0)
    >>> source_frame_index(np.arange(3), 30.0, 25.0).tolist()
    [0, 1, 2]
    """
    index = np.ceil(np.asarray(j) * (source_fps / target_fps) - 0.5).astype(np.int64)
    return int(index) if index.ndim == 0 else index


def resample_indices(num_frames, source_fps, target_fps):
    """Indices of the source frames nearest in time to each target frame.

    Output frame ``j`` takes :func:`source_frame_index` ``(j)``; the output
    covers the same duration, :func:`resampled_count` frames.

    Arguments
    ---------
    num_frames : int
        Number of source frames.
    source_fps : float
        Source frame rate.
    target_fps : float
        Wanted frame rate.

    Returns
    -------
    numpy.ndarray
        int64 indices into the source frames.

    Example
    -------
    >>> resample_indices(30, 30.0, 25.0).shape
    (25,)
    >>> resample_indices(6, 30.0, 25.0).tolist()
    [0, 1, 2, 4, 5]
    >>> resample_indices(3, 12.5, 25.0).tolist()
    [0, 0, 1, 1, 2, 2]
    """
    if num_frames <= 0:
        return np.zeros(0, dtype=np.int64)
    count = resampled_count(num_frames, source_fps, target_fps)
    idx = source_frame_index(np.arange(count), source_fps, target_fps)
    return np.clip(idx, 0, num_frames - 1)


def convert_frame(frame_bgr, grayscale):
    """An OpenCV frame (BGR, or already one channel) as luminance or RGB.

    Example
    -------
    >>> bgr = np.zeros((2, 2, 3), np.uint8)
    >>> bgr[..., 0] = 255  # blue
    >>> convert_frame(bgr, grayscale=False)[0, 0].tolist()
    [0, 0, 255]
    >>> convert_frame(bgr, grayscale=True).shape
    (2, 2)
    """
    if frame_bgr.ndim == 2:
        return frame_bgr if grayscale else cv2.cvtColor(frame_bgr, cv2.COLOR_GRAY2RGB)
    code = cv2.COLOR_BGR2GRAY if grayscale else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(frame_bgr, code)


def _utf8_name(path):
    try:
        os.fspath(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


@contextmanager
def utf8_name(path):
    """A name of ``path`` that C libraries take, valid inside the ``with``.

    OpenCV crashes the process (SIGSEGV) on a name that is not valid UTF-8
    (legal on Linux; Python holds it as a surrogate-escaped str), and
    libsndfile refuses it. Such a file is named ``/proc/self/fd/N`` while
    this holds it open; other names, and systems without ``/proc``, get
    ``path`` itself.

    Example
    -------
    >>> with utf8_name(os.fsdecode(b"/no/caf\\xe9.mp4")) as name:  # missing
    ...     name == os.fsdecode(b"/no/caf\\xe9.mp4")
    True
    """
    path = os.fspath(path)
    if _utf8_name(path) or not os.path.isdir("/proc/self/fd"):
        yield path
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # missing or unreadable: the reader says which
        yield path
        return
    try:
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def open_capture(path):
    """``cv2.VideoCapture`` of ``path``, safe for any file name.

    A name that is not UTF-8 is opened through :func:`utf8_name`; where that
    cannot help, the capture is left closed, so callers fall back to PyAV,
    which takes any name.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> write_video(os.path.join(folder, "a.mp4"), np.zeros((3, 16, 16), np.uint8))
    >>> odd = os.path.join(folder, os.fsdecode(b"caf\\xe9.mp4"))  # Latin-1 name
    >>> os.rename(os.path.join(folder, "a.mp4"), odd)
    >>> capture = open_capture(odd)
    >>> capture.isOpened(), int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    (True, 3)
    """
    # FFmpeg opens the file anew through the link: the fd may close after.
    with utf8_name(path) as name:
        return cv2.VideoCapture(name) if _utf8_name(name) else cv2.VideoCapture()


def _usable_rate(fps):
    return bool(fps) and math.isfinite(fps) and fps > 0


def timed_resampler(fps, target_fps):
    """The :class:`.timing.TimedResampler` for a file stated at ``fps`` (a rate
    that is missing or absurd counts as ``target_fps``, or 25).

    Example
    -------
    >>> timed_resampler(0.0, 25.0).source_fps, timed_resampler(30.0, None).step
    (25.0, None)
    """
    return TimedResampler(fps if _usable_rate(fps) else target_fps or 25.0, target_fps)


def _decode_opencv(path, grayscale, target_fps, max_frames):
    """Return (frames list, fps, resampler) or None when OpenCV cannot open
    the file; ``fps`` is 0 when the header has no usable rate."""
    cap = open_capture(str(path))
    try:
        if not cap.isOpened():
            return None
        fps = cap.get(cv2.CAP_PROP_FPS)
        resampler = timed_resampler(fps, target_fps)
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            time_s = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            frames.extend(resampler.push(convert_frame(frame, grayscale), time_s))
            if max_frames is not None and len(frames) >= max_frames:
                return frames, fps, resampler  # the rest is not decoded
        frames.extend(resampler.finish())
        if max_frames is None and _usable_rate(fps):
            warn_if_short(path, resampler, cap.get(cv2.CAP_PROP_FRAME_COUNT))
        return frames, fps, resampler
    finally:
        cap.release()


def _decode_pyav(path, grayscale, target_fps, max_frames):
    """Return (frames list, fps, resampler) with PyAV; raise the typed error
    on failure."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise EmptyVideoError(path, "no video stream in the container")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
            resampler = timed_resampler(fps, target_fps)
            frames = []
            fmt = "gray" if grayscale else "rgb24"
            for frame in container.decode(stream):
                image = frame.to_ndarray(format=fmt)
                frames.extend(resampler.push(image, frame.time))
                if max_frames is not None and len(frames) >= max_frames:
                    return frames, fps, resampler
            frames.extend(resampler.finish())
            if max_frames is None and _usable_rate(fps):
                declared = declared_frames(stream, container, fps)
                warn_if_short(path, resampler, declared)
            return frames, fps, resampler
    except EmptyVideoError:
        raise
    except Exception as err:  # FFmpeg raises many error types for bad data
        raise UnreadableVideoError(
            path, f"cannot decode ({type(err).__name__}: {err})"
        ) from err


def read_video(path, target_fps=25.0, grayscale=False, max_frames=None):
    """Decode a video file into uint8 frames at ``target_fps``.

    Each output time shows the source frame nearest to it by the frames'
    timestamps (e.g. 30 fps -> 25 fps drops every sixth frame), so a
    variable-frame-rate video keeps its duration (see
    :class:`.timing.TimedResampler`). A file that decodes to clearly fewer
    frames than its container declares (truncated, damaged) is read as far as
    it goes, with one logged warning naming it.

    Arguments
    ---------
    path : str or os.PathLike
        Any container/codec that OpenCV's (or PyAV's) FFmpeg decodes.
    target_fps : float or None
        Output rate; ``None`` keeps the file's frames and stated rate.
    grayscale : bool
        Return ``[T, H, W]`` luminance instead of ``[T, H, W, 3]`` RGB.
    max_frames : int, optional
        Stop after this many output frames (decoding stops early too).

    Returns
    -------
    VideoClip

    Raises
    ------
    UnreadableVideoError
        Missing file, unsupported codec or corrupt data.
    EmptyVideoError
        The file holds no frames.

    Example
    -------
    >>> read_video("/nonexistent.mp4")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.video.errors.UnreadableVideoError: /nonexistent.mp4: file not found
    """
    path = str(path)
    if not os.path.isfile(path):
        raise UnreadableVideoError(path, "file not found")
    if os.path.getsize(path) == 0:
        raise EmptyVideoError(path, "file is empty (0 bytes)")
    decoded = _decode_opencv(path, grayscale, target_fps, max_frames)
    if decoded is None or not decoded[0]:
        # OpenCV cannot open it or reads nothing: PyAV tells empty from corrupt.
        fallback = _decode_pyav(path, grayscale, target_fps, max_frames)
        if fallback is None:  # PyAV not installed
            if decoded is None:
                raise UnreadableVideoError(
                    path, "cannot open (unsupported container/codec or corrupt file)"
                )
            raise EmptyVideoError(path, "0 frames decoded")
        decoded = fallback
    frames, fps, resampler = decoded
    if not frames:
        raise EmptyVideoError(path, "0 frames decoded")
    if max_frames is not None:
        frames = frames[: int(max_frames)]
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise UnreadableVideoError(path, f"frame size changes within the file {shapes}")
    # No usable rate in the header: the frames are taken to be at the target.
    fps = float(fps) if _usable_rate(fps) else float(target_fps or 25.0)
    out_fps = fps if resampler.step in (None, 1.0) else float(target_fps)
    return VideoClip(
        frames=np.stack(frames).astype(np.uint8, copy=False),
        fps=out_fps,
        original_fps=fps,
        duration=len(frames) / out_fps,
        path=path,
    )


def _fourcc_for(path):
    ext = os.path.splitext(str(path))[1].lower()
    if ext in (".mp4", ".m4v", ".mov", ".mkv"):
        return "mp4v"
    if ext in (".mpg", ".mpeg"):
        return "PIM1"
    if ext == ".avi":
        return "MJPG"
    if ext == ".webm":
        return "VP80"
    raise VideoWriteError(path, f"unsupported extension {ext!r} for writing")


def write_video(path, frames, fps=25.0):
    """Write uint8 frames to a video file; the codec follows the extension.

    ``.mp4/.m4v/.mov/.mkv``: MPEG-4 part 2 (``mp4v``); ``.mpg/.mpeg``: MPEG-1
    (only standard rates 23.976/24/25/29.97/30/50/59.94/60); ``.avi``: MJPEG;
    ``.webm``: VP8. Compression is lossy, so decoded pixels differ slightly.

    Arguments
    ---------
    path : str or os.PathLike
        Output file; its folder is created if missing.
    frames : numpy.ndarray
        uint8 ``[T, H, W]`` (grayscale) or ``[T, H, W, 3]`` (RGB).
    fps : float
        Frame rate written to the file.

    Raises
    ------
    VideoWriteError
        Unsupported extension, or the codec refuses the size/rate.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.mpg")
    >>> write_video(path, np.zeros((5, 48, 64, 3), np.uint8), fps=25)
    >>> read_video(path).frames.shape
    (5, 48, 64, 3)
    >>> write_video(path, np.zeros((5, 48, 64), np.uint8), fps=12.5)
    Traceback (most recent call last):
    ...
    speechbrain_v2s.video.errors.VideoWriteError: ...MPEG-1 cannot store 12.5 fps...
    """
    path = str(path)
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise VideoWriteError(path, f"frames must be uint8, got {frames.dtype}")
    if frames.ndim not in (3, 4) or (frames.ndim == 4 and frames.shape[-1] != 3):
        raise VideoWriteError(
            path, f"frames must be [T,H,W] or [T,H,W,3], got {frames.shape}"
        )
    if frames.shape[0] == 0:
        raise VideoWriteError(path, "no frames to write")
    fourcc = _fourcc_for(path)
    if fourcc == "PIM1" and not any(abs(fps - r) < 1e-3 for r in _MPEG1_RATES):
        raise VideoWriteError(
            path,
            f"MPEG-1 cannot store {fps:g} fps (allowed: "
            + ", ".join(str(r) for r in _MPEG1_RATES)
            + ")",
        )
    if not _utf8_name(path):  # cv2.VideoWriter would crash the process
        raise VideoWriteError(path, "OpenCV cannot write a name that is not UTF-8")
    height, width = frames.shape[1:3]
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    writer = cv2.VideoWriter(
        path, cv2.VideoWriter_fourcc(*fourcc), float(fps), (width, height), True
    )
    if not writer.isOpened():
        raise VideoWriteError(
            path, f"codec {fourcc} refused {width}x{height} at {fps:g} fps"
        )
    try:
        for frame in frames:
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            else:
                frame = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
            writer.write(frame)
    finally:
        writer.release()
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        raise VideoWriteError(
            path, f"codec {fourcc} wrote nothing for {width}x{height} at {fps:g} fps"
        )
