"""Known facts about the evaluation metrics (PESQ, STOI, ESTOI, MCD, WER)."""

import math

import pytest
import torch

from speechbrain_v2s.audio.features import SAMPLE_RATE
from speechbrain_v2s.metrics import (
    align_lengths,
    estoi,
    mcd,
    normalise_text,
    pesq,
    speaker_similarity,
    stoi,
    wer,
    word_errors,
)


def speech_like(seconds=2.0, f0=140.0, seed=0):
    """Voiced harmonics with a gliding pitch, syllable-rate on/off and formants."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pitch = f0 * (1 + 0.1 * torch.sin(2 * math.pi * 0.7 * t))
    phase = 2 * math.pi * torch.cumsum(pitch, 0) / SAMPLE_RATE
    wav = sum(
        torch.sin(k * phase) / k * (1 + torch.sin(2 * math.pi * (0.5 + 0.3 * k) * t))
        for k in range(1, 25)
    )
    syllables = (torch.sin(2 * math.pi * 4 * t) > -0.2).float()
    wav = wav * syllables + 0.002 * torch.randn(t.shape, generator=g)
    return 0.3 * wav / wav.abs().max()


@pytest.fixture(scope="module")
def ref():
    return speech_like()


def test_identical_signals_score_maximum(ref):
    assert stoi(ref, ref) > 0.99
    assert estoi(ref, ref) > 0.99
    assert pesq(ref, ref) == pytest.approx(4.64, abs=0.01)  # P.862.2 ceiling
    assert mcd(ref, ref) == 0.0


def test_white_noise_scores_low(ref):
    noise = 0.1 * torch.randn(ref.shape, generator=torch.Generator().manual_seed(1))
    assert stoi(noise, ref) < 0.3
    assert estoi(noise, ref) < 0.2
    assert pesq(noise, ref) < 1.5
    assert mcd(noise, ref) > mcd(ref + 0.01 * noise, ref) > 0


def test_degradation_is_ordered(ref):
    g = torch.Generator().manual_seed(2)
    light = ref + 0.005 * torch.randn(ref.shape, generator=g)
    heavy = ref + 0.1 * torch.randn(ref.shape, generator=g)
    assert stoi(light, ref) > stoi(heavy, ref)
    assert pesq(light, ref) > pesq(heavy, ref)
    assert mcd(light, ref) < mcd(heavy, ref)


def test_small_delay_is_handled_by_the_length_rule(ref):
    # 3 ms late: the copy is 72 samples longer; align_lengths cuts its end,
    # so both keep the reference's time axis and scores stay high.
    delayed = torch.cat([torch.zeros(72), ref])
    assert align_lengths(delayed, ref).shape == ref.shape
    assert stoi(delayed, ref) > 0.9
    assert estoi(delayed, ref) > 0.8
    assert pesq(delayed, ref) > 3.0
    # A shorter generation is zero-padded at the end (never an error).
    shorter = ref[: -SAMPLE_RATE // 10]
    assert stoi(shorter, ref) > 0.8
    assert mcd(delayed, ref) > 0


def test_mcd_short_reference_is_nan():
    assert math.isnan(mcd(torch.zeros(10), torch.zeros(10)))


def test_wer_facts():
    ref = "bin blue at f two now"
    assert wer([ref], [ref]) == 0.0
    assert wer(["BIN Blue, at F two now!"], [ref]) == 0.0  # normalised
    assert wer([""], [ref]) == 100.0
    assert wer(["bin blue at f two now please"], [ref]) == pytest.approx(100 / 6)
    assert math.isnan(wer([""], [""]))
    # Corpus level: total errors over total words, not a mean of rates.
    assert wer(["a", "x y z w"], ["b", "x y z w"]) == pytest.approx(20.0)
    with pytest.raises(ValueError):
        wer(["a"], ["a", "b"])


def test_normalise_text():
    assert normalise_text("It's  “GRID”; set-red.") == "it's grid set red"
    assert word_errors("", "a b c") == (3, 3)


def test_speaker_similarity_with_any_embedder(ref):
    def embed(wav):  # [B, S] -> [B, 3]: crude spectral "embedding"
        spec = torch.fft.rfft(wav, n=1024).abs()
        return torch.stack(
            [spec[:, :40].mean(-1), spec[:, 40:200].mean(-1), spec[:, 200:].mean(-1)],
            dim=-1,
        )

    assert speaker_similarity(ref, ref, embed) == pytest.approx(1.0)
    batch = torch.stack([ref, speech_like(f0=220, seed=3)])
    sims = speaker_similarity(batch, batch.flip(0), embed)
    assert sims.shape == (2,) and torch.all(sims <= 1.0 + 1e-6)
