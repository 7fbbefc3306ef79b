"""Left context for causal convolutions, offline and streamed by one code path.

A causal layer pads its input on the left (and by its look-ahead on the
right) and then convolves without padding. :func:`with_context` does that
padding. Offline (``cache=None``) the context is zeros; streamed, it is the
tail of the input the layer saw in earlier calls, kept in ``cache``, whose
first value is those same zeros. So a stream of chunks goes through exactly
the offline computation: the outputs it yields are the offline ones.

Example
-------
>>> import torch
>>> x = torch.arange(5.0).reshape(1, 1, 5)
>>> with_context(x, 2).tolist()
[[[0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0]]]
>>> cache = {}
>>> a = with_context(x[..., :3], 2, cache=cache, key="c")
>>> b = with_context(x[..., 3:], 2, cache=cache, key="c")
>>> b.tolist()  # the tail of the first chunk, then the second
[[[1.0, 2.0, 3.0, 4.0]]]
"""

import torch
from torch import nn


def with_context(x, left, right=0, dim=-1, cache=None, key=None, final=True):
    """``x`` with ``left`` steps before it and ``right`` after, along ``dim``.

    Arguments
    ---------
    x : torch.Tensor
        The layer's new input.
    left : int
        Steps of zero padding before the first input (offline).
    right : int
        Steps of zero padding after the last input (the look-ahead).
    dim : int
        The time axis.
    cache : dict, optional
        Streaming state: ``cache[key]`` holds the last ``left + right`` steps
        of the layer's input seen so far (zeros before the first call).
    key : str
        This layer's entry in ``cache``.
    final : bool
        Streamed: this is the last chunk, so the ``right`` zeros that end the
        offline input follow it.

    Returns
    -------
    torch.Tensor
        The padded input; a convolution without padding over it gives the
        outputs the new input determines.

    Example
    -------
    >>> import torch
    >>> with_context(torch.ones(1, 2), 1, 1).tolist()
    [[0.0, 1.0, 1.0, 0.0]]
    """
    dim = dim % x.dim()

    def zeros(n):
        shape = list(x.shape)
        shape[dim] = n
        return x.new_zeros(shape)

    if cache is None:
        return torch.cat([zeros(left), x, zeros(right)], dim)
    past = cache.get(key)
    pieces = [zeros(left) if past is None else past, x]
    if final:
        pieces.append(zeros(right))
    full = torch.cat(pieces, dim)
    keep = left + right
    kept = min(keep, full.shape[dim])
    cache[key] = full.narrow(dim, full.shape[dim] - kept, kept)
    return full


def conv1d_valid(conv, x):
    """``conv`` (``nn.Conv1d``, its own padding ignored) over ``[B, C, T]``
    without padding; an input shorter than the kernel's span gives no steps.

    Example
    -------
    >>> import torch
    >>> conv = torch.nn.Conv1d(1, 1, 3)
    >>> conv1d_valid(conv, torch.ones(1, 1, 2)).shape
    torch.Size([1, 1, 0])
    """
    span = conv.dilation[0] * (conv.kernel_size[0] - 1) + 1
    if x.shape[-1] < span:
        return x.new_zeros(x.shape[0], conv.out_channels, 0)
    return nn.functional.conv1d(
        x, conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups
    )


def conv_transpose1d_causal(up, x, cache=None, key=None):
    """Transposed convolution (kernel ``2 * stride``) whose output block of
    each input step depends on that step and the one before only.

    The output is ``stride`` samples per input step; the previous input step
    is zero offline and the last step of the previous call when streamed.

    Example
    -------
    >>> import torch
    >>> up = torch.nn.ConvTranspose1d(1, 1, 4, stride=2)
    >>> conv_transpose1d_causal(up, torch.ones(1, 1, 3)).shape
    torch.Size([1, 1, 6])
    """
    stride = up.stride[0]
    if up.kernel_size[0] != 2 * stride:
        raise ValueError("a causal upsampling layer has a kernel of two strides")
    steps = x.shape[-1]
    if steps == 0:
        return x.new_zeros(x.shape[0], up.out_channels, 0)
    full = with_context(x, 1, cache=cache, key=key)
    out = nn.functional.conv_transpose1d(
        full, up.weight, up.bias, stride, 0, 0, up.groups, up.dilation
    )
    return out[..., stride : stride + steps * stride]
