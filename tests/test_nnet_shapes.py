"""Output shapes of every model part, and padding that never leaks (eval mode)."""

import copy

import pytest
import torch

from speechbrain_v2s.audio.features import (
    MEL_FRAMES_PER_VIDEO_FRAME,
    SAMPLES_PER_FRAME,
)
from speechbrain_v2s.nnet import (
    AudioEncoder,
    MelDecoder,
    MelEncoder,
    SpeakerConditioner,
    TemporalModule,
    V2SModel,
    VideoEncoder,
    WaveDecoder,
    build_vocoder,
)

FRAMES = (1, 7, 75)
TOL = 1e-5
C = 8


def audio_encoder():
    return AudioEncoder(out_channels=C, channels=(4, 4, 8, 8, 8))


def mel_encoder():
    return MelEncoder(out_channels=C, channels=8)


def video_encoder():
    return VideoEncoder(out_channels=C, frontend_channels=4, resnet_width=4)


def wave_decoder():
    return WaveDecoder(C, channels=16, upsample_factors=(8, 5, 4, 3, 2), min_channels=4)


def mel_decoder():
    return MelDecoder(C, d_model=16, num_layers=2, nhead=2, d_ffn=32, kernel_size=7)


def wave_model(encoder=None):
    return V2SModel(
        encoder or audio_encoder(),
        TemporalModule(C, hidden_size=6, output_size=C),
        wave_decoder(),
        speaker=SpeakerConditioner(C, mode="table", num_speakers=3, emb_dim=4),
    )


def mel_model(encoder=None):
    return V2SModel(
        encoder or mel_encoder(),
        TemporalModule(C, hidden_size=6, rnn_type="lstm", upsample=4, output_size=C),
        mel_decoder(),
        speaker=SpeakerConditioner(C, mode="embedding", emb_dim=4),
    )


def audio_input(frames, batch=1):
    return torch.randn(batch, frames * SAMPLES_PER_FRAME) * 0.1


def mel_input(frames, batch=1):
    return torch.randn(batch, frames * MEL_FRAMES_PER_VIDEO_FRAME, 80)


def video_input(frames, batch=1):
    return torch.randn(batch, frames, 1, 88, 88)


def feats_input(frames, batch=1, rate=1):
    return torch.randn(batch, frames * rate, C)


def _train_steps(module, make_input, steps=2):
    """A couple of training-mode passes so running statistics are not trivial."""
    module.train()
    with torch.no_grad():
        for _ in range(steps):
            module(make_input(5, 3), torch.tensor([1.0, 0.6, 0.4]))
    module.eval()


# (module factory, input factory, output samples per frame, output feature dims)
MODULES = {
    "audio_encoder": (audio_encoder, audio_input, 1, (C,)),
    "mel_encoder": (mel_encoder, mel_input, 1, (C,)),
    "video_encoder": (video_encoder, video_input, 1, (C,)),
    "temporal_wave": (
        lambda: TemporalModule(C, hidden_size=6, output_size=C),
        feats_input,
        1,
        (C,),
    ),
    "temporal_mel": (
        lambda: TemporalModule(C, hidden_size=6, rnn_type="lstm", upsample=4),
        feats_input,
        4,
        (12,),
    ),
    "wave_decoder": (wave_decoder, feats_input, SAMPLES_PER_FRAME, ()),
    "mel_decoder": (
        mel_decoder,
        lambda f, b=1: feats_input(f, b, 4),
        4,
        (80,),
    ),
}


def _run(module, x, lens=None):
    out = module(x, lens)
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", sorted(MODULES))
def test_shapes_on_odd_lengths(name):
    torch.manual_seed(0)
    factory, make_input, per_frame, dims = MODULES[name]
    module = factory()
    _train_steps(module, make_input)
    with torch.no_grad():
        for frames in FRAMES:
            out = _run(module, make_input(frames, 2))
            assert out.shape == (2, frames * per_frame, *dims), (name, frames)
            assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_padding_never_leaks(name):
    torch.manual_seed(0)
    factory, make_input, per_frame, _ = MODULES[name]
    module = factory()
    _train_steps(module, make_input)
    lengths = (7, 3, 1)
    total = max(lengths)
    batch = make_input(total, len(lengths))
    # Garbage in the padding must not matter.
    lens = torch.tensor([n / total for n in lengths])
    with torch.no_grad():
        padded = _run(module, batch, lens)
        for i, n in enumerate(lengths):
            item = make_input(n, 1)
            item.copy_(batch[i : i + 1, : item.shape[1]])
            alone = _run(module, item)
            valid = n * per_frame
            torch.testing.assert_close(
                padded[i, :valid], alone[0], atol=TOL, rtol=TOL, msg=name
            )
            if valid < padded.shape[1]:
                assert padded[i, valid:].abs().max() == 0, name


@pytest.mark.parametrize("kind", ["wave", "mel"])
def test_model_forward_and_padding(kind):
    torch.manual_seed(0)
    model = wave_model() if kind == "wave" else mel_model()
    make_input = audio_input if kind == "wave" else mel_input
    per_frame = SAMPLES_PER_FRAME if kind == "wave" else MEL_FRAMES_PER_VIDEO_FRAME
    speaker = torch.tensor([0, 2]) if kind == "wave" else torch.randn(2, 4)
    model.train()
    model(make_input(4, 2), torch.tensor([1.0, 0.5]), speaker=speaker)
    model.eval()
    with torch.no_grad():
        x = make_input(7, 2)
        lens = torch.tensor([1.0, 3 / 7])
        out, out_lens = model(x, lens, speaker=speaker)
        assert out.shape[:2] == (2, 7 * per_frame)
        assert torch.equal(out_lens, lens)
        alone, _ = model(x[1:, : x.shape[1] * 3 // 7], speaker=speaker[1:])
        torch.testing.assert_close(
            out[1, : 3 * per_frame], alone[0], atol=TOL, rtol=TOL
        )


def test_video_model_forward_shapes():
    model = wave_model(video_encoder())
    model.eval()
    with torch.no_grad():
        out, _ = model(torch.randn(2, 3, 88, 88))  # [B, T, H, W] accepted too
    assert out.shape == (2, 3 * SAMPLES_PER_FRAME)


def test_vocoder_lengths():
    vocoder = build_vocoder("tiny").eval()
    with torch.no_grad():
        for frames in FRAMES:
            mel = torch.randn(1, frames * MEL_FRAMES_PER_VIDEO_FRAME, 80)
            wave = vocoder.mel_to_wave(mel)
            assert wave.shape == (1, frames * SAMPLES_PER_FRAME)
            # SpeechBrain's convention, used by the training loop and interfaces.
            assert vocoder(mel.transpose(1, 2)).shape == (1, 1, wave.shape[1])


def _video_encoder_reference(enc, x, lens):
    """The video encoder written the direct way: Conv3d front end over the
    whole clip, batch norm on the 5-D tensor with the padding masked out."""
    from speechbrain_v2s.nnet.normalization import valid_mask

    mask = valid_mask(lens, x.shape[1])
    five = x.transpose(1, 2) * mask[:, None, :, None, None]
    five = enc.frontend_act(enc.frontend_norm(enc.frontend(five), mask=mask))
    flat = enc.pool(five.transpose(1, 2)[mask])
    feats = enc.proj(enc.trunk(flat).mean((2, 3)))
    out = feats.new_zeros(x.shape[0], x.shape[1], feats.shape[-1])
    out[mask] = feats
    return out


@pytest.mark.parametrize("training", [True, False])
def test_video_encoder_frontend_equals_conv3d(training):
    # The front end runs as a 2-D convolution over stacked neighbour frames
    # (and, in eval mode, with its batch norm folded into the weights): the
    # outputs, gradients and running statistics must be those of the Conv3d.
    torch.manual_seed(0)
    enc = VideoEncoder(out_channels=C, frontend_channels=6, resnet_width=4)
    with torch.no_grad():  # non-trivial statistics for the eval-mode fold
        enc.frontend_norm.running_mean_audio.uniform_(-1, 1)
        enc.frontend_norm.running_var_audio.uniform_(0.5, 2)
        enc.frontend_norm.weight.uniform_(0.5, 2)
    twin = copy.deepcopy(enc)
    enc.train(training)
    twin.train(training)
    x = torch.randn(2, 9, 1, 88, 88)
    lens = torch.tensor([1.0, 0.6])
    out, ref = enc(x, lens), _video_encoder_reference(twin, x, lens)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
    if training:
        torch.testing.assert_close(
            enc.frontend_norm.running_stats()[1], twin.frontend_norm.running_stats()[1]
        )
        out.square().sum().backward()
        ref.square().sum().backward()
        torch.testing.assert_close(
            enc.frontend.weight.grad, twin.frontend.weight.grad, atol=1e-4, rtol=1e-3
        )


def test_video_encoder_fold_batch_norm_keeps_eval_outputs():
    torch.manual_seed(1)
    enc = VideoEncoder(out_channels=C, frontend_channels=8, resnet_width=8)
    with torch.no_grad():  # trained-looking statistics and affine maps
        for norm in enc.trunk.modules():
            if isinstance(norm, torch.nn.BatchNorm2d):
                norm.running_mean.uniform_(-1, 1)
                norm.running_var.uniform_(0.5, 2)
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.5, 0.5)
    enc.eval()
    x = torch.randn(2, 6, 1, 88, 88)
    lens = torch.tensor([1.0, 0.5])
    before = enc(x, lens)
    enc.fold_batch_norm()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in enc.modules())
    torch.testing.assert_close(enc(x, lens), before, atol=1e-5, rtol=1e-4)


def test_video_encoder_input_scale_reads_pooled_frames():
    # input_scale=2 must be the full-size encoder on 2x2-averaged frames
    # (the same weights see the same 44x44 images), padding still ignored.
    torch.manual_seed(2)
    half = VideoEncoder(
        out_channels=C, frontend_channels=8, resnet_width=8, input_scale=2
    )
    full = copy.deepcopy(half)
    full.input_scale = 1
    half.eval()
    full.eval()
    x = torch.randn(2, 5, 1, 88, 88)
    lens = torch.tensor([1.0, 0.6])
    pooled = torch.nn.functional.avg_pool2d(x.flatten(0, 1), 2).unflatten(0, (2, 5))
    out = half(x, lens)
    assert out.shape == (2, 5, C)
    torch.testing.assert_close(out, full(pooled, lens), atol=1e-5, rtol=1e-4)
    assert not torch.allclose(out, full(x, lens), atol=1e-3)
    with pytest.raises(ValueError, match="input_scale"):
        VideoEncoder(out_channels=C, input_scale=0)
