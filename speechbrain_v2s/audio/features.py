"""The one mel-spectrogram definition used everywhere in speechbrain-v2s.

Training targets, the vocoder, metrics and plots all call :func:`compute_mel`, so
a model trained on one part of the project always sees the same features in
another. Settings follow ``design.md`` section 2: 24 kHz audio, 80 mel bins,
``n_fft = win = 1024``, hop 240 (100 frames/s, i.e. 4 mel frames per 25 fps video
frame), 0-12 kHz, natural-log compression.

Example
-------
>>> import torch
>>> wav = torch.zeros(2, 24000)
>>> compute_mel(wav).shape
torch.Size([2, 100, 80])
"""

import functools

import torch
import torchaudio

SAMPLE_RATE = 24000
VIDEO_FPS = 25
SAMPLES_PER_FRAME = SAMPLE_RATE // VIDEO_FPS  # 960
HOP_LENGTH = 240
MEL_FRAMES_PER_VIDEO_FRAME = SAMPLES_PER_FRAME // HOP_LENGTH  # 4
N_MELS = 80
N_FFT = 1024
WIN_LENGTH = 1024
F_MIN = 0.0
F_MAX = 12000.0
LOG_FLOOR = 1e-5


@functools.lru_cache(maxsize=8)
def _mel_transform(sample_rate, n_mels, n_fft, hop_length):
    # Cached: building the filterbank on every call would dominate short inputs.
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=sample_rate,
        n_fft=n_fft,
        win_length=WIN_LENGTH,
        hop_length=hop_length,
        f_min=F_MIN,
        f_max=F_MAX,
        n_mels=n_mels,
        power=1.0,
        normalized=False,
        norm="slaney",
        mel_scale="slaney",
        center=False,
    )


def compute_mel(
    wav, sample_rate=SAMPLE_RATE, n_mels=N_MELS, n_fft=N_FFT, hop_length=HOP_LENGTH
):
    """Log-mel spectrogram of a batch of waveforms.

    The signal is reflect-padded by ``(n_fft - hop) / 2`` on each side so that a
    waveform of ``k * hop`` samples gives exactly ``k`` frames: 960 samples (one
    video frame) give 4 mel frames, and lengths stay aligned with the video.

    Arguments
    ---------
    wav : torch.Tensor
        ``[batch, samples]`` or ``[samples]``, float in [-1, 1], at ``sample_rate``.
    sample_rate : int
        Sampling rate of ``wav`` (24 kHz in this project).
    n_mels : int
        Number of mel bins.
    n_fft : int
        FFT size (also the window length).
    hop_length : int
        Hop between frames, in samples.

    Returns
    -------
    torch.Tensor
        ``[batch, frames, n_mels]`` (or ``[frames, n_mels]`` for 1-D input),
        ``log(max(mel, 1e-5))``, with ``frames = samples // hop_length``.

    Example
    -------
    >>> import torch
    >>> compute_mel(torch.randn(960) * 0.1).shape
    torch.Size([4, 80])
    """
    squeeze = wav.dim() == 1
    if squeeze:
        wav = wav.unsqueeze(0)
    frames = wav.shape[-1] // hop_length
    wav = wav[..., : frames * hop_length]
    pad = (n_fft - hop_length) // 2
    mode = "reflect" if wav.shape[-1] > pad else "constant"
    padded = torch.nn.functional.pad(
        wav.unsqueeze(1), (pad, n_fft - hop_length - pad), mode=mode
    ).squeeze(1)
    transform = _mel_transform(sample_rate, n_mels, n_fft, hop_length).to(wav.device)
    mel = transform(padded.float())[..., :frames]
    mel = torch.log(torch.clamp(mel, min=LOG_FLOOR)).transpose(-1, -2)
    return mel.squeeze(0) if squeeze else mel


def resample(wav, orig_sr, target_sr=SAMPLE_RATE):
    """Resample ``wav`` (``[..., samples]``) from ``orig_sr`` to ``target_sr``.

    Example
    -------
    >>> import torch
    >>> resample(torch.zeros(1, 22050), 22050).shape
    torch.Size([1, 24000])
    """
    if orig_sr == target_sr:
        return wav
    return torchaudio.functional.resample(wav, orig_sr, target_sr)


GRIFFIN_LIM_SEED = 0  # the initial phase's seed (deterministic inference)


@functools.lru_cache(maxsize=4)
def _griffinlim_transforms(sample_rate, n_mels, n_fft, hop_length, n_iter):
    inverse_mel = torchaudio.transforms.InverseMelScale(
        n_stft=n_fft // 2 + 1,
        n_mels=n_mels,
        sample_rate=sample_rate,
        f_min=F_MIN,
        f_max=F_MAX,
        norm="slaney",
        mel_scale="slaney",
    )
    griffin_lim = torchaudio.transforms.GriffinLim(
        n_fft=n_fft,
        win_length=WIN_LENGTH,
        hop_length=hop_length,
        power=1.0,
        n_iter=n_iter,
    )
    return inverse_mel, griffin_lim


def mel_to_wave_griffinlim(
    mel, sample_rate=SAMPLE_RATE, hop_length=HOP_LENGTH, n_fft=N_FFT, n_iter=32
):
    """Invert :func:`compute_mel` with Griffin-Lim (no trained vocoder needed).

    Quality is far below a neural vocoder; it exists so that intelligibility
    metrics of mel models can be computed before a vocoder is trained.

    Arguments
    ---------
    mel : torch.Tensor
        ``[batch, frames, n_mels]`` log-mel from :func:`compute_mel`.
    sample_rate, hop_length, n_fft : int
        The settings the mel was computed with.
    n_iter : int
        Griffin-Lim iterations.

    Returns
    -------
    torch.Tensor
        ``[batch, frames * hop_length]`` waveform.

    Example
    -------
    >>> import torch
    >>> mel = compute_mel(torch.randn(1, 4800) * 0.1)
    >>> mel_to_wave_griffinlim(mel).shape
    torch.Size([1, 4800])
    >>> torch.equal(mel_to_wave_griffinlim(mel), mel_to_wave_griffinlim(mel))
    True
    """
    inverse_mel, griffin_lim = _griffinlim_transforms(
        sample_rate, mel.shape[-1], n_fft, hop_length, n_iter
    )
    devices = [mel.device] if mel.device.type == "cuda" else []
    # Griffin-Lim starts from a random phase: drawn from a fixed seed, without
    # touching the caller's generator, so one mel always gives one waveform
    # (scores and re-runs reproducible).
    with torch.no_grad(), torch.random.fork_rng(devices=devices):
        torch.manual_seed(GRIFFIN_LIM_SEED)
        magnitude = inverse_mel.to(mel.device)(mel.float().exp().transpose(1, 2))
        wave = griffin_lim.to(mel.device)(magnitude)
    frames = mel.shape[1]
    wave = torch.nn.functional.pad(
        wave, (0, max(0, frames * hop_length - wave.shape[-1]))
    )
    return wave[..., : frames * hop_length]
