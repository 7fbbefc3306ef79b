"""The mel function's cache: same numbers as torchaudio's modules, and no
state shared between callers on different devices or autograd modes."""

import pytest
import torch
import torchaudio

from speechbrain_v2s.audio import features
from speechbrain_v2s.audio.features import compute_mel, mel_to_wave_griffinlim

torch.set_num_threads(1)


def _reference_mel(wav):
    """compute_mel as written with torchaudio's MelSpectrogram module."""
    transform = torchaudio.transforms.MelSpectrogram(
        sample_rate=features.SAMPLE_RATE,
        n_fft=features.N_FFT,
        win_length=features.WIN_LENGTH,
        hop_length=features.HOP_LENGTH,
        f_min=features.F_MIN,
        f_max=features.F_MAX,
        n_mels=features.N_MELS,
        power=1.0,
        norm="slaney",
        mel_scale="slaney",
        center=False,
    )
    frames = wav.shape[-1] // features.HOP_LENGTH
    pad = (features.N_FFT - features.HOP_LENGTH) // 2
    padded = torch.nn.functional.pad(wav.unsqueeze(1), (pad, pad), mode="reflect")
    mel = transform(padded.squeeze(1))[..., :frames]
    return torch.log(torch.clamp(mel, min=features.LOG_FLOOR)).transpose(-1, -2)


def _wave(seed, samples=4800, batch=2):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, samples, generator=generator) * 0.1


def test_mel_equals_torchaudio_module():
    wav = _wave(0)
    assert torch.equal(compute_mel(wav), _reference_mel(wav))


def test_griffinlim_equals_torchaudio_modules():
    mel = compute_mel(_wave(1))
    inverse = torchaudio.transforms.InverseMelScale(
        n_stft=features.N_FFT // 2 + 1,
        n_mels=features.N_MELS,
        sample_rate=features.SAMPLE_RATE,
        f_min=features.F_MIN,
        f_max=features.F_MAX,
        norm="slaney",
        mel_scale="slaney",
    )
    griffin_lim = torchaudio.transforms.GriffinLim(
        n_fft=features.N_FFT,
        win_length=features.WIN_LENGTH,
        hop_length=features.HOP_LENGTH,
        power=1.0,
        n_iter=32,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(features.GRIFFIN_LIM_SEED)
        expected = griffin_lim(inverse(mel.exp().transpose(1, 2)))
    assert torch.equal(mel_to_wave_griffinlim(mel)[..., : expected.shape[-1]], expected)


def test_another_device_does_not_change_what_cpu_callers_get():
    wav = _wave(2)
    before = compute_mel(wav)
    # The meta device stands in for a GPU on CPU-only machines (shapes only).
    assert compute_mel(wav.to("meta")).shape == before.shape
    window, fb = features._mel_basis(
        features.SAMPLE_RATE, features.N_MELS, features.N_FFT, torch.device("cpu")
    )
    assert window.device.type == "cpu" and fb.device.type == "cpu"
    assert torch.equal(compute_mel(wav), before)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_and_cpu_callers_take_turns():
    wav = _wave(7)
    before = compute_mel(wav)
    on_gpu = compute_mel(wav.cuda())
    assert on_gpu.is_cuda
    torch.testing.assert_close(on_gpu.cpu(), before, atol=1e-4, rtol=1e-4)
    assert torch.equal(compute_mel(wav), before)
    mel = compute_mel(wav[:1])
    wave = mel_to_wave_griffinlim(mel)
    assert mel_to_wave_griffinlim(mel.cuda()).is_cuda
    assert torch.equal(mel_to_wave_griffinlim(mel), wave)


def test_first_use_under_inference_mode_still_trains():
    features._mel_basis.cache_clear()
    with torch.inference_mode():
        compute_mel(_wave(4))
    wav = _wave(5).requires_grad_()
    compute_mel(wav).sum().backward()  # the filterbank is saved for backward
    assert wav.grad is not None and torch.isfinite(wav.grad).all()


def test_float64_input_gives_the_float32_features():
    wav = _wave(6)
    assert torch.equal(compute_mel(wav.double()), compute_mel(wav))
