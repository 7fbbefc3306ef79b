"""Spectral losses for the waveform GAN.

SpeechBrain 1.1's ``MultiScaleSTFTLoss`` calls ``torch.stft`` without
``return_complex``, which torch 2.11 rejects; this is the same loss
(spectral convergence + log-magnitude L1 over several resolutions) written
against the current API, with the same call signature, so it plugs into
SpeechBrain's ``GeneratorLoss(stft_loss=...)`` unchanged.
"""

import torch
from torch import nn


def _magnitude(x, n_fft, hop, win):
    window = torch.hann_window(win, device=x.device, dtype=x.dtype)
    spec = torch.stft(
        x, n_fft, hop, win, window=window, return_complex=True, center=True
    )
    return spec.abs().clamp(min=1e-7).transpose(1, 2)


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence and log-magnitude L1, averaged over resolutions.

    Arguments
    ---------
    n_ffts, hop_lengths, win_lengths : sequence of int
        One STFT configuration per resolution.

    Example
    -------
    >>> import torch
    >>> loss = MultiResolutionSTFTLoss()
    >>> x = torch.randn(2, 4800)
    >>> mag, sc = loss(x, x)
    >>> float(mag), float(sc)
    (0.0, 0.0)
    """

    def __init__(
        self,
        n_ffts=(1024, 2048, 512),
        hop_lengths=(120, 240, 50),
        win_lengths=(600, 1200, 240),
    ):
        super().__init__()
        self.configs = list(zip(n_ffts, hop_lengths, win_lengths))

    def forward(self, y_hat, y):
        """``y_hat``, ``y``: ``[B, S]`` → (magnitude loss, convergence loss)."""
        mag_total = sc_total = 0.0
        for n_fft, hop, win in self.configs:
            pred, ref = _magnitude(y_hat, n_fft, hop, win), _magnitude(
                y, n_fft, hop, win
            )
            sc_total = sc_total + torch.norm(ref - pred, p="fro") / torch.norm(
                ref, p="fro"
            ).clamp(min=1e-7)
            mag_total = mag_total + nn.functional.l1_loss(
                torch.log(pred), torch.log(ref)
            )
        n = len(self.configs)
        return mag_total / n, sc_total / n
