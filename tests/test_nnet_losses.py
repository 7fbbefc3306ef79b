"""The waveform GAN's multi-resolution STFT loss on silent references."""

import math

import torch

from speechbrain_v2s.nnet.losses import MultiResolutionSTFTLoss, _magnitude

SAMPLES = 28800  # a 1.2 s training crop at 24 kHz


def _speech_like(seed, f0):
    """A voiced, amplitude-modulated tone plus noise, RMS about 0.07."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(SAMPLES) / 24000
    voiced = torch.sin(2 * math.pi * f0 * t) * (1 + torch.sin(2 * math.pi * 3 * t))
    return (0.06 * voiced + 0.02 * torch.randn(SAMPLES, generator=gen)).unsqueeze(0)


def _plain_ratio(loss, y_hat, y):
    """Spectral convergence as it was: ||ref - pred|| / ||ref||."""
    total = 0.0
    for n_fft, hop, win in loss.configs:
        pred, ref = _magnitude(y_hat, n_fft, hop, win), _magnitude(y, n_fft, hop, win)
        total += float(torch.norm(ref - pred) / torch.norm(ref))
    return total / len(loss.configs)


def test_silent_reference_gives_a_bounded_convergence_term():
    loss = MultiResolutionSTFTLoss()
    pred = _speech_like(0, 220.0)
    _, sc_speech = loss(pred, _speech_like(1, 150.0))
    _, sc_silent = loss(pred, torch.zeros(1, SAMPLES))
    mag_silent, _ = loss(pred, torch.zeros(1, SAMPLES))
    # Unfloored, this was ~1e7 (the reference's norm is ~1e-5).
    assert _plain_ratio(loss, pred, torch.zeros(1, SAMPLES)) > 1e6
    assert math.isfinite(float(sc_silent))
    # Same order as the log-magnitude term on silence, and within ~100x of a
    # speech reference's value (~1).
    assert 0.5 < float(sc_speech) < 2.0
    assert float(sc_silent) < 3 * float(mag_silent)
    assert float(sc_silent) < 100 * float(sc_speech)
    # Still a loss: a silent prediction of silence costs nothing.
    _, sc_zero = loss(torch.zeros(1, SAMPLES), torch.zeros(1, SAMPLES))
    assert float(sc_zero) == 0.0


def test_near_silent_reference_is_bounded_and_gradients_are_finite():
    loss = MultiResolutionSTFTLoss()
    gen = torch.Generator().manual_seed(3)
    hiss = 1e-5 * torch.randn(2, SAMPLES, generator=gen)  # dither, -100 dBFS
    pred = _speech_like(0, 220.0).repeat(2, 1).requires_grad_()
    mag, sc = loss(pred, hiss)
    assert float(sc.detach()) < 50
    (mag + sc).backward()
    assert torch.isfinite(pred.grad).all()


def test_speech_reference_loss_is_unchanged():
    loss = MultiResolutionSTFTLoss()
    pred, ref = _speech_like(0, 220.0), _speech_like(1, 150.0)
    # A batch whose other item is silence is still normalised by the batch's
    # speech, not floored.
    pred2 = torch.cat([pred, 0.5 * pred])
    ref2 = torch.cat([ref, torch.zeros(1, SAMPLES)])
    for y_hat, y in ((pred, ref), (pred2, ref2)):
        _, sc = loss(y_hat, y)
        expected = _plain_ratio(loss, y_hat, y)
        assert abs(float(sc) - expected) <= 1e-6 * expected
