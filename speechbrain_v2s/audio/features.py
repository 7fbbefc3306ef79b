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


@functools.lru_cache(maxsize=16)
def _mel_basis(sample_rate, n_mels, n_fft, device):
    """``(window, filterbank)`` of :func:`compute_mel` on ``device``.

    Tensors, not a module: each key (settings and device) owns its own pair,
    made once and never moved or modified, so a caller on one device cannot
    change what a caller on another gets. Cached because building the
    filterbank on every call would dominate short inputs.

    Example
    -------
    >>> window, fb = _mel_basis(SAMPLE_RATE, N_MELS, N_FFT, torch.device("cpu"))
    >>> window.shape, fb.shape
    (torch.Size([1024]), torch.Size([513, 80]))
    """
    if device.type != "cpu":
        window, fb = _mel_basis(sample_rate, n_mels, n_fft, torch.device("cpu"))
        with torch.inference_mode(False):
            return window.to(device), fb.to(device)
    # Normal tensors even when first asked for under inference_mode: a
    # later training step saves the filterbank for backward.
    with torch.inference_mode(False):
        window = torch.hann_window(WIN_LENGTH)
        fb = torchaudio.functional.melscale_fbanks(
            n_fft // 2 + 1, F_MIN, F_MAX, n_mels, sample_rate, "slaney", "slaney"
        )
    return window, fb


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
    window, fb = _mel_basis(sample_rate, n_mels, n_fft, wav.device)
    # What torchaudio's MelSpectrogram(power=1, center=False) computes.
    spec = torchaudio.functional.spectrogram(
        padded.float(), 0, window, n_fft, hop_length, WIN_LENGTH, 1.0, False, False
    )
    mel = torch.matmul(spec.transpose(-1, -2), fb).transpose(-1, -2)[..., :frames]
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
    window, fb = _mel_basis(sample_rate, mel.shape[-1], n_fft, mel.device)
    devices = [mel.device] if mel.device.type == "cuda" else []
    # Griffin-Lim starts from a random phase: drawn from a fixed seed, without
    # touching the caller's generator, so one mel always gives one waveform
    # (scores and re-runs reproducible).
    with torch.no_grad(), torch.random.fork_rng(devices=devices):
        torch.manual_seed(GRIFFIN_LIM_SEED)
        # What torchaudio's InverseMelScale and GriffinLim modules compute.
        solution = torch.linalg.lstsq(
            fb.transpose(-1, -2)[None], mel.float().exp().transpose(1, 2), driver="gels"
        ).solution
        wave = torchaudio.functional.griffinlim(
            torch.relu(solution),
            window,
            n_fft,
            hop_length,
            WIN_LENGTH,
            1.0,
            n_iter,
            0.99,
            None,
            True,
        )
    frames = mel.shape[1]
    wave = torch.nn.functional.pad(
        wave, (0, max(0, frames * hop_length - wave.shape[-1]))
    )
    return wave[..., : frames * hop_length]
