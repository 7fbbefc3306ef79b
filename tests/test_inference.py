"""Inference through the user-facing paths: ``from_hparams`` on a model folder
and the ``v2s-synthesize`` command, on tiny randomly initialised models."""

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch
from recipe_runs import ROOT, subprocess_env

from speechbrain_v2s.export import export_architecture
from speechbrain_v2s.inference import VideoToSpeech

HPARAMS = os.path.join(ROOT, "hparams")


@pytest.fixture(scope="module", params=["tiny_wave", "tiny_mel"])
def model_dir(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    torch.manual_seed(0)
    export_architecture(os.path.join(HPARAMS, f"{request.param}.yaml"), folder)
    return folder


def _load(folder, tmp_path, **overrides):
    return VideoToSpeech.from_hparams(
        source=str(folder), savedir=str(tmp_path / "loaded"), overrides=overrides
    )


def test_batch_output_length(model_dir, tmp_path):
    v2s = _load(model_dir, tmp_path)
    rois = torch.randn(2, 13, 1, 88, 88)
    wavs, lens = v2s.synthesize_batch(rois, torch.tensor([1.0, 7 / 13]))
    assert wavs.shape == (2, 13 * 960)


def test_long_video_is_chunked_without_seams(model_dir, tmp_path):
    """A 230-frame input in 50-frame chunks: exact length, and the cross-faded
    seams are no rougher than the rest of the signal."""
    v2s = _load(model_dir, tmp_path, chunk_frames=50, chunk_overlap=10)
    frames = np.random.default_rng(0).integers(0, 255, (230, 96, 96), np.uint8)
    wav = v2s._synthesize_long(v2s.prepare_frames(frames))
    assert wav.shape == (230 * 960,)
    jumps = (wav[1:] - wav[:-1]).abs()
    seam_mask = torch.zeros_like(jumps, dtype=torch.bool)
    for start in (40, 80, 120, 160, 200):  # chunk starts (50 - 10 overlap)
        seam_mask[start * 960 - 10 : (start + 10) * 960 + 10] = True
    assert jumps[seam_mask].max() <= 1.5 * jumps[~seam_mask].max() + 1e-6


def _cli(*args, cwd):
    exe = os.path.join(os.path.dirname(sys.executable), "v2s-synthesize")
    return subprocess.run(
        [exe, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=subprocess_env(),
    )


@pytest.mark.slow
def test_cli_on_a_moving_real_face(model_dir, tmp_path):
    import cv2
    from skimage import data as skimage_data

    from speechbrain_v2s.video.io import read_audio_from_video, write_video

    image = np.ascontiguousarray(skimage_data.astronaut()[0:320, 64:384])
    frames = []
    for t in range(30):  # 1.2 s of a face that turns and moves
        mat = cv2.getRotationMatrix2D((160, 160), 6 * np.sin(t / 5), 1.0)
        mat[:, 2] += (8 * np.sin(t / 4), 6 * np.cos(t / 4))
        frames.append(cv2.warpAffine(image, mat, (320, 320)))
    video = tmp_path / "face.mp4"
    write_video(video, np.stack(frames), fps=25)
    out, muxed = tmp_path / "face.wav", tmp_path / "face_dubbed.mp4"
    result = _cli(video, "-o", out, "--model", model_dir, "--mux", muxed, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    info = soundfile.info(str(out))
    assert info.samplerate == 24000 and info.frames == 30 * 960
    assert abs(len(read_audio_from_video(muxed)) - 30 * 960) <= 960


def test_cli_bad_inputs(model_dir, tmp_path):
    missing = _cli(tmp_path / "nope.mp4", "--model", model_dir, cwd=tmp_path)
    assert missing.returncode == 2
    assert (
        "nope.mp4" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    )
    noise = tmp_path / "noise.mp4"
    from speechbrain_v2s.video.io import write_video

    write_video(
        noise, np.random.default_rng(0).integers(0, 255, (10, 64, 64, 3), np.uint8)
    )
    batch = _cli(
        noise,
        tmp_path / "nope.mp4",
        "--model",
        model_dir,
        "-o",
        tmp_path / "o",
        cwd=tmp_path,
    )
    assert batch.returncode == 1  # both failed, each reported, batch finished
    assert batch.stderr.count("error:") == 2
