"""More bad inputs, each one clear line and the right exit code: a --mux name
that cannot be written, truncated and variable-frame-rate videos, FFmpeg's
own log lines, a model folder that is missing or a Hub that cannot be reached,
and the audio-only preparation's mistaken arguments."""

import logging
import os
import shutil
import socket
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest
import soundfile
import torch
from prepare_helpers import load_script, recipe_script, tone
from recipe_runs import ROOT, subprocess_env

from speechbrain_v2s import cli, hub
from speechbrain_v2s.cli import synthesize_main
from speechbrain_v2s.export import export_architecture
from speechbrain_v2s.video.io import read_video, write_video
from speechbrain_v2s.video.stream import iter_video_chunks

audio_prepare = load_script(recipe_script("AudioOnly", "A2A", "audio_prepare.py"))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_wave")
    torch.manual_seed(0)
    export_architecture(os.path.join(ROOT, "hparams", "tiny_wave.yaml"), folder)
    return folder


def _crop_video(path, frames=4, seed=0):
    rng = np.random.default_rng(seed)
    write_video(path, rng.integers(0, 255, (frames, 88, 88), np.uint8), fps=25)
    return path


def _errors(err):
    return [line for line in err.splitlines() if line.startswith("error:")]


# ---------------------------------------------------------------------------
# --mux


def test_mux_name_it_cannot_write_is_refused_before_the_model_loads(
    model_dir, tmp_path, capsys, monkeypatch
):
    video = _crop_video(tmp_path / "talk.mp4")
    loads = []
    real_load = cli._load_model
    monkeypatch.setattr(cli, "_load_model", lambda a: loads.append(a) or real_load(a))
    for mux in ("out.xyz", "no_extension", str(video)):
        args = [str(video), "--model", str(model_dir), "--mux", str(tmp_path / mux)]
        assert synthesize_main([*args, "--already-cropped"]) == 2
        err = capsys.readouterr().err
        (line,) = err.splitlines()
        assert line.startswith(f"error: --mux {tmp_path / mux}: ")
        assert "Traceback" not in err
    assert loads == []  # refused before any work
    assert sorted(os.listdir(tmp_path)) == ["talk.mp4"]  # no wav left behind
    # A name it can write: wav and video both made.
    args = [str(video), "--model", str(model_dir), "--mux", str(tmp_path / "o.mkv")]
    assert synthesize_main([*args, "--already-cropped"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["o.mkv", "talk.mp4", "talk.wav"]


# ---------------------------------------------------------------------------
# Truncated and variable-frame-rate video


def _levels(count):
    """Brightness per frame index, far enough apart to survive lossy coding."""
    return (np.arange(count) * (250 // count)).astype(np.uint8)


def _index_of(frames, count):
    means = frames.reshape(len(frames), -1).mean(1)
    return np.round(means / (250 // count)).astype(int)


def _write_timed(path, times, size=88, options=None, noise=False):
    """A video whose frame ``i`` (brightness level ``i``, or noise) shows at
    ``times[i]`` seconds: PyAV writes the timestamps as given (1 ms time base)."""
    levels = _levels(len(times))
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options=options or {}) as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.qmax = 2  # near-lossless: levels 5 apart survive
        for level, time_s in zip(levels, times):
            image = np.full((size, size, 3), level, np.uint8)
            if noise:  # every frame the same size in bytes, about
                image = rng.integers(0, 255, image.shape, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = round(time_s * 1000)
            frame.time_base = Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


# 25 frames at 25 fps, then 25 at 12.5 fps: 3.0 s, where 50 frames read as
# evenly spaced at the stated 25 fps would be 2.0 s.
VFR_TIMES = [i * 0.04 for i in range(25)] + [1.0 + i * 0.08 for i in range(25)]


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_variable_frame_rate_video_keeps_its_duration(tmp_path, ext):
    path = _write_timed(tmp_path / f"vfr{ext}", VFR_TIMES)
    clip = read_video(path, target_fps=25.0, grayscale=True)
    # The last frame lasts one stated frame time: 2.92 s + 1/25 (mkv); an mp4
    # states the average rate, 1/16.9 s.
    assert clip.duration == pytest.approx(3.0, abs=0.06)
    shown = _index_of(clip.frames, 50)
    # Each 25 fps output time shows the frame on screen then: frame 25 + k/2
    # for k = 0.. in the slow half (nearest in time, ties to the earlier one).
    assert shown[:25].tolist() == list(range(25))
    at_2s = shown[50]  # t = 2.0 s is 1.0 s into the slow half: frame 37.5
    assert at_2s in (37, 38)
    streamed = np.concatenate(list(iter_video_chunks(path, 16, 25.0, grayscale=True)))
    assert np.array_equal(streamed, clip.frames)


def test_variable_frame_rate_speech_lasts_as_long_as_the_video(model_dir, tmp_path):
    video = _write_timed(tmp_path / "vfr.mkv", VFR_TIMES)
    out = tmp_path / "vfr.wav"
    argv = [str(video), "-o", str(out), "--model", str(model_dir), "--already-cropped"]
    assert synthesize_main(argv) == 0
    seconds = soundfile.info(str(out)).duration
    assert seconds == pytest.approx(3.0, abs=0.06)  # was 2.0


def _truncated(path, frames=50):
    """An mp4 with its index first (faststart), cut after 30 % of its bytes:
    the index still declares all ``frames``."""
    whole = str(path) + ".whole.mp4"
    _write_timed(whole, [i / 25 for i in range(frames)],
                 options={"movflags": "faststart"}, noise=True)  # fmt: skip
    data = open(whole, "rb").read()
    os.remove(whole)
    path.write_bytes(data[: int(len(data) * 0.3)])
    return path


def test_truncated_video_is_read_with_one_warning_naming_it(tmp_path, caplog):
    path = _truncated(tmp_path / "cut.mp4")
    with caplog.at_level(logging.WARNING, logger="speechbrain_v2s.video"):
        clip = read_video(path, grayscale=True)
    assert 0 < clip.num_frames < 25
    (record,) = caplog.records
    assert record.getMessage().startswith(f"{path}: only {clip.num_frames} frames")
    assert "of the 50 (2.00 s) the container declares" in record.getMessage()
    caplog.clear()
    whole = _write_timed(tmp_path / "whole.mp4", [i / 25 for i in range(50)])
    with caplog.at_level(logging.WARNING, logger="speechbrain_v2s.video"):
        assert read_video(whole).num_frames == 50
        assert sum(len(b) for b in iter_video_chunks(whole, 16)) == 50
    assert caplog.records == []  # a whole file: no warning


@pytest.mark.skipif(
    os.environ.get("OPENCV_FFMPEG_LOGLEVEL") != "-8",
    reason="FFmpeg's log level was set by the user",
)
def test_batch_reports_each_bad_video_in_one_line_without_ffmpeg_logs(
    model_dir, tmp_path, capfd, caplog
):
    """FFmpeg (OpenCV's and PyAV's) complains about damaged data on stderr
    unless silenced: those lines must not come between the tool's own. capfd
    reads the process's stderr itself, where FFmpeg writes."""
    src = tmp_path / "in"
    src.mkdir()
    _crop_video(src / "good.mp4")
    _truncated(src / "cut.mp4")
    (src / "junk.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    args = [src, "-o", tmp_path / "out", "--model", model_dir, "--already-cropped"]
    with caplog.at_level(logging.WARNING):
        assert synthesize_main([str(a) for a in args]) == 1
    out, err = capfd.readouterr()
    # (OpenCV sends FFmpeg's lines to stdout once a log level is set.)
    assert out.splitlines() == [
        str(tmp_path / "out" / f"{n}.wav") for n in ("cut", "good")
    ]
    lines = err.splitlines()
    assert lines == [
        f"error: {src / 'junk.mp4'}: " + lines[0].split(": ", 2)[2],
        "v2s-synthesize: done 2, skipped 0 existing, failed 1 of 3",
    ]  # no "[mov,mp4 @ 0x...] partial file", no traceback
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"{src / 'cut.mp4'}: only ")
    assert warning.endswith("the file looks truncated or damaged")
    assert sorted(os.listdir(tmp_path / "out")) == ["cut.wav", "good.wav"]


# ---------------------------------------------------------------------------
# --model


def test_missing_model_folder_says_so(tmp_path, capsys):
    video = _crop_video(tmp_path / "a.mp4")
    for model in (str(tmp_path / "no_such_model"), "no_such_model", "./nope"):
        assert synthesize_main([str(video), "--model", model]) == 2
        err = capsys.readouterr().err
        assert _errors(err) == [
            f"error: cannot load model: model folder {model!r} does not exist"
        ]
        assert "Repo id" not in err and "Traceback" not in err
    assert synthesize_main([str(video), "--model", str(video)]) == 2
    assert "is a file, not a model folder" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["a.mp4"]


def test_unreachable_hub_fails_at_once_unless_the_model_is_cached(
    model_dir, tmp_path, capsys, monkeypatch
):
    from huggingface_hub import constants

    video = _crop_video(tmp_path / "a.mp4")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # not set by the user
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    argv = [str(video), "--model", "nobody/v2s-not-cached", "--already-cropped"]
    assert synthesize_main(argv) == 2
    err = capsys.readouterr().err
    assert _errors(err) == [
        "error: cannot load model: model 'nobody/v2s-not-cached': the Hugging Face "
        "Hub cannot be reached and the model is not in the local cache (connect, "
        "or pass a model folder)"
    ]
    assert "Retrying" not in err and "Traceback" not in err
    # Cached (in --savedir): loaded offline, no request made.
    savedir = tmp_path / "cache"
    shutil.copytree(model_dir, savedir)
    argv = [*argv[:2], "nobody/v2s", "--savedir", str(savedir), "--already-cropped"]
    assert synthesize_main(argv) == 0, capsys.readouterr().err
    assert soundfile.info(str(tmp_path / "a.wav")).frames == 4 * 960


def test_hub_reachable_tries_the_endpoint_once(monkeypatch):
    from huggingface_hub import constants

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
        assert hub.hub_reachable(timeout=2.0)
    # The same port, closed now: refused at once.
    assert not hub.hub_reachable(timeout=2.0)


# ---------------------------------------------------------------------------
# Audio-only preparation


def _prepare(capsys, *argv):
    with pytest.raises(SystemExit) as stop:
        audio_prepare.main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ": error: " in ln]
    assert len(lines) == 1, err
    return stop.value.code, lines[0]


def test_audio_prepare_mistaken_arguments(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    soundfile.write(str(corpus / "a.wav"), tone(0.6, 16000), 16000)
    afile = tmp_path / "afile.txt"
    afile.write_text("x")
    save = tmp_path / "save"
    code, line = _prepare(capsys, tmp_path / "missing", save)
    assert code == 2 and f"dataset folder not found: {tmp_path / 'missing'}" in line
    code, line = _prepare(capsys, afile, save)
    assert code == 2 and f"dataset folder is not a folder: {afile}" in line
    code, line = _prepare(capsys, corpus, save, "--valid_ratio", "1.5")
    assert code == 2 and "valid_ratio must be in [0, 1), got 1.5" in line
    code, line = _prepare(capsys, corpus, afile / "save")
    assert code == 2 and f"cannot create save folder {afile / 'save'}" in line
    assert not save.exists()  # nothing was written by any of them
    # The same corpus, right arguments: prepared.
    assert audio_prepare.main([str(corpus), str(save), "--valid_ratio", "0"]) is None
    assert os.path.isfile(save / "train.json")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_audio_prepare_read_only_save_folder(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    soundfile.write(str(corpus / "a.wav"), tone(0.6, 16000), 16000)
    save = tmp_path / "save"
    save.mkdir()
    save.chmod(0o555)
    try:
        code, line = _prepare(capsys, corpus, save)
    finally:
        save.chmod(0o755)
    assert code == 2 and f"save folder {save} is not writable" in line


def test_audio_prepare_without_audio_exits_2(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text("no audio here")
    (corpus / "silent.wav").write_bytes(b"")  # found, but unusable
    save = tmp_path / "save"
    code, line = _prepare(capsys, corpus, save)
    assert code == 2
    assert f"no usable files found in {corpus} (1 skipped, see " in line
    assert sorted(os.listdir(save)) == ["prepare_report.csv"]  # why, not manifests
    # As a script: the same line and status.
    script = recipe_script("AudioOnly", "A2A", "audio_prepare.py")
    result = subprocess.run([sys.executable, script, str(corpus), str(save)],
                            capture_output=True, text=True, timeout=120,
                            env=subprocess_env())  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "audio_prepare.py: error: audio: no usable files found" in result.stderr
