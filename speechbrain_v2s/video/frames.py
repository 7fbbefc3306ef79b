"""Model-side frame handling in plain torch (no OpenCV): used at training and
inference, and bundled into exported models' stand-alone interface.

Example
-------
>>> import torch
>>> centre_crop_tensor(torch.zeros(2, 96, 96), 88).shape
torch.Size([2, 88, 88])
"""

import numpy as np
import torch


def normalise_frames(frames, mean, std):
    """uint8 ``[T, H, W]`` frames → float ``[T, 1, H, W]``, ``(x/255 - mean)/std``.

    Example
    -------
    >>> import torch
    >>> normalise_frames(torch.zeros(2, 3, 3, dtype=torch.uint8), 0.0, 1.0).shape
    torch.Size([2, 1, 3, 3])
    """
    frames = torch.as_tensor(np.ascontiguousarray(frames)).float() / 255.0
    return ((frames - mean) / std).unsqueeze(1)


def centre_crop_tensor(frames, size):
    """Centre ``size`` x ``size`` window of ``[..., H, W]`` frames; smaller
    frames are first resized (bilinear) so that the short side equals ``size``.

    Example
    -------
    >>> import torch
    >>> centre_crop_tensor(torch.zeros(3, 64, 80), 88).shape
    torch.Size([3, 88, 88])
    """
    frames = torch.as_tensor(np.ascontiguousarray(frames))
    height, width = frames.shape[-2:]
    if min(height, width) < size:
        scale = size / min(height, width)
        new = (max(size, round(height * scale)), max(size, round(width * scale)))
        dtype = frames.dtype
        flat = frames.reshape(-1, 1, height, width).float()
        flat = torch.nn.functional.interpolate(
            flat, size=new, mode="bilinear", align_corners=False
        )
        if dtype == torch.uint8:
            flat = flat.round().clamp(0, 255)
        frames = flat.to(dtype).reshape(*frames.shape[:-2], *new)
        height, width = new
    top, left = (height - size) // 2, (width - size) // 2
    return frames[..., top : top + size, left : left + size]
