"""Cross-modal batch normalisation (the paper's Algorithm 1) and length masks.

:class:`CrossModalBatchNorm` keeps one affine transform but one set of running
statistics per input modality, so a decoder shared by the A2A (audio) and V2A
(video) paths normalises each path's features with its own statistics. The
active modality is an attribute of each layer, set for a whole module by
:func:`use_modality` (:meth:`speechbrain_v2s.nnet.model.V2SModel.modality`).

The length helpers here are shared by every module of :mod:`speechbrain_v2s.nnet`
(one definition, so padding is interpreted the same way everywhere).

Example
-------
>>> import torch
>>> valid_mask(torch.tensor([1.0, 0.5]), 4).int().tolist()
[[1, 1, 1, 1], [1, 1, 0, 0]]
"""

import contextlib

import torch
from torch import nn

MODALITIES = ("audio", "video")


def frame_counts(lens, total):
    """Absolute valid lengths from SpeechBrain relative lengths.

    Arguments
    ---------
    lens : torch.Tensor or None
        ``[B]`` relative lengths in [0, 1] (``None``: everything valid).
    total : int
        Length of the padded time axis.

    Returns
    -------
    torch.LongTensor
        ``[B]`` lengths in ``[1, total]`` (at least one frame, so recurrent
        layers always get a non-empty sequence).

    Example
    -------
    >>> import torch
    >>> frame_counts(torch.tensor([1.0, 0.34, 0.0]), 3).tolist()
    [3, 1, 1]
    """
    if lens is None:
        return None
    counts = torch.round(lens.float() * total).long()
    return counts.clamp(min=1, max=max(total, 1))


def valid_mask(lens, total, scale=1):
    """Boolean ``[B, total]`` mask, True on valid (unpadded) positions.

    Arguments
    ---------
    lens : torch.Tensor or None
        ``[B]`` relative lengths (``None``: no mask, returns ``None``).
    total : int
        Length of the time axis the mask is for.
    scale : int
        ``total`` is ``scale`` times the length ``lens`` was rounded at (the
        valid count is rounded at the coarse rate, then scaled, so every
        resolution of a model agrees on where padding starts).

    Returns
    -------
    torch.BoolTensor or None
        ``None`` when nothing is padded.

    Example
    -------
    >>> import torch
    >>> valid_mask(torch.tensor([0.5]), 4, scale=2).int().tolist()
    [[1, 1, 0, 0]]
    >>> valid_mask(torch.ones(2), 4) is None
    True
    """
    if lens is None:
        return None
    counts = frame_counts(lens, total // scale) * scale
    if bool((counts >= total).all()):
        # Nothing padded: callers skip masking altogether (fast path).
        return None
    steps = torch.arange(total, device=lens.device)
    return steps.unsqueeze(0) < counts.unsqueeze(1)


class CrossModalBatchNorm(nn.Module):
    """Batch norm with one affine pair and per-modality running statistics.

    Training normalises with the statistics of the valid (unpadded) positions
    of the batch and updates the running statistics of the active modality
    only; evaluation normalises with the active modality's running statistics.
    With ``cross_modal=False`` every modality reads and writes the first set
    (plain batch norm, the ablation); the other sets still exist so that state
    dicts are the same whatever the flag.

    Arguments
    ---------
    num_features : int
        Number of channels.
    modalities : tuple of str
        Names of the statistic sets; the first is the default.
    cross_modal : bool
        ``False``: one set of statistics for every modality.
    momentum : float
        Running-statistics update rate (PyTorch convention) once the set has
        seen ``1 / momentum`` batches; before, an equal-weight average of
        the batches seen (see :meth:`update_rate`).
    eps : float
        Added to the variance.
    channel_axis : int
        Axis of the channels: ``-1`` for ``[B, T, C]`` (SpeechBrain layout),
        ``1`` for ``[B, C, T]`` or ``[B, C, T, H, W]`` (inside conv stacks).

    Example
    -------
    >>> import torch
    >>> bn = CrossModalBatchNorm(3)
    >>> x = torch.randn(2, 5, 3)
    >>> bn.modality = "video"
    >>> y = bn(x, lens=torch.tensor([1.0, 0.6]))
    >>> y.shape, int(bn.num_batches_tracked_video), int(bn.num_batches_tracked_audio)
    (torch.Size([2, 5, 3]), 1, 0)
    """

    def __init__(
        self,
        num_features,
        modalities=MODALITIES,
        cross_modal=True,
        momentum=0.1,
        eps=1e-5,
        channel_axis=-1,
    ):
        super().__init__()
        self.num_features = num_features
        self.modalities = tuple(modalities)
        self.cross_modal = cross_modal
        self.momentum = momentum
        self.eps = eps
        self.channel_axis = channel_axis
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        for name in self.modalities:
            self.register_buffer(f"running_mean_{name}", torch.zeros(num_features))
            self.register_buffer(f"running_var_{name}", torch.ones(num_features))
            self.register_buffer(
                f"num_batches_tracked_{name}", torch.tensor(0, dtype=torch.long)
            )
        self.modality = self.modalities[0]
        # Plain BatchNorm states loaded into this layer also seed the other sets.
        self.seed_on_plain_load = True

    def stats_set(self, modality=None):
        """Name of the statistics set used for ``modality`` (default: active)."""
        modality = self.modality if modality is None else modality
        if modality not in self.modalities:
            raise ValueError(
                f"unknown modality {modality!r}; expected one of {self.modalities}"
            )
        return modality if self.cross_modal else self.modalities[0]

    def running_stats(self, modality=None):
        """``(running_mean, running_var, num_batches_tracked)`` of a set."""
        name = self.stats_set(modality)
        return (
            getattr(self, f"running_mean_{name}"),
            getattr(self, f"running_var_{name}"),
            getattr(self, f"num_batches_tracked_{name}"),
        )

    def forward(self, x, lens=None, mask=None):
        """Normalise ``x``.

        Arguments
        ---------
        x : torch.Tensor
            Input with channels on ``channel_axis``; the other axes after the
            batch axis are time (and, optionally, space).
        lens : torch.Tensor, optional
            ``[B]`` relative lengths of the axis right after the batch axis
            (ignoring the channel axis).
        mask : torch.Tensor, optional
            Boolean mask of valid positions, ``[B, T]`` or the full non-channel
            shape; overrides ``lens``.

        Returns
        -------
        torch.Tensor
            Same shape as ``x``.
        """
        axis = self.channel_axis % x.dim()
        moved = x.movedim(axis, -1)  # [B, T, ..., C]
        if mask is None and lens is not None:
            mask = valid_mask(lens, moved.shape[1])
        running_mean, running_var, tracked = self.running_stats()
        mean, var = running_mean, running_var
        if self.training:
            if mask is None:
                selected = moved.reshape(-1, self.num_features)
            else:
                extra = moved.dim() - 1 - mask.dim()
                full = mask.reshape(mask.shape + (1,) * extra).expand(moved.shape[:-1])
                selected = moved[full]
            count = selected.shape[0]
            if count > 0:
                selected = selected.float()
                mean = selected.mean(0)
                var = selected.var(0, unbiased=False)
                with torch.no_grad():
                    unbiased = var * (count / max(count - 1, 1))
                    rate = self.update_rate(int(tracked))
                    running_mean.lerp_(mean.detach().to(running_mean), rate)
                    running_var.lerp_(unbiased.detach().to(running_var), rate)
                    tracked.add_(1)
        scale, shift = self.affine(mean, var)
        shape = [1] * x.dim()
        shape[axis] = self.num_features
        return x * scale.to(x.dtype).view(shape) + shift.to(x.dtype).view(shape)

    def update_rate(self, tracked):
        """Weight of the next batch in the running statistics of a set that
        has seen ``tracked`` batches: ``max(momentum, 1 / (tracked + 1))``.

        The first batches are averaged with equal weights, so the initial
        mean 0 / variance 1 leaves no trace. A plain moving average keeps
        ``(1 - momentum) ** n`` of it after ``n`` batches: where the features'
        true variance is far from 1 (1e-4 after a convolution of a raw
        waveform) that prior dominated the eval-mode model for ~100 steps
        while training used batch statistics.

        Example
        -------
        >>> bn = CrossModalBatchNorm(2, momentum=0.1)
        >>> [bn.update_rate(n) for n in (0, 1, 3, 9, 50)]
        [1.0, 0.5, 0.25, 0.1, 0.1]
        """
        return max(self.momentum, 1.0 / (tracked + 1))

    def affine(self, mean=None, var=None):
        """``(scale, shift)`` with ``y = x * scale + shift`` per channel, from
        ``mean`` and ``var`` (default: the active running statistics), so
        that a layer before it can absorb the normalisation in eval mode.

        Example
        -------
        >>> import torch
        >>> bn = CrossModalBatchNorm(2).eval()
        >>> x = torch.randn(3, 2)
        >>> scale, shift = bn.affine()
        >>> torch.allclose(bn(x), x * scale + shift)
        True
        """
        if mean is None or var is None:
            mean, var, _ = self.running_stats()
        scale = self.weight * torch.rsqrt(var + self.eps)
        return scale, self.bias - mean * scale

    @torch.no_grad()
    def seed_statistics(self, source=None, targets=None):
        """Copy the running statistics of ``source`` into ``targets``.

        Arguments
        ---------
        source : str
            Set to copy from (default: the first modality, ``audio``).
        targets : list of str
            Sets to overwrite (default: all others).
        """
        source = self.modalities[0] if source is None else source
        targets = (
            [m for m in self.modalities if m != source] if targets is None else targets
        )
        for target in targets:
            for stat in ("running_mean", "running_var", "num_batches_tracked"):
                getattr(self, f"{stat}_{target}").copy_(
                    getattr(self, f"{stat}_{source}")
                )

    @torch.no_grad()
    def load_plain_stats(
        self, running_mean, running_var, num_batches_tracked=None, seed_others=True
    ):
        """Load single-set statistics (e.g. from ``torch.nn.BatchNorm1d``).

        They go into the first set (``audio``) and, with ``seed_others``, into
        every other set too.

        Example
        -------
        >>> import torch
        >>> bn = CrossModalBatchNorm(2)
        >>> bn.load_plain_stats(torch.ones(2), 2 * torch.ones(2))
        >>> bn.running_var_video.tolist()
        [2.0, 2.0]
        """
        first = self.modalities[0]
        getattr(self, f"running_mean_{first}").copy_(running_mean)
        getattr(self, f"running_var_{first}").copy_(running_var)
        if num_batches_tracked is not None:
            getattr(self, f"num_batches_tracked_{first}").copy_(num_batches_tracked)
        if seed_others:
            self.seed_statistics(first)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Accept a plain BatchNorm state (running_mean/running_var keys): it is
        # mapped onto the first set, and seeds the others if asked.
        plain = prefix + "running_mean"
        first = self.modalities[0]
        if plain in state_dict and prefix + f"running_mean_{first}" not in state_dict:
            for stat in ("running_mean", "running_var", "num_batches_tracked"):
                value = state_dict.pop(prefix + stat, None)
                if value is None:
                    continue
                names = self.modalities if self.seed_on_plain_load else (first,)
                for name in names:
                    state_dict[f"{prefix}{stat}_{name}"] = value
                if not self.seed_on_plain_load:
                    for name in self.modalities[1:]:
                        state_dict[f"{prefix}{stat}_{name}"] = getattr(
                            self, f"{stat}_{name}"
                        )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self):
        """Shown by ``print(module)``."""
        return (
            f"{self.num_features}, modalities={self.modalities}, "
            f"cross_modal={self.cross_modal}, momentum={self.momentum}, eps={self.eps}"
        )


def cross_modal_layers(module):
    """All :class:`CrossModalBatchNorm` layers inside ``module`` (with names).

    Example
    -------
    >>> import torch
    >>> net = torch.nn.Sequential(CrossModalBatchNorm(2), torch.nn.Linear(2, 2))
    >>> [name for name, _ in cross_modal_layers(net)]
    ['0']
    """
    return [
        (n, m) for n, m in module.named_modules() if isinstance(m, CrossModalBatchNorm)
    ]


def set_modality(module, name):
    """Make every cross-modal layer of ``module`` use the ``name`` statistics.

    Example
    -------
    >>> net = torch.nn.Sequential(CrossModalBatchNorm(2))
    >>> set_modality(net, "video")
    >>> net[0].modality
    'video'
    """
    for _, layer in cross_modal_layers(module):
        if name not in layer.modalities:
            raise ValueError(f"unknown modality {name!r}; expected {layer.modalities}")
        layer.modality = name


@contextlib.contextmanager
def use_modality(module, name):
    """:func:`set_modality` inside a ``with`` block, then the previous ones
    back (a module without cross-modal layers: nothing to set).

    Example
    -------
    >>> net = torch.nn.Sequential(CrossModalBatchNorm(2))
    >>> with use_modality(net, "video"):
    ...     inside = net[0].modality
    >>> inside, net[0].modality
    ('video', 'audio')
    """
    previous = [(layer, layer.modality) for _, layer in cross_modal_layers(module)]
    set_modality(module, name)
    try:
        yield module
    finally:
        for layer, value in previous:
            layer.modality = value
