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
