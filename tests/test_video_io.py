"""Video decoding, fps resampling, writing, typed errors, audio read/mux."""

import os

import numpy as np
import pytest

from speechbrain_v2s.video.errors import (
    EmptyVideoError,
    NoAudioStreamError,
    UnreadableVideoError,
    VideoError,
    VideoWriteError,
)
from speechbrain_v2s.video.io import (
    mux_audio,
    read_audio_from_video,
    read_video,
    resample_indices,
    write_video,
)


def _counter_frames(num, size=32):
    """Frames whose brightness encodes their index (survives lossy coding)."""
    levels = (np.arange(num) * (240 // max(num - 1, 1))).astype(np.uint8)
    return np.repeat(levels[:, None, None], size * size, 1).reshape(num, size, size)


def _index_of(frames, num):
    step = 240 // max(num - 1, 1)
    return np.round(frames.reshape(len(frames), -1).mean(1) / step).astype(int)


def test_resample_30_to_25_count_and_frames(tmp_path):
    path = tmp_path / "c30.mp4"
    write_video(path, _counter_frames(30), fps=30)
    clip = read_video(path, target_fps=25.0, grayscale=True)
    assert clip.frames.shape == (25, 32, 32)
    assert clip.fps == 25.0 and clip.original_fps == pytest.approx(30.0)
    assert clip.duration == pytest.approx(1.0)
    # Nearest-timestamp selection: output j shows source round(j * 30 / 25).
    assert _index_of(clip.frames, 30).tolist() == resample_indices(30, 30, 25).tolist()
    dropped = sorted(set(range(30)) - set(_index_of(clip.frames, 30).tolist()))
    assert dropped == [3, 9, 15, 21, 27]  # one frame in six


def test_resample_counts():
    assert len(resample_indices(60, 30.0, 25.0)) == 50
    assert len(resample_indices(75, 25.0, 25.0)) == 75
    assert len(resample_indices(50, 50.0, 25.0)) == 25
    assert resample_indices(4, 50.0, 25.0).tolist() == [0, 2]
    assert len(resample_indices(10, 12.5, 25.0)) == 20


@pytest.mark.parametrize(
    "source_fps", [30.0, 29.97, 25.0, 24.0, 50.0, 59.94, 12.5, 15.0, 7.0]
)
@pytest.mark.parametrize("timed", [True, False])
def test_streamed_resampling_picks_the_frames_of_resample_indices(source_fps, timed):
    """The timestamp resampler releases frames one at a time, with no frame
    count known in advance, yet on a constant-rate file (or one without
    timestamps) picks what resample_indices picks for the whole video."""
    from speechbrain_v2s.video.timing import TimedResampler

    for num in (1, 2, 3, 7, 30, 61, 250):
        resampler = TimedResampler(source_fps, 25.0)
        # Millisecond timestamps, as OpenCV reports them.
        times = [
            round(i / source_fps * 1000) / 1000 if timed else None for i in range(num)
        ]
        picked = [out for i in range(num) for out in resampler.push(i, times[i])]
        picked += resampler.finish()
        assert picked == resample_indices(num, source_fps, 25.0).tolist(), num


def test_keep_rate_rgb_and_max_frames(tmp_path):
    path = tmp_path / "c.avi"
    frames = np.zeros((10, 24, 40, 3), np.uint8)
    frames[..., 0] = 200  # red stays red: RGB order, not BGR
    write_video(path, frames, fps=25)
    clip = read_video(path, target_fps=None, max_frames=4)
    assert clip.frames.shape == (4, 24, 40, 3)
    assert clip.frames[..., 0].mean() > 150 and clip.frames[..., 2].mean() < 50


@pytest.mark.parametrize("ext", [".mp4", ".mpg", ".avi", ".mov", ".mkv", ".webm"])
def test_containers_round_trip(tmp_path, ext):
    path = tmp_path / f"v{ext}"
    write_video(path, _counter_frames(8, 48), fps=25)
    clip = read_video(path, grayscale=True)
    assert clip.frames.shape == (8, 48, 48)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(UnreadableVideoError, match="file not found"):
        read_video(tmp_path / "nope.mp4")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(UnreadableVideoError) as info:
        read_video(corrupt)
    assert info.value.path == str(corrupt)
    assert str(info.value).startswith(str(corrupt) + ": ")
    assert "\n" not in str(info.value)


def test_empty_videos(tmp_path):
    zero = tmp_path / "zero.mp4"
    zero.write_bytes(b"")
    with pytest.raises(EmptyVideoError):
        read_video(zero)
    # A valid container holding only audio: no video frames.
    source = tmp_path / "src.mp4"
    write_video(source, _counter_frames(5), fps=25)
    with_audio = tmp_path / "with_audio.mp4"
    mux_audio(source, np.zeros(4000, np.float32), 16000, with_audio)
    import av

    audio_only = tmp_path / "audio_only.mp4"
    with av.open(str(with_audio)) as src, av.open(str(audio_only), "w") as dst:
        stream = dst.add_stream_from_template(src.streams.audio[0])
        for packet in src.demux(src.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    with pytest.raises(EmptyVideoError) as info:
        read_video(audio_only)
    assert isinstance(info.value, VideoError)


def test_write_errors(tmp_path):
    with pytest.raises(VideoWriteError, match="MPEG-1"):
        write_video(tmp_path / "a.mpg", _counter_frames(3), fps=12.5)
    with pytest.raises(VideoWriteError, match="extension"):
        write_video(tmp_path / "a.xyz", _counter_frames(3))
    with pytest.raises(VideoWriteError, match="uint8"):
        write_video(tmp_path / "a.mp4", np.zeros((3, 8, 8), np.float32))


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".mpg"])
def test_mux_audio_round_trip(tmp_path, ext):
    import av

    video = tmp_path / "silent.mp4"
    write_video(video, _counter_frames(50, 64), fps=25)  # 2 s
    sr = 24000
    t = np.arange(2 * sr) / sr
    wav = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = tmp_path / f"muxed{ext}"
    mux_audio(video, wav, sr, out)
    with av.open(str(out)) as container:
        assert len(container.streams.audio) == 1
        assert len(container.streams.video) == 1
    audio = read_audio_from_video(out, sr)
    # Encoders add a few ms of priming/padding.
    assert abs(len(audio) / sr - 2.0) < 0.05
    assert np.sqrt(np.mean(audio[sr // 2 : -sr // 2] ** 2)) == pytest.approx(
        0.5 / np.sqrt(2), rel=0.1
    )
    assert read_video(out).num_frames == 50
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]


def test_audio_errors(tmp_path):
    video = tmp_path / "silent.mp4"
    write_video(video, _counter_frames(5), fps=25)
    with pytest.raises(NoAudioStreamError):
        read_audio_from_video(video, 16000)
    with pytest.raises(ValueError):
        mux_audio(video, np.zeros(100), 16000, video)
