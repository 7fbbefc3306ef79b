"""Speaker identity: conditioning of the decoder and reference-clip embeddings.

* :class:`SpeakerConditioner` adds a projected speaker embedding to the
  temporal features: a learned table for seen speakers (``"table"``) or an
  embedding computed from a reference clip (``"embedding"``).
* :class:`SpeakerEmbedder` computes such embeddings with any SpeechBrain
  ``EncoderClassifier`` (ECAPA-TDNN), from a local folder or a Hub id.

Example
-------
>>> import torch
>>> cond = SpeakerConditioner(8, mode="table", num_speakers=3, emb_dim=4)
>>> cond(torch.zeros(2, 5, 8), torch.tensor([0, 2])).shape
torch.Size([2, 5, 8])
"""

import torch
from torch import nn

from speechbrain_v2s.audio.features import SAMPLE_RATE, resample
from speechbrain_v2s.nnet.normalization import valid_mask

SPEAKER_MODES = ("none", "table", "embedding")


class SpeakerConditioner(nn.Module):
    """Add a speaker embedding to ``[B, T, C]`` features.

    Arguments
    ---------
    feat_dim : int
        Feature size ``C``.
    mode : str
        ``"none"`` (identity), ``"table"`` (speaker ids → learned table) or
        ``"embedding"`` (given ``[B, E]`` embeddings, e.g. ECAPA-TDNN).
    num_speakers : int
        Table size (``"table"`` mode).
    emb_dim : int
        Embedding size (table rows, or the given embeddings' size).
    momentum : float
        ``"embedding"`` mode: update rate of the running mean of the (unit
        norm) training embeddings, the neutral identity used when no speaker
        is given.

    Without a speaker (``None``), or for a negative id, the neutral embedding
    is used: the mean of the table, or the running mean of the embeddings.

    Example
    -------
    >>> import torch
    >>> cond = SpeakerConditioner(8, mode="embedding", emb_dim=4)
    >>> feats = torch.zeros(2, 5, 8)
    >>> cond(feats, torch.randn(2, 4)).shape, cond(feats, None).shape
    (torch.Size([2, 5, 8]), torch.Size([2, 5, 8]))
    """

    def __init__(
        self, feat_dim, mode="none", num_speakers=0, emb_dim=192, momentum=0.01
    ):
        super().__init__()
        if mode not in SPEAKER_MODES:
            raise ValueError(f"speaker mode {mode!r} is not one of {SPEAKER_MODES}")
        self.mode = mode
        self.feat_dim = feat_dim
        self.emb_dim = emb_dim
        self.num_speakers = int(num_speakers or 0)
        self.momentum = momentum
        if mode == "none":
            return
        if mode == "table":
            if self.num_speakers < 1:
                raise ValueError("speaker mode 'table' needs num_speakers >= 1")
            self.table = nn.Embedding(self.num_speakers, emb_dim)
            nn.init.normal_(self.table.weight, std=0.1)
        else:
            self.register_buffer("neutral", torch.zeros(emb_dim))
        self.proj = nn.Linear(emb_dim, feat_dim)

    def embedding(self, speaker, batch_size, device):
        """``[B, emb_dim]`` embeddings for ``speaker`` (ids, vectors or None)."""
        if self.mode == "table":
            neutral = self.table.weight.mean(0)
            if speaker is None:
                return neutral.expand(batch_size, -1)
            if torch.is_floating_point(speaker):
                raise TypeError("speaker mode 'table' expects integer speaker ids")
            ids = speaker.reshape(-1).long().to(device)
            if (ids >= self.num_speakers).any():
                raise ValueError(
                    f"speaker id {int(ids.max())} out of range: the table has "
                    f"{self.num_speakers} speakers"
                )
            known = self.table(ids.clamp(min=0))
            return torch.where((ids >= 0).unsqueeze(1), known, neutral.expand_as(known))
        if speaker is None:
            return self.neutral.expand(batch_size, -1)
        if not torch.is_floating_point(speaker):
            raise TypeError("speaker mode 'embedding' expects float [B, E] embeddings")
        emb = speaker.reshape(speaker.shape[0], -1).to(device)
        if emb.shape[1] != self.emb_dim:
            raise ValueError(
                f"speaker embeddings of size {emb.shape[1]}, expected {self.emb_dim}"
            )
        # Unit norm: embedders differ in scale; direction carries the identity.
        emb = nn.functional.normalize(emb.float(), dim=1)
        if self.training:
            with torch.no_grad():
                self.neutral.lerp_(emb.mean(0), self.momentum)
        return emb

    def forward(self, x, speaker=None, lens=None):
        """``x``: ``[B, T, C]``; ``speaker``: ids ``[B]``, ``[B, E]`` or None."""
        if self.mode == "none":
            return x
        emb = self.embedding(speaker, x.shape[0], x.device)
        out = x + self.proj(emb.to(x.dtype)).unsqueeze(1)
        mask = valid_mask(lens, x.shape[1])
        return out if mask is None else out * mask.unsqueeze(-1).to(out.dtype)


class SpeakerEmbedder(nn.Module):
    """Speaker embeddings ``[B, E]`` of 24 kHz clips with a SpeechBrain model.

    Wraps ``EncoderClassifier.from_hparams(source=...)`` (e.g. an ECAPA-TDNN
    speaker model, local folder or Hub id); clips are resampled to the
    embedder's rate. The embedder is frozen and always in eval mode.

    Arguments
    ---------
    source : str
        Folder or Hub id of the ``EncoderClassifier`` model.
    savedir : str, optional
        Where its files are collected.
    run_opts : dict, optional
        SpeechBrain run options (e.g. ``{"device": "cuda"}``).
    sample_rate : int
        Rate the embedder expects.
    local_strategy : str
        ``speechbrain.utils.fetching.LocalStrategy`` name: ``"COPY"`` (default,
        no symlinks), ``"SYMLINK"`` or ``"NO_LINK"``.

    Example
    -------
    >>> SpeakerEmbedder.__name__  # a real model is needed: see the tests
    'SpeakerEmbedder'
    """

    def __init__(
        self,
        source,
        savedir=None,
        run_opts=None,
        sample_rate=16000,
        local_strategy="COPY",
    ):
        super().__init__()
        from speechbrain.inference.speaker import EncoderClassifier
        from speechbrain.utils.fetching import LocalStrategy

        self.sample_rate = sample_rate
        self.model = EncoderClassifier.from_hparams(
            source=str(source),
            savedir=None if savedir is None else str(savedir),
            run_opts=run_opts,
            local_strategy=LocalStrategy[local_strategy],
        )
        for param in self.model.parameters():
            param.requires_grad_(False)
        self.model.eval()

    def train(self, mode=True):
        """Stays in eval mode: the embedder is never trained here."""
        super().train(mode)
        self.model.eval()
        return self

    @torch.no_grad()
    def forward(self, wavs, lens=None, sample_rate=SAMPLE_RATE):
        """``wavs``: ``[B, S]`` (or ``[S]``) at ``sample_rate`` → ``[B, E]``."""
        if wavs.dim() == 1:
            wavs = wavs.unsqueeze(0)
        wavs = resample(wavs.float(), sample_rate, self.sample_rate)
        emb = self.model.encode_batch(wavs, lens)
        return emb.reshape(emb.shape[0], -1)
