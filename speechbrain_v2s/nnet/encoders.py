"""Encoders: audio waveform, log-mel and mouth-region video → 25 fps features.

All three map their input to ``[B, T, C]`` at the video frame rate (25 fps,
``T`` video frames) with the same ``out_channels``, so the temporal module and
decoder after them are interchangeable between the A2A and V2A models. Each
declares the ``input_kind`` it takes (``"wave"``, ``"mel"`` or ``"video"``):
the model, the training loop and the interfaces read that, never the class
name or the input's rank. Padded
positions are zeroed before every layer that looks at neighbours, so a padded
batch gives the same valid outputs as its items run alone (in eval mode).

Example
-------
>>> import torch
>>> enc = AudioEncoder(out_channels=8, channels=(4, 4, 4, 4, 8))
>>> enc(torch.randn(2, 3 * 960), torch.tensor([1.0, 0.67])).shape
torch.Size([2, 3, 8])
"""

import math

import torch
from torch import nn

from speechbrain_v2s.audio.features import (
    MEL_FRAMES_PER_VIDEO_FRAME,
    N_MELS,
    SAMPLES_PER_FRAME,
)
from speechbrain_v2s.nnet.causal import with_context
from speechbrain_v2s.nnet.normalization import CrossModalBatchNorm, valid_mask


def _apply_mask(x, mask):
    """Zero padded positions of ``[B, C, T, ...]`` given a ``[B, T]`` mask."""
    if mask is None:
        return x
    shape = (mask.shape[0], 1, mask.shape[1]) + (1,) * (x.dim() - 3)
    return x * mask.reshape(shape).to(x.dtype)


class _ConvBlock(nn.Module):
    """Conv1d → masked batch norm → activation, on ``[B, C, T]`` (causal:
    the ``kernel_size - stride`` steps of padding all on the left)."""

    def __init__(self, in_ch, out_ch, kernel_size, stride=1, causal=False):
        super().__init__()
        # "Same"-style padding so that T samples give exactly T / stride outputs.
        self.left = (kernel_size - stride) if causal else 0
        padding = 0 if causal else (kernel_size - stride) // 2
        self.conv = nn.Conv1d(in_ch, out_ch, kernel_size, stride, padding)
        self.norm = CrossModalBatchNorm(out_ch, cross_modal=False, channel_axis=1)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x, mask_in=None, mask_out=None):
        x = _apply_mask(x, mask_in)
        if self.left:
            x = with_context(x, self.left)
        x = self.conv(x)
        return self.act(self.norm(x, mask=mask_out))


def _stride_kernel(stride):
    # Kernel covering two strides, with (kernel - stride) even for exact lengths.
    return 2 * stride + (stride % 2)


class AudioEncoder(nn.Module):
    """Raw 24 kHz waveform ``[B, S]`` → ``[B, S // 960, C]``.

    A stack of strided 1-D convolutions whose strides multiply to 960 (one
    video frame of audio); samples past the last whole frame are dropped.

    Arguments
    ---------
    out_channels : int
        Feature size ``C``.
    channels : tuple of int
        Channels of each strided layer.
    strides : tuple of int
        Stride of each layer; their product must be 960.
    causal : bool
        Each frame's features from its own and earlier samples only.

    Example
    -------
    >>> import torch
    >>> enc = AudioEncoder(out_channels=16, channels=(4, 8, 8, 16, 16))
    >>> enc(torch.randn(1, 7 * 960)).shape
    torch.Size([1, 7, 16])
    >>> AudioEncoder(8, (4, 4, 4, 4, 8), causal=True).context_frames()
    (2, 0)
    """

    input_kind = "wave"

    def __init__(
        self,
        out_channels=512,
        channels=(64, 128, 256, 512, 512),
        strides=(5, 4, 4, 4, 3),
        causal=False,
    ):
        super().__init__()
        self.causal = bool(causal)
        if math.prod(strides) != SAMPLES_PER_FRAME:
            raise ValueError(
                f"strides {tuple(strides)} multiply to {math.prod(strides)}, "
                f"not {SAMPLES_PER_FRAME}"
            )
        if len(channels) != len(strides):
            raise ValueError("channels and strides must have the same length")
        self.strides = tuple(strides)
        self.out_channels = out_channels
        blocks, in_ch = [], 1
        for ch, stride in zip(channels, strides):
            blocks.append(_ConvBlock(in_ch, ch, _stride_kernel(stride), stride, causal))
            in_ch = ch
        self.blocks = nn.ModuleList(blocks)
        self.proj = nn.Conv1d(in_ch, out_channels, 1)

    def context_frames(self):
        """``(past, future)`` video frames one output frame's samples reach
        beyond its own frame, from the layers (rounded up)."""
        reach, step = 0, 1  # in input samples
        for block, stride in zip(self.blocks, self.strides):
            reach += (block.conv.kernel_size[0] - stride) * step
            step *= stride
        past = math.ceil(reach / SAMPLES_PER_FRAME)
        if self.causal:
            return past, 0
        return (math.ceil(reach / 2 / SAMPLES_PER_FRAME),) * 2

    def forward(self, x, lens=None):
        """``x``: ``[B, S]`` waveform; ``lens``: ``[B]`` relative lengths."""
        frames = x.shape[-1] // SAMPLES_PER_FRAME
        x = x[:, : frames * SAMPLES_PER_FRAME].unsqueeze(1)
        rate = SAMPLES_PER_FRAME
        mask_in = valid_mask(lens, frames * rate, rate)
        for block, stride in zip(self.blocks, self.strides):
            rate //= stride
            mask_out = valid_mask(lens, frames * rate, rate)
            x = block(x, mask_in, mask_out)
            mask_in = mask_out
        x = _apply_mask(self.proj(x), mask_in)
        return x.transpose(1, 2)


class MelEncoder(nn.Module):
    """Log-mel ``[B, 4T, 80]`` (100 fps) → ``[B, T, C]`` (25 fps).

    Arguments
    ---------
    out_channels : int
        Feature size ``C``.
    channels : int
        Hidden channels.
    n_mels : int
        Mel bins of the input.
    kernel_size : int
        Kernel of the (non-strided) convolutions.
    causal : bool
        Each frame's features from its own and earlier mel frames only.

    Example
    -------
    >>> import torch
    >>> enc = MelEncoder(out_channels=8, channels=8)
    >>> enc(torch.randn(2, 28, 80), torch.tensor([1.0, 0.43])).shape
    torch.Size([2, 7, 8])
    """

    input_kind = "mel"

    def __init__(
        self,
        out_channels=512,
        channels=256,
        n_mels=N_MELS,
        kernel_size=5,
        causal=False,
    ):
        super().__init__()
        self.out_channels = out_channels
        self.causal = bool(causal)
        self.factor = MEL_FRAMES_PER_VIDEO_FRAME
        self.pre = _ConvBlock(n_mels, channels, kernel_size, causal=causal)
        self.down = _ConvBlock(
            channels, channels, 2 * self.factor, self.factor, causal=causal
        )
        self.post = _ConvBlock(channels, channels, kernel_size, causal=causal)
        self.proj = nn.Conv1d(channels, out_channels, 1)

    def forward(self, x, lens=None):
        """``x``: ``[B, 4T, n_mels]``; ``lens``: ``[B]`` relative lengths."""
        frames = x.shape[1] // self.factor
        x = x[:, : frames * self.factor].transpose(1, 2)
        fine = valid_mask(lens, frames * self.factor, self.factor)
        coarse = valid_mask(lens, frames)
        x = self.pre(x, fine, fine)
        x = self.down(x, fine, coarse)
        x = self.post(x, coarse, coarse)
        return _apply_mask(self.proj(x), coarse).transpose(1, 2)


def _resnet_layer(inplanes, planes, blocks, stride):
    from torchvision.models.resnet import BasicBlock, conv1x1

    downsample = None
    if stride != 1 or inplanes != planes:
        downsample = nn.Sequential(
            conv1x1(inplanes, planes, stride), nn.BatchNorm2d(planes)
        )
    layers = [BasicBlock(inplanes, planes, stride, downsample)]
    layers += [BasicBlock(planes, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class VideoEncoder(nn.Module):
    """Mouth-region frames ``[B, T, 1, 88, 88]`` → ``[B, T, C]``.

    A 3-D convolution front end (temporal kernel 5) followed by a ResNet-18
    trunk (torchvision ``BasicBlock`` layers, 2-2-2-2 blocks) applied to each
    frame, global average pooling and a linear projection. The trunk runs on
    valid frames only: padding costs nothing and never enters its batch norms.

    Arguments
    ---------
    out_channels : int
        Feature size ``C``.
    frontend_channels : int
        Channels of the 3-D front end (64 in the paper's encoder).
    resnet_width : int
        Channels of the first ResNet stage (64 = ResNet-18; stages double it).
    in_channels : int
        Image channels (1: grayscale).
    blocks : tuple of int
        Residual blocks per stage.
    input_scale : int
        Frames are average-pooled by this factor before the front end
        (2: 88x88 ROIs read as 44x44). Every convolution then costs
        ``input_scale ** 2`` times less; the tiny CPU models use 2, the
        paper's encoder 1.
    causal : bool
        Each frame's features from that frame and earlier ones only: the
        front end's temporal padding all on the left (the trunk works frame by
        frame). Streams: ``forward(x, cache=...)`` keeps the front end's past
        frames from call to call.

    Example
    -------
    >>> import torch
    >>> enc = VideoEncoder(out_channels=8, frontend_channels=4, resnet_width=4)
    >>> enc(torch.randn(2, 3, 1, 88, 88), torch.tensor([1.0, 0.67])).shape
    torch.Size([2, 3, 8])
    >>> half = VideoEncoder(out_channels=8, resnet_width=8, input_scale=2)
    >>> half(torch.randn(1, 3, 88, 88)).shape
    torch.Size([1, 3, 8])
    """

    input_kind = "video"

    def __init__(
        self,
        out_channels=512,
        frontend_channels=64,
        resnet_width=64,
        in_channels=1,
        blocks=(2, 2, 2, 2),
        input_scale=1,
        causal=False,
    ):
        super().__init__()
        self.causal = bool(causal)
        if int(input_scale) != input_scale or input_scale < 1:
            raise ValueError(f"input_scale must be a positive integer: {input_scale}")
        self.out_channels = out_channels
        self.in_channels = in_channels
        self.input_scale = int(input_scale)
        self.frontend = nn.Conv3d(
            in_channels,
            frontend_channels,
            kernel_size=(5, 7, 7),
            stride=(1, 2, 2),
            padding=(2, 3, 3),
            bias=False,
        )
        self.frontend_norm = CrossModalBatchNorm(
            frontend_channels, cross_modal=False, channel_axis=1
        )
        self.frontend_act = nn.PReLU(frontend_channels)
        self.pool = nn.MaxPool2d(3, 2, 1)
        stages, inplanes = [], frontend_channels
        for i, n_blocks in enumerate(blocks):
            planes = resnet_width * 2**i
            stages.append(_resnet_layer(inplanes, planes, n_blocks, 1 if i == 0 else 2))
            inplanes = planes
        # Channels-last weights and inputs: oneDNN's fastest 2-D conv layout
        # (about 20 % faster on CPU, and what tensor cores prefer). Not below
        # 8 channels: torch 2.11's CPU backward of a channels-last 1x1
        # stride-2 convolution (the stage-2 shortcut) with fewer than 8 input
        # channels corrupts the heap (seen with widths 2 and 4).
        self.memory_format = (
            torch.channels_last if resnet_width >= 8 else torch.contiguous_format
        )
        self.trunk = nn.Sequential(*stages).to(memory_format=self.memory_format)
        self.proj = (
            nn.Identity()
            if inplanes == out_channels
            else nn.Linear(inplanes, out_channels)
        )

    def context_frames(self):
        """``(past, future)`` neighbour frames one output frame sees (the 3-D
        front end's temporal kernel; the trunk is per frame).

        Example
        -------
        >>> VideoEncoder(8, 4, 4, causal=True).context_frames()
        (4, 0)
        """
        span = self.frontend.dilation[0] * (self.frontend.kernel_size[0] - 1)
        if self.causal:
            return span, 0
        return self.frontend.padding[0], span - self.frontend.padding[0]

    def _frontend_2d(self, x, fold_norm=False, cache=None):
        """The 3-D front end on ``[B, C, T, H, W]`` as one 2-D convolution per
        frame over its ``kt`` stacked neighbours → ``[B * T, C', H', W']``,
        channels-last; with ``fold_norm``, the (eval-mode) batch norm after it
        is applied through the convolution's weights.

        The same sums as the Conv3d (zero padding in time included), but the
        frames come out flat and channels-last, the layout the batch norm,
        PReLU and max-pool after it are fastest in (on CPU the 3-D layout made
        those three cost more than the convolution itself).
        """
        conv = self.frontend
        kt, pad_t = conv.kernel_size[0], conv.padding[0]
        batch, channels, frames = x.shape[:3]
        if self.causal:  # past frames only: zeros, or those of earlier calls
            x = with_context(x, kt - 1, dim=2, cache=cache, key="frontend")
        else:
            x = nn.functional.pad(x, (0, 0, 0, 0, pad_t, pad_t))
        stacked = x.unfold(2, kt, 1)  # [B, C, T, H, W, kt]
        stacked = stacked.permute(0, 2, 1, 5, 3, 4).reshape(
            batch * frames, channels * kt, *x.shape[3:]
        )
        weight = conv.weight.flatten(1, 2)  # [C', C * kt, kh, kw], same order
        bias = conv.bias
        if fold_norm:  # eval: the batch norm's affine map folded into the conv
            scale, shift = self.frontend_norm.affine()
            weight = weight * scale.view(-1, 1, 1, 1)
            bias = shift if bias is None else bias * scale + shift
        return nn.functional.conv2d(
            stacked.contiguous(memory_format=torch.channels_last),
            weight.contiguous(memory_format=torch.channels_last),
            bias,
            conv.stride[1:],
            conv.padding[1:],
            conv.dilation[1:],
        )

    @torch.no_grad()
    def fold_batch_norm(self):
        """Fold the trunk's batch norms into the convolutions before them,
        for inference only (about 10 % less trunk time on CPU).

        Each ``conv → BatchNorm2d`` pair of the ResNet blocks becomes one
        convolution with the normalisation's eval-mode affine map in its
        weights and bias, and the batch norm an ``Identity``: the outputs are
        those of the eval-mode encoder (up to float rounding), but the trunk
        has no batch norms left to train and its ``state_dict`` no longer
        matches the architecture, so fold only a model that will not be
        trained or saved (``VideoToSpeech`` does, on load).

        Example
        -------
        >>> import torch
        >>> enc = VideoEncoder(out_channels=8, frontend_channels=8, resnet_width=8)
        >>> x = torch.randn(1, 3, 1, 88, 88)
        >>> before = enc.eval()(x)
        >>> enc.fold_batch_norm()
        >>> torch.allclose(enc(x), before, atol=1e-5)
        True
        """
        from torch.nn.utils.fusion import fuse_conv_bn_eval

        def fused(conv, norm):
            conv = fuse_conv_bn_eval(conv.eval(), norm.eval())
            return conv.to(memory_format=self.memory_format)

        for block in self.trunk.modules():
            if not hasattr(block, "bn1"):  # torchvision BasicBlock only
                continue
            for conv, norm in (("conv1", "bn1"), ("conv2", "bn2")):
                if isinstance(getattr(block, norm), nn.BatchNorm2d):
                    fold = fused(getattr(block, conv), getattr(block, norm))
                    setattr(block, conv, fold)
                    setattr(block, norm, nn.Identity())
            short = block.downsample
            if short is not None and isinstance(short[1], nn.BatchNorm2d):
                block.downsample = nn.Sequential(fused(short[0], short[1]))

    def forward(self, x, lens=None, cache=None):
        """``x``: ``[B, T, 1, H, W]`` or ``[B, T, H, W]``; ``lens``: ``[B]``;
        ``cache``: a causal encoder's streaming state (a dict, empty at the
        start of a stream)."""
        if cache is not None and not self.causal:
            raise ValueError("only a causal encoder streams")
        if x.dim() == 4:
            x = x.unsqueeze(2)
        batch, frames = x.shape[:2]
        mask = valid_mask(lens, frames)
        x = _apply_mask(x.transpose(1, 2), mask)  # [B, 1, T, H, W]
        if self.input_scale > 1:
            scale = (1, self.input_scale, self.input_scale)
            x = nn.functional.avg_pool3d(x, scale, scale, ceil_mode=True)
        fold = not self.frontend_norm.training  # eval statistics: foldable
        flat = self._frontend_2d(x, fold, cache)  # [B * T, C, H, W]
        if mask is not None:
            flat = flat[mask.reshape(-1)]  # valid frames: the statistics' set
        if not fold:
            flat = self.frontend_norm(flat)
        flat = self.pool(self.frontend_act(flat))
        feats = self.trunk(flat.contiguous(memory_format=self.memory_format))
        feats = self.proj(feats.mean((2, 3)))
        if mask is None:
            return feats.reshape(batch, frames, -1)
        out = feats.new_zeros(batch, frames, feats.shape[-1])
        out[mask] = feats
        return out
