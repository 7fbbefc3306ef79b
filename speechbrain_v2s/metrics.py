"""Speech quality and intelligibility metrics used in the paper's tables.

PESQ (wide-band, at 16 kHz), STOI, ESTOI and :func:`mcd` compare a generated
waveform with its reference; :func:`speaker_similarity` compares speaker
embeddings; :func:`wer` compares transcripts; :func:`masked_mel_l1` compares
spectrograms while ignoring padding. All waveform functions accept 24 kHz
tensors (the project's rate) and resample where the metric needs another rate.

Length rule for every waveform pair (:func:`align_lengths`): the generated
signal is cut or zero-padded at its end to the reference's length. A model
that drops or adds audio at the end is therefore scored on the reference's
time span; :mod:`speechbrain_v2s.evaluation` records both lengths per
utterance so a mismatch is visible, never silent.

Example
-------
>>> import torch
>>> ref = torch.randn(24000) * 0.1
>>> round(stoi(ref, ref), 3)
1.0
"""

import math
import re
import string
import unicodedata
import warnings

import numpy as np
import torch

from speechbrain_v2s.audio.features import (
    HOP_LENGTH,
    SAMPLE_RATE,
    compute_mel,
    resample,
)

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


MCD_COEFFS = 13  # cepstral coefficients c1..c13 (c0, the energy, excluded)
_MCD_SCALE = 10.0 / math.log(10.0) * math.sqrt(2.0)


def cepstra(wav, sample_rate=SAMPLE_RATE, n_coeffs=MCD_COEFFS):
    """Mel cepstra ``[frames, n_coeffs]``, c1 onwards, of a mono waveform.

    The DCT-II (orthonormal) of the project's natural-log amplitude mel
    spectrogram (:func:`~speechbrain_v2s.audio.features.compute_mel`: 80 bins,
    100 frames/s at 24 kHz), i.e. MFCCs without liftering; c0 is dropped.

    Example
    -------
    >>> import torch
    >>> cepstra(torch.randn(2400) * 0.1).shape
    torch.Size([10, 13])
    """
    import torchaudio

    wav = torch.as_tensor(wav, dtype=torch.float32).detach().cpu().reshape(-1)
    wav = resample(wav, sample_rate, SAMPLE_RATE)
    if wav.shape[-1] < HOP_LENGTH:  # not one frame
        return torch.zeros(0, n_coeffs)
    mel = compute_mel(wav)
    dct = torchaudio.functional.create_dct(n_coeffs + 1, mel.shape[-1], "ortho")
    return (mel @ dct)[:, 1:]


def mcd(generated, reference, sample_rate=SAMPLE_RATE, n_coeffs=MCD_COEFFS):
    """Mel cepstral distortion in dB, averaged over frames.

    ``MCD = 10 / ln(10) * sqrt(2 * sum_d (c_d - c'_d)^2)`` per frame, with the
    cepstra of :func:`cepstra` (c1..c13, c0 excluded), averaged over all
    frames. Frames are aligned by :func:`align_lengths` on the waveforms
    (cut or zero-pad the generated signal at its end), not by dynamic time
    warping, so a delay or a length mismatch raises the value. The cepstra are
    MFCC-like (project mel filterbank), so values compare within this project,
    not with SPTK mel-cepstrum MCDs in other papers.

    Arguments
    ---------
    generated : torch.Tensor
        ``[samples]`` generated speech.
    reference : torch.Tensor
        ``[samples]`` reference speech.
    sample_rate : int
        Rate of both signals.
    n_coeffs : int
        Number of cepstral coefficients after c0.

    Returns
    -------
    float
        ``nan`` if the reference is shorter than one frame.

    Example
    -------
    >>> import torch
    >>> ref = torch.randn(24000) * 0.1
    >>> mcd(ref, ref)
    0.0
    >>> mcd(ref * 0.5, ref) > 0
    True
    """
    reference = torch.as_tensor(reference, dtype=torch.float32).reshape(-1)
    generated = align_lengths(
        torch.as_tensor(generated, dtype=torch.float32).reshape(-1), reference
    )
    ref_c = cepstra(reference, sample_rate, n_coeffs)
    gen_c = cepstra(generated, sample_rate, n_coeffs)
    if ref_c.shape[0] == 0:
        return math.nan
    per_frame = _MCD_SCALE * (gen_c - ref_c).pow(2).sum(-1).sqrt()
    return float(per_frame.mean())


def speaker_similarity(generated, reference, embedder):
    """Cosine similarity of speaker embeddings of two (batches of) waveforms.

    No length alignment: an utterance embedding does not depend on where
    the signal ends, so both are embedded as they are.

    Arguments
    ---------
    generated : torch.Tensor
        ``[samples]`` or ``[batch, samples]``.
    reference : torch.Tensor
        Same layout as ``generated`` (lengths may differ).
    embedder : callable
        ``wav[batch, samples] -> [batch, emb]`` (e.g. an ECAPA model's
        ``encode_batch`` followed by a squeeze).

    Returns
    -------
    float or torch.Tensor
        A float for 1-D inputs, else ``[batch]`` similarities in [-1, 1].

    Example
    -------
    >>> import torch
    >>> embed = lambda w: torch.stack([w.mean(-1), w.std(-1)], dim=-1)
    >>> x = torch.randn(8000)
    >>> round(speaker_similarity(x, x, embed), 4)
    1.0
    """
    single = torch.as_tensor(generated).dim() == 1
    gen = torch.as_tensor(generated, dtype=torch.float32)
    ref = torch.as_tensor(reference, dtype=torch.float32)
    if single:
        gen, ref = gen.unsqueeze(0), ref.unsqueeze(0)
    with torch.no_grad():
        gen_e = torch.as_tensor(embedder(gen)).reshape(gen.shape[0], -1)
        ref_e = torch.as_tensor(embedder(ref)).reshape(ref.shape[0], -1)
    sim = torch.nn.functional.cosine_similarity(gen_e.float(), ref_e.float(), dim=-1)
    return float(sim[0]) if single else sim


_PUNCTUATION = re.compile(rf"[{re.escape(string.punctuation)}\u2018\u2019\u201c\u201d]")


def normalise_text(text):
    """Text as WER compares it: lower case, punctuation removed, one space.

    Apostrophes inside words are kept (``don't``), every other punctuation
    mark becomes a space.

    Example
    -------
    >>> normalise_text("  Bin BLUE, at F-2 now! Don't.")
    "bin blue at f 2 now don't"
    """
    text = unicodedata.normalize("NFKC", str(text or "")).lower()
    text = text.replace("\u2019", "'")
    text = re.sub(r"(?<=\w)'(?=\w)", "\x00", text)  # protect in-word apostrophes
    text = _PUNCTUATION.sub(" ", text).replace("\x00", "'")
    return " ".join(text.split())


def word_errors(hyp, ref):
    """Word errors (substitutions + deletions + insertions) and reference words.

    Both texts are normalised first (:func:`normalise_text`). Summing both
    counts over a test set gives the corpus-level WER.

    Returns
    -------
    tuple of int
        ``(errors, reference_words)``.

    Example
    -------
    >>> word_errors("bin blue at f two", "bin blue at f two now")
    (1, 6)
    >>> word_errors("", "")
    (0, 0)
    """
    import jiwer

    hyp, ref = normalise_text(hyp), normalise_text(ref)
    n_ref = len(ref.split())
    if n_ref == 0:
        return len(hyp.split()), 0
    if not hyp:
        return n_ref, n_ref
    out = jiwer.process_words(ref, hyp)
    return out.substitutions + out.deletions + out.insertions, n_ref


def wer(hyps, refs):
    """Corpus-level word error rate in percent (jiwer, normalised text).

    Total word errors over total reference words, after
    :func:`normalise_text` on both sides; an empty hypothesis counts every
    reference word as deleted. Pairs with an empty reference add their
    insertions to the errors.

    Arguments
    ---------
    hyps : str or list of str
        Recognised texts.
    refs : str or list of str
        Reference texts, same length as ``hyps``.

    Returns
    -------
    float
        WER in percent (can exceed 100 with insertions); ``nan`` when the
        references hold no words.

    Example
    -------
    >>> wer(["Bin blue, at F two now."], ["bin blue at f two now"])
    0.0
    >>> wer([""], ["bin blue at f two now"])
    100.0
    >>> wer(["bin red at f two now", "set green"], ["bin blue at f two now", "x y"])
    37.5
    """
    if isinstance(hyps, str):
        hyps = [hyps]
    if isinstance(refs, str):
        refs = [refs]
    hyps, refs = list(hyps), list(refs)
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses for {len(refs)} references")
    errors = words = 0
    for hyp, ref in zip(hyps, refs):
        e, n = word_errors(hyp, ref)
        errors += e
        words += n
    return 100.0 * errors / words if words else math.nan
