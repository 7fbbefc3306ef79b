"""The temporal module shared by the A2A and V2A models.

Waveform family: a stacked bidirectional RNN at 25 fps. Mel family (the
paper's "LSTM → temporal upsampling → LSTM"): an RNN at 25 fps, ×4 upsampling
to the 100 fps mel rate, a second RNN. Sequences are packed, so padding never
reaches a valid frame (not even through the backward direction).

Example
-------
>>> import torch
>>> mod = TemporalModule(8, hidden_size=4, upsample=4, output_size=6)
>>> mod(torch.randn(2, 5, 8), torch.tensor([1.0, 0.6])).shape
torch.Size([2, 20, 6])
"""

import math

import torch
from torch import nn

from speechbrain_v2s.nnet.normalization import frame_counts, valid_mask

RNN_TYPES = {"gru": nn.GRU, "lstm": nn.LSTM}


def _run_packed(rnn, x, counts):
    """Run ``rnn`` on ``[B, T, C]`` with valid lengths ``counts`` (or all)."""
    if counts is None:
        return rnn(x)[0]
    packed = nn.utils.rnn.pack_padded_sequence(
        x, counts.cpu(), batch_first=True, enforce_sorted=False
    )
    out, _ = rnn(packed)
    out, _ = nn.utils.rnn.pad_packed_sequence(
        out, batch_first=True, total_length=x.shape[1]
    )
    return out


class TemporalModule(nn.Module):
    """Recurrent temporal model, optionally upsampling in time.

    Arguments
    ---------
    input_size : int
        Feature size of the encoder output.
    hidden_size : int
        RNN hidden size (per direction).
    num_layers : int
        RNN layers before upsampling.
    rnn_type : str
        ``"gru"`` or ``"lstm"``.
    bidirectional : bool, optional
        Bidirectional RNNs (default: unless ``causal``).
    upsample : int
        Time upsampling factor (1: none; 4: 25 → 100 fps for the mel family).
    post_layers : int
        RNN layers after upsampling (used when ``upsample > 1``).
    output_size : int, optional
        Size of a final linear projection (default: the RNN output size).
    dropout : float
        Dropout between RNN layers and before the projection.
    causal : bool
        Unidirectional RNNs: each output from its own and earlier frames.
        Streams: ``forward(x, cache=...)`` carries the hidden states.

    Example
    -------
    >>> import torch
    >>> mod = TemporalModule(8, hidden_size=4, rnn_type="lstm")
    >>> mod(torch.randn(3, 7, 8)).shape
    torch.Size([3, 7, 8])
    >>> live = TemporalModule(8, hidden_size=4, causal=True)
    >>> live(torch.randn(1, 7, 8)).shape, live.context_frames()
    (torch.Size([1, 7, 4]), (inf, 0))
    """

    def __init__(
        self,
        input_size,
        hidden_size=256,
        num_layers=2,
        rnn_type="gru",
        bidirectional=None,
        upsample=1,
        post_layers=1,
        output_size=None,
        dropout=0.0,
        causal=False,
    ):
        super().__init__()
        self.causal = bool(causal)
        if bidirectional is None:
            bidirectional = not self.causal
        if bidirectional and self.causal:
            raise ValueError("a causal temporal module is unidirectional")
        if rnn_type not in RNN_TYPES:
            raise ValueError(f"rnn_type {rnn_type!r} is not one of {list(RNN_TYPES)}")
        rnn_class = RNN_TYPES[rnn_type]
        directions = 2 if bidirectional else 1
        rnn_out = hidden_size * directions
        self.upsample = int(upsample)
        self.rnn = rnn_class(
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        if self.upsample > 1:
            # Repeating frames loses the position inside the 25 fps frame; a
            # learned per-phase offset gives it back to the second RNN.
            self.phase = nn.Parameter(torch.zeros(self.upsample, rnn_out))
            self.post_rnn = rnn_class(
                rnn_out,
                hidden_size,
                num_layers=post_layers,
                batch_first=True,
                bidirectional=bidirectional,
                dropout=dropout if post_layers > 1 else 0.0,
            )
        self.dropout = nn.Dropout(dropout)
        self.output_size = output_size or rnn_out
        self.proj = nn.Linear(rnn_out, output_size) if output_size else nn.Identity()

    def context_frames(self):
        """``(past, future)`` frames an output depends on (recurrent: ``inf``)."""
        return (math.inf, 0) if self.causal else (math.inf, math.inf)

    def _run(self, rnn, x, counts, cache, key):
        if cache is None:
            return _run_packed(rnn, x, counts)
        if not self.causal:
            raise ValueError("only a causal temporal module streams")
        out, cache[key] = rnn(x, cache.get(key))
        return out

    def forward(self, x, lens=None, cache=None):
        """``[B, T, C_in]`` → ``[B, T * upsample, C_out]`` (padding zeroed);
        ``cache``: a causal module's streaming state (a dict, empty at the
        start of a stream, holding the RNN states)."""
        frames = x.shape[1]
        counts = frame_counts(lens, frames)
        if counts is not None and bool((counts >= frames).all()):
            counts = None  # nothing padded: packing would only cost time
        h = self._run(self.rnn, x, counts, cache, "rnn")
        if self.upsample > 1:
            h = h.repeat_interleave(self.upsample, dim=1)
            h = h + self.phase.repeat(frames, 1).unsqueeze(0)
            counts = None if counts is None else counts * self.upsample
            h = self._run(self.post_rnn, self.dropout(h), counts, cache, "post_rnn")
        out = self.proj(self.dropout(h))
        mask = valid_mask(lens, out.shape[1], self.upsample)
        if mask is not None:
            out = out * mask.unsqueeze(-1).to(out.dtype)
        return out
