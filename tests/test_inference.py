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
from speechbrain_v2s.inference import VideoToSpeech, chunk_spans, crossfade_concat

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


def _one_pass_per_window(v2s, rois, chunk, overlap):
    """Reference: each window of ``chunk_spans`` through ``synthesize_batch``,
    the pieces joined by ``crossfade_concat`` (the unstreamed algorithm)."""
    pieces = []
    for start, end in chunk_spans(rois.shape[1], chunk, overlap):
        wav, _ = v2s.synthesize_batch(rois[:, start:end])
        pieces.append(wav[0, : (end - start) * 960])
    return crossfade_concat(pieces, overlap * 960)


@pytest.mark.parametrize("frames,block", [(230, 7), (100, 50), (90, 250)])
def test_streamed_blocks_give_the_windowed_output(model_dir, tmp_path, frames, block):
    """Input arriving in blocks of any size gives exactly the output of the
    windows over the whole input (230: five seams, a short last window; 100:
    the input ends where a window ends; 90: blocks larger than a window)."""
    v2s = _load(model_dir, tmp_path, chunk_frames=50, chunk_overlap=10)
    rois = torch.randn(1, frames, 1, 88, 88, generator=torch.Generator().manual_seed(1))
    blocks = (rois[:, s : s + block] for s in range(0, frames, block))
    with torch.no_grad():
        streamed = v2s._synthesize_stream(blocks)
        reference = _one_pass_per_window(v2s, rois, 50, 10)
    assert streamed.shape == (frames * 960,)
    torch.testing.assert_close(streamed, reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize("encode_frames", [50, 12])
def test_short_input_is_one_pass(model_dir, tmp_path, encode_frames):
    """Up to ``chunk_frames`` frames, streaming in small blocks is one model
    pass, also with the video encoder run on 12 frames at a time."""
    v2s = _load(model_dir, tmp_path, chunk_frames=50, chunk_overlap=10)
    v2s.hparams.encode_frames = encode_frames  # not in exported YAMLs (default 125)
    rois = torch.randn(1, 37, 1, 88, 88, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        streamed = v2s._synthesize_stream(rois[:, s : s + 5] for s in range(0, 37, 5))
    torch.testing.assert_close(
        streamed, v2s.synthesize_batch(rois)[0][0], rtol=0, atol=1e-5
    )


def test_synthesize_file_streams_a_mouth_crop_video(model_dir, tmp_path):
    """30 fps mouth-crop video (resampled to 25 fps while streaming) and its
    ``.npz`` cache: the same audio as synthesising the whole decoded clip."""
    from speechbrain_v2s.video.io import read_video, write_video
    from speechbrain_v2s.video.mouth_roi import resize_roi, save_roi

    v2s = _load(model_dir, tmp_path, chunk_frames=40, chunk_overlap=8)
    rng = np.random.default_rng(3)
    video = tmp_path / "mouth.avi"
    write_video(video, rng.integers(0, 255, (150, 88, 88), np.uint8), fps=30)
    frames = resize_roi(read_video(video, 25.0, grayscale=True).frames, 96)
    assert len(frames) == 125
    with torch.no_grad():
        reference = v2s._synthesize_long(v2s.prepare_frames(frames))
    wav = v2s.synthesize_file(video, already_cropped=True)
    torch.testing.assert_close(wav, reference, rtol=0, atol=1e-6)
    cache = tmp_path / "mouth.npz"
    save_roi(cache, frames)
    torch.testing.assert_close(v2s.synthesize_file(cache), reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize("fps", [25.0, 30.0, 12.5, 29.97, 50.0])
def test_chunked_reader_yields_the_frames_of_read_video(tmp_path, fps):
    from speechbrain_v2s.video.io import read_video, write_video
    from speechbrain_v2s.video.stream import iter_video_chunks

    video = tmp_path / "count.avi"
    ramp = (np.arange(47) * 5 % 256).astype(np.uint8)  # one grey level per frame
    write_video(video, ramp[:, None, None] * np.ones((1, 16, 24), np.uint8), fps=fps)
    for grayscale in (True, False):
        whole = read_video(video, 25.0, grayscale=grayscale).frames
        for chunk in (1, 6, 500):
            blocks = list(iter_video_chunks(video, chunk, 25.0, grayscale=grayscale))
            assert all(len(b) <= chunk for b in blocks)
            np.testing.assert_array_equal(np.concatenate(blocks), whole)


def _moving_face(path, frames=30):
    import cv2
    from skimage import data as skimage_data

    from speechbrain_v2s.video.io import write_video

    image = np.ascontiguousarray(skimage_data.astronaut()[0:320, 64:384])
    out = []
    for t in range(frames):  # a face that turns and moves
        mat = cv2.getRotationMatrix2D((160, 160), 6 * np.sin(t / 5), 1.0)
        mat[:, 2] += (8 * np.sin(t / 4), 6 * np.cos(t / 4))
        out.append(cv2.warpAffine(image, mat, (320, 320)))
    write_video(path, np.stack(out), fps=25)


def test_streamed_mouth_rois_match_the_whole_video_pass(tmp_path):
    """Two block-wise passes over a raw face video give the crops of
    ``extract_mouth_roi``: exactly when the detector sees the frames in one
    call, closely when it restarts its tracking at each 7-frame block."""
    from speechbrain_v2s.video.landmarks import shared_detector
    from speechbrain_v2s.video.mouth_roi import extract_mouth_roi
    from speechbrain_v2s.video.stream import ThreadedDetector, stream_mouth_rois

    video = tmp_path / "face.mp4"
    _moving_face(video)
    detector = shared_detector("auto")
    whole = extract_mouth_roi(video, detector=detector).frames
    one_block = np.concatenate(list(stream_mouth_rois(video, detector, chunk=64)))
    np.testing.assert_array_equal(one_block, whole)
    blocks = list(stream_mouth_rois(video, ThreadedDetector(detector, 2), chunk=7))
    assert [len(b) for b in blocks] == [7, 7, 7, 7, 2]
    diff = np.abs(np.concatenate(blocks).astype(float) - whole.astype(float))
    assert diff.mean() < 3.0, diff.mean()  # a 3-pixel shift of the crops: 12


def test_chunked_reader_errors_name_the_file(tmp_path):
    from speechbrain_v2s.video.errors import EmptyVideoError
    from speechbrain_v2s.video.stream import iter_video_chunks

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(EmptyVideoError, match="empty.mp4"):
        next(iter_video_chunks(empty))


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
    error, summary = missing.stderr.strip().splitlines()  # one line, then counts
    assert error.startswith("error:") and "nope.mp4" in error
    assert summary == "v2s-synthesize: done 0, skipped 0 existing, failed 1 of 1"
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
    assert batch.returncode == 2  # both failed (nothing done), each reported
    assert batch.stderr.count("error:") == 2
    assert "done 0, skipped 0 existing, failed 2 of 2" in batch.stderr


def test_cli_in_process_leaves_logging_as_it_was(tmp_path):
    # The command silences SpeechBrain's INFO logs while it runs; called from
    # Python (a notebook, a test) it must hand the process's logging back.
    import logging

    from speechbrain_v2s.cli import synthesize_main

    before = logging.root.manager.disable
    # an empty folder: no videos (exit 2, before any model is loaded)
    assert synthesize_main([str(tmp_path), "--model", str(tmp_path)]) == 2
    assert logging.root.manager.disable == before  # logging.disable undone


def test_crossfade_joiner_matches_explicit_fades():
    """Pieces added one at a time give what linear fades written out by hand
    give: level kept on a seam, ramps between different pieces, and a piece
    shorter than the overlap fading over what it has."""
    from speechbrain_v2s.inference import CrossfadeJoiner

    a, b, c = torch.full((8,), 2.0), torch.zeros(7), torch.ones(2)
    joiner = CrossfadeJoiner(3)
    for piece in (a, b, c):
        joiner.add(piece)
    out = joiner.finish()
    ramp3 = torch.tensor([0.25, 0.5, 0.75])
    ramp2 = torch.tensor([1 / 3, 2 / 3])
    first = torch.cat([a[:5], a[5:] * (1 - ramp3) + b[:3] * ramp3, b[3:]])
    expected = torch.cat([first[:-2], first[-2:] * (1 - ramp2) + c * ramp2])
    assert out.shape[0] == 8 + 7 + 2 - 3 - 2
    assert torch.allclose(out, expected)
    assert torch.equal(crossfade_concat([a, b, c], 3), out)
    with pytest.raises(ValueError, match="no pieces"):
        CrossfadeJoiner(3).finish()


def test_loaded_video_encoder_is_folded_unless_trainable(model_dir, tmp_path):
    """``from_hparams`` folds the video encoder's batch norms of a frozen
    model; with ``freeze_params=False`` they stay, and the outputs agree."""
    folded = _load(model_dir, tmp_path)
    trainable = VideoToSpeech.from_hparams(
        source=str(model_dir), savedir=str(tmp_path / "loaded"), freeze_params=False
    )

    def norms(v2s):
        return sum(
            isinstance(m, torch.nn.BatchNorm2d)
            for m in v2s.mods.model.encoder.modules()
        )

    assert norms(folded) == 0 and norms(trainable) > 0
    trainable.mods.eval()
    rois = torch.randn(1, 9, 1, 88, 88)
    torch.testing.assert_close(
        folded.synthesize_batch(rois)[0],
        trainable.synthesize_batch(rois)[0],
        atol=1e-5,
        rtol=0,
    )


def test_vocode_audio_is_the_synthesis_path_on_the_reference_mel(
    model_dir, tmp_path, monkeypatch
):
    """The vocoder ceiling (``vocode_audio``) is exactly what synthesis gives
    when the model predicts the reference's mel: with the folder's vocoder,
    and with Griffin-Lim once there is none. Waveform models have no such
    path and say so."""
    from speechbrain_v2s.audio.features import compute_mel

    v2s = _load(model_dir, tmp_path)
    wav = 0.1 * torch.randn(13 * 960, generator=torch.Generator().manual_seed(2))
    if v2s.mods.model.output_kind == "wave":
        with pytest.raises(ValueError, match="outputs waveforms"):
            v2s.vocode_audio(wav)
        return
    mel = compute_mel(wav.unsqueeze(0))
    monkeypatch.setattr(
        v2s.mods.model, "forward", lambda x, lens, speaker=None: (mel, lens)
    )
    rois = torch.zeros(1, 13, 1, 88, 88)

    def both():
        return v2s.vocode_audio(wav), v2s.synthesize_batch(rois)[0][0]

    assert v2s.vocoder_name == "HiFi-GAN"
    ceiling, synthesised = both()
    assert ceiling.shape == wav.shape
    torch.testing.assert_close(ceiling, synthesised, rtol=0, atol=0)
    del v2s.mods["vocoder"]
    assert v2s.vocoder_name == "Griffin-Lim"
    ceiling, synthesised = both()
    torch.testing.assert_close(ceiling, synthesised, rtol=0, atol=0)


def test_inference_is_deterministic(model_dir, tmp_path):
    """One input, one output: twice through the model (Griffin-Lim's initial
    phase included, for a mel model without a vocoder), whatever the caller's
    random state, which synthesis leaves as it found it."""
    v2s = _load(model_dir, tmp_path)
    if "vocoder" in v2s.mods:
        del v2s.mods["vocoder"]  # mel models: the Griffin-Lim path
    rois = torch.randn(1, 13, 1, 88, 88, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(1)
    first = v2s.synthesize_batch(rois)[0]
    after = torch.rand(3)
    torch.manual_seed(2)
    second = v2s.synthesize_batch(rois)[0]
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.manual_seed(1)
    torch.testing.assert_close(torch.rand(3), after, rtol=0, atol=0)
