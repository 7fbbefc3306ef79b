"""Speech quality and intelligibility metrics used in the paper's tables.

PESQ (wide-band, at 16 kHz), STOI and ESTOI compare a generated waveform with
its reference; :func:`masked_mel_l1` compares spectrograms while ignoring padding.
All functions accept 24 kHz tensors (the project's rate) and resample where the
metric needs another rate.

Example
-------
>>> import torch
>>> ref = torch.randn(24000) * 0.1
>>> round(stoi(ref, ref), 3)
1.0
"""

import math
import warnings

import numpy as np
import torch

from speechbrain_v2s.audio.features import SAMPLE_RATE, resample

PESQ_RATE = 16000
STOI_RATE = 10000  # pystoi's internal rate; resampling first saves work


def align_lengths(generated, reference):
    """Bring ``generated`` to the length of ``reference``.

    The rule (stated, not silent): a longer generation is cut at the end, a
    shorter one is padded with zeros at the end, so sample ``i`` of both always
    refers to the same time since the first video frame.

    Arguments
    ---------
    generated : torch.Tensor
        ``[samples]``.
    reference : torch.Tensor
        ``[samples]``.

    Returns
    -------
    torch.Tensor
        ``generated`` with ``len(reference)`` samples.

    Example
    -------
    >>> import torch
    >>> align_lengths(torch.ones(3), torch.zeros(5)).tolist()
    [1.0, 1.0, 1.0, 0.0, 0.0]
    """
    n = reference.shape[-1]
    if generated.shape[-1] >= n:
        return generated[..., :n]
    return torch.nn.functional.pad(generated, (0, n - generated.shape[-1]))


def _to_numpy(wav, sample_rate, target_rate):
    wav = torch.as_tensor(wav, dtype=torch.float32).detach().cpu().reshape(-1)
    return resample(wav, sample_rate, target_rate).numpy().astype(np.float64)


def stoi(generated, reference, sample_rate=SAMPLE_RATE, extended=False):
    """Short-time objective intelligibility (Taal et al.), or ESTOI if ``extended``.

    Arguments
    ---------
    generated : torch.Tensor
        ``[samples]`` generated speech.
    reference : torch.Tensor
        ``[samples]`` reference speech.
    sample_rate : int
        Rate of both signals.
    extended : bool
        Compute ESTOI instead of STOI.

    Returns
    -------
    float

    Example
    -------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> ref = torch.randn(24000, generator=g) * 0.1
    >>> stoi(torch.randn(24000, generator=g) * 0.1, ref) < 0.3
    True
    """
    from pystoi import stoi as _stoi

    generated = align_lengths(torch.as_tensor(generated).reshape(-1), reference)
    ref = _to_numpy(reference, sample_rate, STOI_RATE)
    gen = _to_numpy(generated, sample_rate, STOI_RATE)
    with warnings.catch_warnings():
        # pystoi warns (and returns 1e-5) when fewer than 30 frames survive VAD.
        warnings.simplefilter("ignore")
        return float(_stoi(ref, gen, STOI_RATE, extended=extended))


def estoi(generated, reference, sample_rate=SAMPLE_RATE):
    """Extended STOI (Jensen & Taal), see :func:`stoi`.

    Example
    -------
    >>> import torch
    >>> ref = torch.randn(24000) * 0.1
    >>> round(estoi(ref, ref), 3)
    1.0
    """
    return stoi(generated, reference, sample_rate, extended=True)


def pesq(generated, reference, sample_rate=SAMPLE_RATE):
    """Wide-band PESQ (ITU-T P.862.2) at 16 kHz; ``nan`` when PESQ cannot score.

    PESQ refuses signals it finds no speech in; such a pair gets ``nan`` so a
    batch job goes on and the summary can count it.

    Example
    -------
    >>> import torch
    >>> t = torch.arange(48000) / 24000
    >>> gate = torch.sin(2 * 3.1416 * 3 * t) > 0
    >>> ref = 0.3 * torch.sin(2 * 3.1416 * 220 * t) * gate
    >>> pesq(ref, ref) > 4.0
    True
    """
    from pesq import PesqError
    from pesq import pesq as _pesq

    generated = align_lengths(torch.as_tensor(generated).reshape(-1), reference)
    ref = _to_numpy(reference, sample_rate, PESQ_RATE)
    gen = _to_numpy(generated, sample_rate, PESQ_RATE)
    try:
        return float(_pesq(PESQ_RATE, ref, gen, "wb"))
    except (PesqError, ValueError):
        return math.nan


def masked_mel_l1(predicted, target, lens=None):
    """Mean absolute difference of two ``[batch, frames, bins]`` spectrograms.

    Frames beyond each item's relative length ``lens`` are ignored, so padding
    never changes the value.

    Example
    -------
    >>> import torch
    >>> a, b = torch.zeros(2, 4, 3), torch.ones(2, 4, 3)
    >>> b[1, 2:] = 100.0  # padding of item 1
    >>> masked_mel_l1(a, b, torch.tensor([1.0, 0.5])).item()
    1.0
    """
    frames = min(predicted.shape[1], target.shape[1])
    predicted, target = predicted[:, :frames], target[:, :frames]
    if lens is None:
        return (predicted - target).abs().mean()
    valid = torch.round(lens.to(predicted.device) * frames).long()
    mask = torch.arange(frames, device=predicted.device)[None, :] < valid[:, None]
    mask = mask.unsqueeze(-1).to(predicted.dtype)
    denom = mask.sum() * predicted.shape[-1]
    return ((predicted - target).abs() * mask).sum() / denom.clamp(min=1)
