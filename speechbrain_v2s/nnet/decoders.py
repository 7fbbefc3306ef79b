"""Decoders shared by the A2A and V2A models (initialised from A2A in V2A).

* :class:`WaveDecoder` — MelGAN-style generator: transposed-convolution
  upsampling ×960 (25 fps features → 24 kHz samples) with residual dilated
  convolution stacks and cross-modal batch norm after each upsampling layer.
* :class:`MelDecoder` — SpeechBrain's conformer encoder over 100 fps features
  and a linear projection to 80 mel bins.

Each declares its ``output_kind`` (``"wave"`` or ``"mel"``), which
:class:`~speechbrain_v2s.nnet.model.V2SModel` takes as its own. Both zero
padded positions before every layer that mixes time steps, so a
padded batch gives the same valid outputs as its items run alone (eval mode).

Example
-------
>>> import torch
>>> dec = WaveDecoder(8, channels=8, upsample_factors=(8, 6, 5, 4))
>>> dec(torch.randn(2, 3, 8), torch.tensor([1.0, 0.34])).shape
torch.Size([2, 2880])
"""

import math
from fractions import Fraction

import torch
from torch import nn

from speechbrain_v2s.audio.features import N_MELS, SAMPLES_PER_FRAME
from speechbrain_v2s.nnet.causal import (
    conv1d_valid,
    conv_transpose1d_causal,
    with_context,
)
from speechbrain_v2s.nnet.normalization import CrossModalBatchNorm, valid_mask


def _masked(x, mask):
    """Zero padded steps of ``[B, C, T]`` given a ``[B, T]`` mask (or None)."""
    return x if mask is None else x * mask.unsqueeze(1).to(x.dtype)


def _weight_norm(module, enabled):
    return nn.utils.parametrizations.weight_norm(module) if enabled else module


class _ResidualStack(nn.Module):
    """MelGAN residual stack: dilated conv → 1x1 conv, with skip, per dilation
    (causal: the dilated convolutions see the past only)."""

    def __init__(self, channels, kernel_size, dilations, weight_norm, causal=False):
        super().__init__()
        self.causal = causal
        self.dilated = nn.ModuleList(
            _weight_norm(
                nn.Conv1d(
                    channels,
                    channels,
                    kernel_size,
                    dilation=d,
                    padding=0 if causal else d * (kernel_size - 1) // 2,
                ),
                weight_norm,
            )
            for d in dilations
        )
        self.pointwise = nn.ModuleList(
            _weight_norm(nn.Conv1d(channels, channels, 1), weight_norm)
            for _ in dilations
        )
        self.act = nn.LeakyReLU(0.2)

    def past_steps(self):
        """Steps of past input one output depends on."""
        return sum(c.dilation[0] * (c.kernel_size[0] - 1) for c in self.dilated)

    def forward(self, x, mask, cache=None, prefix=""):
        for i, (dilated, pointwise) in enumerate(zip(self.dilated, self.pointwise)):
            if self.causal:
                span = dilated.dilation[0] * (dilated.kernel_size[0] - 1)
                h = with_context(self.act(x), span, cache=cache, key=f"{prefix}{i}")
                h = conv1d_valid(dilated, h)
            else:
                h = dilated(self.act(x))
            x = _masked(x + pointwise(self.act(h)), mask)
        return x


class WaveDecoder(nn.Module):
    """MelGAN-style generator: ``[B, T, C]`` (25 fps) → waveform ``[B, T*960]``.

    Arguments
    ---------
    input_size : int
        Feature size of the temporal module output.
    channels : int
        Channels after the input convolution; halved at every upsampling layer
        (never below ``min_channels``).
    upsample_factors : tuple of int
        Strides of the transposed convolutions; their product must be 960.
    kernel_size : int
        Kernel of the dilated convolutions.
    dilations : tuple of int
        Dilations of each residual stack.
    min_channels : int
        Lower bound on the channels of the last stages.
    cross_modal : bool
        Per-modality batch-norm statistics (``False``: plain batch norm).
    weight_norm : bool
        Weight normalisation on the convolutions (as in MelGAN).
    causal : bool
        No output sample depends on input frames after its own frame plus
        ``lookahead_frames``: convolutions padded on the left only, each
        transposed convolution's output block made from its input step and
        the one before (no new parameters: the same state dict).
    lookahead_frames : int
        Causal only: future input frames the input convolution sees (the
        whole decoder's look-ahead; 0 to 2 is the intended range).

    Example
    -------
    >>> import torch
    >>> dec = WaveDecoder(4, channels=8, upsample_factors=(960,), dilations=(1,))
    >>> dec(torch.randn(1, 1, 4)).shape
    torch.Size([1, 960])
    >>> live = WaveDecoder(4, channels=8, causal=True, lookahead_frames=1)
    >>> live(torch.randn(1, 2, 4)).shape, live.context_frames()
    (torch.Size([1, 1920]), (12, 1))
    """

    output_kind = "wave"

    def __init__(
        self,
        input_size,
        channels=512,
        upsample_factors=(8, 5, 4, 3, 2),
        kernel_size=3,
        dilations=(1, 3, 9),
        min_channels=16,
        cross_modal=True,
        weight_norm=True,
        causal=False,
        lookahead_frames=0,
    ):
        super().__init__()
        self.causal = bool(causal)
        self.lookahead_frames = int(lookahead_frames)
        if self.lookahead_frames and not self.causal:
            raise ValueError("lookahead_frames is for causal decoders")
        if not 0 <= self.lookahead_frames <= 6:  # the input conv's kernel: 7
            raise ValueError(f"lookahead_frames must be in [0, 6]: {lookahead_frames}")
        if math.prod(upsample_factors) != SAMPLES_PER_FRAME:
            raise ValueError(
                f"upsample_factors {tuple(upsample_factors)} multiply to "
                f"{math.prod(upsample_factors)}, not {SAMPLES_PER_FRAME}"
            )
        self.factors = tuple(upsample_factors)
        self.act = nn.LeakyReLU(0.2)
        self.pre = _weight_norm(
            nn.Conv1d(input_size, channels, 7, padding=0 if causal else 3), weight_norm
        )
        ups, norms, stacks = [], [], []
        ch = channels
        for factor in self.factors:
            out_ch = max(ch // 2, min_channels)
            # Kernel of two strides, no padding: the output is cropped instead,
            # which works for odd factors too.
            ups.append(
                _weight_norm(
                    nn.ConvTranspose1d(ch, out_ch, 2 * factor, stride=factor),
                    weight_norm,
                )
            )
            norms.append(
                CrossModalBatchNorm(out_ch, cross_modal=cross_modal, channel_axis=1)
            )
            stacks.append(
                _ResidualStack(out_ch, kernel_size, dilations, weight_norm, causal)
            )
            ch = out_ch
        self.ups = nn.ModuleList(ups)
        self.norms = nn.ModuleList(norms)
        self.stacks = nn.ModuleList(stacks)
        self.post = _weight_norm(
            nn.Conv1d(ch, 1, 7, padding=0 if causal else 3), weight_norm
        )

    def context_frames(self):
        """``(past, future)``: input frames one output sample depends on
        before and after its own frame, from the layers (past rounded up;
        a non-causal decoder's future is its past).

        Each transposed convolution reaches one input step back (its step
        starts at most two steps before the sample); a convolution of
        kernel ``k`` and dilation ``d``, ``d (k - 1)`` steps.
        """
        past = Fraction(self.pre.kernel_size[0] - 1 - self.lookahead_frames)
        rate = 1
        for factor, stack in zip(self.factors, self.stacks):
            past += Fraction(2, rate)
            rate *= factor
            past += Fraction(stack.past_steps(), rate)
        past += Fraction(self.post.kernel_size[0] - 1, rate)
        past = math.ceil(past)
        return (past, self.lookahead_frames) if self.causal else (past, past)

    def forward(self, x, lens=None, cache=None, final=True):
        """``x``: ``[B, T, C]``; ``lens``: ``[B]`` relative lengths.

        Causal decoders stream: with a ``cache`` dict (empty at the start,
        carried from call to call), each call returns the samples of the
        frames its inputs determine (the last ``lookahead_frames`` frames
        wait for the next call, or for ``final``, which ends the input).
        """
        if self.causal:
            return self._forward_causal(x, lens, cache, final)
        if cache is not None:
            raise ValueError("only a causal decoder streams")
        frames = x.shape[1]
        mask = valid_mask(lens, frames)
        h = self.pre(_masked(x.transpose(1, 2), mask))
        rate = 1
        for up, norm, stack, factor in zip(
            self.ups, self.norms, self.stacks, self.factors
        ):
            h = up(_masked(self.act(h), mask))
            crop = factor // 2
            h = h[..., crop : crop + frames * rate * factor]
            rate *= factor
            mask = valid_mask(lens, frames * rate, rate)
            h = _masked(norm(h, mask=mask), mask)
            h = stack(h, mask)
        wave = torch.tanh(self.post(self.act(h))).squeeze(1)
        return _masked(wave.unsqueeze(1), mask).squeeze(1)

    def _forward_causal(self, x, lens, cache, final):
        mask = valid_mask(lens, x.shape[1])
        ahead = self.lookahead_frames
        h = _masked(x.transpose(1, 2), mask)
        left = self.pre.kernel_size[0] - 1 - ahead
        h = with_context(h, left, ahead, cache=cache, key="pre", final=final)
        h = conv1d_valid(self.pre, h)
        frames = h.shape[-1]  # offline: T; streamed: the frames now determined
        if frames == 0:
            return x.new_zeros(x.shape[0], 0)
        rate = 1
        for i, (up, norm, stack, factor) in enumerate(
            zip(self.ups, self.norms, self.stacks, self.factors)
        ):
            h = conv_transpose1d_causal(
                up, _masked(self.act(h), mask), cache=cache, key=f"up{i}"
            )
            rate *= factor
            mask = valid_mask(lens, frames * rate, rate)
            h = _masked(norm(h, mask=mask), mask)
            h = stack(h, mask, cache=cache, prefix=f"stack{i}.")
        h = with_context(
            self.act(h), self.post.kernel_size[0] - 1, cache=cache, key="post"
        )
        wave = torch.tanh(conv1d_valid(self.post, h))
        return _masked(wave, mask).squeeze(1)


class MelDecoder(nn.Module):
    """Conformer decoder: ``[B, T', C]`` (100 fps) → log-mel ``[B, T', 80]``.

    Input projection → cross-modal batch norm → SpeechBrain
    ``ConformerEncoder`` (with a key-padding mask, and padded steps zeroed
    before each depthwise convolution) → linear projection to mel bins.

    Arguments
    ---------
    input_size : int
        Feature size of the temporal module output.
    d_model : int
        Conformer width.
    num_layers : int
        Conformer layers.
    nhead : int
        Attention heads.
    d_ffn : int
        Feed-forward hidden size.
    kernel_size : int
        Depthwise convolution kernel.
    n_mels : int
        Output mel bins.
    dropout : float
        Conformer dropout.
    attention_type : str
        ``"RelPosMHAXL"`` (relative positions) or ``"regularMHA"``.
    cross_modal : bool
        Per-modality batch-norm statistics (``False``: plain batch norm).
    causal : bool
        Each mel frame from its own and earlier inputs only: attention masked
        to the past, causal depthwise convolutions (SpeechBrain's
        ``causal``). Offline only: streaming it exactly would recompute the
        whole history at every step.
    lookahead_frames : int
        Must be 0: a per-layer look-ahead would add up over the layers.

    Example
    -------
    >>> import torch
    >>> dec = MelDecoder(8, d_model=16, num_layers=1, nhead=2, d_ffn=32)
    >>> dec(torch.randn(2, 12, 8), torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 12, 80])
    >>> MelDecoder(8, 16, 1, 2, 32, causal=True).context_frames()
    (inf, 0)
    """

    output_kind = "mel"

    def __init__(
        self,
        input_size,
        d_model=256,
        num_layers=4,
        nhead=4,
        d_ffn=1024,
        kernel_size=31,
        n_mels=N_MELS,
        dropout=0.1,
        attention_type="RelPosMHAXL",
        cross_modal=True,
        causal=False,
        lookahead_frames=0,
    ):
        super().__init__()
        self.causal = bool(causal)
        self.lookahead_frames = int(lookahead_frames)
        if self.lookahead_frames:
            raise ValueError("the mel decoder has no look-ahead (0 frames)")
        from speechbrain.lobes.models.transformer.Conformer import ConformerEncoder
        from speechbrain.nnet.attention import RelPosEncXL

        self.input_proj = nn.Linear(input_size, d_model)
        self.input_norm = CrossModalBatchNorm(d_model, cross_modal=cross_modal)
        self.attention_type = attention_type
        self.pos_enc = RelPosEncXL(d_model) if attention_type == "RelPosMHAXL" else None
        self.conformer = ConformerEncoder(
            num_layers=num_layers,
            d_model=d_model,
            d_ffn=d_ffn,
            nhead=nhead,
            kernel_size=kernel_size,
            dropout=dropout,
            attention_type=attention_type,
            causal=self.causal,
        )
        self.out_proj = nn.Linear(d_model, n_mels)
        self._conv_mask = None
        # SpeechBrain's convolution module only masks its output; padded steps
        # would still reach valid ones through the depthwise convolution.
        for layer in self.conformer.layers:
            layer.convolution_module.conv.register_forward_pre_hook(self._zero_padding)

    def _zero_padding(self, module, args):
        if self._conv_mask is None:
            return None
        return (args[0] * self._conv_mask.to(args[0].dtype),) + tuple(args[1:])

    def context_frames(self):
        """``(past, future)`` frames one output sees (attention: all of them)."""
        return (math.inf, 0) if self.causal else (math.inf, math.inf)

    def forward(self, x, lens=None):
        """``x``: ``[B, T', C]``; ``lens``: ``[B]`` relative lengths."""
        mask = valid_mask(lens, x.shape[1])
        h = self.input_norm(self.input_proj(x), mask=mask)
        pad = None
        if mask is not None:
            h = h * mask.unsqueeze(-1).to(h.dtype)
            pad = ~mask
            self._conv_mask = mask.unsqueeze(1)
        pos = self.pos_enc(h) if self.pos_enc is not None else None
        future = None
        if self.causal:  # True: masked
            steps = h.shape[1]
            future = torch.ones(steps, steps, dtype=torch.bool, device=h.device)
            future = torch.triu(future, 1)
        try:
            h, _ = self.conformer(
                h, src_mask=future, src_key_padding_mask=pad, pos_embs=pos
            )
        finally:
            self._conv_mask = None
        mel = self.out_proj(h)
        if mask is not None:
            mel = mel * mask.unsqueeze(-1).to(mel.dtype)
        return mel
