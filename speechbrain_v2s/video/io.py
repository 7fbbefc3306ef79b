"""Video decoding with frame-rate resampling, video writing, and audio in containers.

Frames are decoded with OpenCV's bundled FFmpeg (mp4, mpg, avi, mov, mkv, webm, ...),
falling back to PyAV (``pip install av``) when OpenCV cannot open a file. Audio is
read from and muxed into containers with PyAV only: OpenCV has no audio, and
torchaudio 2.11 needs ``torchcodec`` plus system FFmpeg libraries to decode
containers, whereas the ``av`` wheel bundles its own FFmpeg.

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
from fractions import Fraction

import cv2
import numpy as np

from speechbrain_v2s.video import VIDEO_EXTENSIONS  # noqa: F401  (re-exported)
from speechbrain_v2s.video.atomic import remove_stale_temps, temp_path
from speechbrain_v2s.video.errors import (
    EmptyVideoError,
    NoAudioStreamError,
    UnreadableVideoError,
    VideoWriteError,
)
from speechbrain_v2s.video.timing import (
    TimedResampler,
    declared_frames,
    warn_if_short,
)

# MPEG-1 only allows these frame rates (the codec refuses others).
_MPEG1_RATES = (23.976, 24.0, 25.0, 29.97, 30.0, 50.0, 59.94, 60.0)


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


def _require_av(what):
    try:
        import av
    except ImportError as err:
        raise ImportError(
            f"{what} needs PyAV, which bundles FFmpeg: pip install av"
        ) from err
    return av


def read_audio_from_video(path, sample_rate=24000):
    """Decode the first audio stream of a container as mono float32.

    Needs PyAV (``pip install av``). Channels are averaged; the rate is converted
    by FFmpeg's resampler.

    Arguments
    ---------
    path : str or os.PathLike
        A container with an audio stream (mp4, mkv, mov, webm, avi, mpg, wav...).
    sample_rate : int
        Output rate in Hz.

    Returns
    -------
    numpy.ndarray
        float32 ``[samples]`` in [-1, 1].

    Raises
    ------
    UnreadableVideoError
        Missing or undecodable file.
    NoAudioStreamError
        The container has no audio.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> src, out = os.path.join(folder, "v.mp4"), os.path.join(folder, "av.mp4")
    >>> write_video(src, np.zeros((25, 32, 32), np.uint8), fps=25)
    >>> mux_audio(src, np.zeros(16000, np.float32), 16000, out)
    >>> wav = read_audio_from_video(out, 16000)
    >>> abs(len(wav) - 16000) < 1600
    True
    """
    path = str(path)
    av = _require_av("reading audio from a video")
    if not os.path.isfile(path):
        raise UnreadableVideoError(path, "file not found")
    try:
        container = av.open(path)
    except Exception as err:
        raise UnreadableVideoError(path, f"cannot open ({err})") from err
    with container:
        if not container.streams.audio:
            raise NoAudioStreamError(path, "no audio stream in the container")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):  # flush buffered samples
                chunks.append(out.to_ndarray().reshape(-1))
        except Exception as err:
            raise UnreadableVideoError(path, f"cannot decode audio ({err})") from err
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)


# Per output extension: audio codec, video codecs that can be copied as they are,
# and the video codec(s) to re-encode to otherwise (first one available wins).
_MP4_COPY = {"h264", "hevc", "mpeg4", "av1"}
_MUX_RULES = {
    ".mp4": ("aac", _MP4_COPY, ("libx264", "mpeg4")),
    ".m4v": ("aac", _MP4_COPY, ("libx264", "mpeg4")),
    ".mov": ("aac", _MP4_COPY, ("libx264", "mpeg4")),
    ".mkv": ("aac", _MP4_COPY | {"vp8", "vp9", "mpeg2video"}, ("libx264", "mpeg4")),
    ".webm": ("libopus", {"vp8", "vp9", "av1"}, ("libvpx", "libvpx-vp9")),
    # AVI and MPEG-PS timestamps break when packets are copied: always re-encode.
    ".avi": ("mp3", set(), ("mpeg4",)),
    ".mpg": ("mp2", set(), ("mpeg1video",)),
    ".mpeg": ("mp2", set(), ("mpeg1video",)),
}


def _to_channels_first(wav):
    if hasattr(wav, "detach"):  # torch tensor, without importing torch here
        wav = wav.detach().cpu().numpy()
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim == 1:
        wav = wav[None]
    elif wav.ndim == 2 and wav.shape[0] > wav.shape[1]:
        wav = wav.T  # [samples, channels] -> [channels, samples]
    if wav.ndim != 2 or wav.shape[0] > 2 or wav.shape[1] == 0:
        raise ValueError(
            f"wav must be [samples] or [channels<=2, samples], got {wav.shape}"
        )
    return np.ascontiguousarray(np.clip(wav, -1.0, 1.0))


def mux_audio(video_path, wav, sample_rate, out_path):
    """Write ``out_path``: the video stream of ``video_path`` with ``wav`` as audio.

    Video packets are copied unchanged when the output container takes their codec
    (e.g. MPEG-4/H.264 into mp4), otherwise re-encoded (H.264 or MPEG-4 for
    mp4/mov/mkv, VP8 for webm, MPEG-4 for avi, MPEG-1 for mpg). Any audio of the
    input is dropped. The audio codec follows the output extension: AAC for
    mp4/mov/mkv, Opus for webm, MP3 for avi, MP2 for mpg. The audio is not
    trimmed or padded to the video length. Needs PyAV (``pip install av``).
    The file is written to a temporary name first, so a failure leaves nothing.

    Arguments
    ---------
    video_path : str or os.PathLike
        Source video.
    wav : numpy.ndarray or torch.Tensor
        float ``[samples]`` or ``[channels, samples]`` (1 or 2 channels) in [-1, 1].
    sample_rate : int
        Rate of ``wav`` in Hz.
    out_path : str or os.PathLike
        Output file (may not be ``video_path``).

    Raises
    ------
    UnreadableVideoError
        The source video is missing or cannot be decoded.
    VideoWriteError
        Unsupported output extension or no usable encoder.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> src, out = os.path.join(folder, "v.mp4"), os.path.join(folder, "o.mp4")
    >>> write_video(src, np.zeros((10, 32, 32), np.uint8), fps=25)
    >>> mux_audio(src, np.zeros(9600, np.float32), 24000, out)
    >>> read_video(out).num_frames
    10
    """
    av = _require_av("mux_audio")
    video_path, out_path = str(video_path), str(out_path)
    if os.path.abspath(video_path) == os.path.abspath(out_path):
        raise ValueError("mux_audio cannot write over its input video")
    if not os.path.isfile(video_path):
        raise UnreadableVideoError(video_path, "file not found")
    ext = os.path.splitext(out_path)[1].lower()
    if ext not in _MUX_RULES:
        raise VideoWriteError(
            out_path,
            f"unsupported extension {ext!r} for muxing (use one of "
            + ", ".join(sorted(_MUX_RULES))
            + ")",
        )
    samples = _to_channels_first(wav)
    folder = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    # Earlier calls killed mid-write left their temporary files here.
    remove_stale_temps(folder, ext, ext, recursive=False)
    tmp = temp_path(out_path, ext)
    try:
        _mux(av, video_path, samples, int(sample_rate), tmp, ext)
        os.replace(tmp, out_path)
    except av.FFmpegError as err:
        raise VideoWriteError(out_path, f"muxing failed ({err})") from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _mux(av, video_path, samples, sample_rate, out_path, ext):
    audio_codec, copyable, encoders = _MUX_RULES[ext]
    try:
        src = av.open(video_path)
    except Exception as err:
        raise UnreadableVideoError(video_path, f"cannot open ({err})") from err
    with src:
        if not src.streams.video:
            raise EmptyVideoError(video_path, "no video stream to mux")
        in_video = src.streams.video[0]
        copy = in_video.codec_context.name in copyable
        with av.open(out_path, "w") as dst:
            if copy:
                out_video = dst.add_stream_from_template(in_video)
            else:
                out_video = _add_video_encoder(av, dst, in_video, encoders, out_path)
            layout = "mono" if samples.shape[0] == 1 else "stereo"
            out_audio = dst.add_stream(audio_codec, rate=sample_rate, layout=layout)
            if copy:
                for packet in src.demux(in_video):
                    if packet.dts is None:  # the demuxer's final empty packet
                        continue
                    packet.stream = out_video
                    dst.mux(packet)
            else:
                time_base = Fraction(1) / out_video.codec_context.framerate
                for index, frame in enumerate(src.decode(in_video)):
                    # Renumber frames: source timestamps may not fit the new codec.
                    frame.pts = index
                    frame.time_base = time_base
                    dst.mux(out_video.encode(frame))
                dst.mux(out_video.encode(None))
            # Feed audio in blocks; PyAV re-chunks to the encoder's frame size.
            block = 4096
            for start in range(0, samples.shape[1], block):
                chunk = np.ascontiguousarray(samples[:, start : start + block])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
                frame.sample_rate = sample_rate
                frame.pts = start
                frame.time_base = Fraction(1, sample_rate)
                dst.mux(out_audio.encode(frame))
            dst.mux(out_audio.encode(None))


def _add_video_encoder(av, dst, in_video, encoders, out_path):
    rate = in_video.average_rate or in_video.guessed_rate or Fraction(25)
    rate = Fraction(rate).limit_denominator(1001)
    for codec in encoders:
        if codec not in av.codecs_available:
            continue
        if codec == "mpeg1video" and not any(
            abs(float(rate) - r) < 1e-3 for r in _MPEG1_RATES
        ):
            raise VideoWriteError(out_path, f"MPEG-1 cannot store {float(rate):g} fps")
        stream = dst.add_stream(codec, rate=rate)
        # yuv420p needs even sizes; odd ones lose their last row/column.
        stream.width = in_video.codec_context.width // 2 * 2
        stream.height = in_video.codec_context.height // 2 * 2
        stream.pix_fmt = "yuv420p"
        return stream
    raise VideoWriteError(out_path, f"no video encoder available among {encoders}")
