"""Audio in video containers, with PyAV: reading it, and muxing speech into a video.

OpenCV has no audio, and torchaudio 2.11 needs ``torchcodec`` plus system FFmpeg
libraries to decode containers, whereas the ``av`` wheel bundles its own FFmpeg.
Both functions are re-exported by :mod:`.io`.

Example
-------
>>> check_mux_output("talk.xyz")
Traceback (most recent call last):
...
speechbrain_v2s.video.errors.VideoWriteError: talk.xyz: cannot mux into '.xyz' files ...
"""

import os
from fractions import Fraction

import numpy as np

from speechbrain_v2s.atomic import atomic_path, remove_stale_temps
from speechbrain_v2s.video.errors import (
    EmptyVideoError,
    NoAudioStreamError,
    UnreadableVideoError,
    VideoWriteError,
)

# MPEG-1 only allows these frame rates (the codec refuses others).
_MPEG1_RATES = (23.976, 24.0, 25.0, 29.97, 30.0, 50.0, 59.94, 60.0)


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
    >>> from speechbrain_v2s.video.io import write_video
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


#: Extensions :func:`mux_audio` writes.
MUX_EXTENSIONS = tuple(sorted(_MUX_RULES))


def check_mux_output(out_path):
    """The lower-case extension of ``out_path`` if :func:`mux_audio` can write
    it, so a command can refuse a wrong name before any work is done.

    Raises
    ------
    VideoWriteError
        No container of that extension can be written.

    Example
    -------
    >>> check_mux_output("out/Talk.MP4")
    '.mp4'
    """
    ext = os.path.splitext(str(out_path))[1].lower()
    if ext not in _MUX_RULES:
        what = f"{ext!r} files" if ext else "a name without an extension"
        raise VideoWriteError(
            out_path,
            f"cannot mux into {what} (use one of {', '.join(MUX_EXTENSIONS)})",
        )
    return ext


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
    >>> from speechbrain_v2s.video.io import read_video, write_video
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
    ext = check_mux_output(out_path)
    samples = _to_channels_first(wav)
    folder = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    # Earlier calls killed mid-write left their temporary files here.
    remove_stale_temps(folder, ext, ext, recursive=False)
    try:
        # The temporary name keeps the extension: PyAV picks the container by it.
        with atomic_path(out_path, ext) as tmp:
            _mux(av, video_path, samples, int(sample_rate), tmp, ext)
    except av.FFmpegError as err:
        raise VideoWriteError(out_path, f"muxing failed ({err})") from err


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
