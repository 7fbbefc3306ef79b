"""SpeechBrain dynamic-item pipelines shared by every recipe.

A2A recipes need only audio (``sig``); V2A recipes need mouth-ROI frames
(``roi``) aligned with audio: ``T`` video frames at 25 fps always go with
``T * 960`` samples at 24 kHz. Training items are random aligned crops of
``crop_frames`` frames; validation and test items are whole utterances.

Example
-------
>>> import torch
>>> sig = torch.arange(960 * 10).float()
>>> crop_audio(sig, crop_frames=4, generator=torch.Generator().manual_seed(0)).shape
torch.Size([3840])
"""

import speechbrain as sb
import torch

from speechbrain_v2s.audio.features import SAMPLE_RATE, SAMPLES_PER_FRAME
from speechbrain_v2s.audio.io import load_audio


def trim_to_frames(sig, samples_per_frame=SAMPLES_PER_FRAME):
    """Cut ``sig`` (``[..., samples]``) to a whole number of video frames.

    Example
    -------
    >>> import torch
    >>> trim_to_frames(torch.zeros(2000)).shape
    torch.Size([1920])
    """
    frames = sig.shape[-1] // samples_per_frame
    return sig[..., : frames * samples_per_frame]


def fit_to_frames(sig, frames, samples_per_frame=SAMPLES_PER_FRAME):
    """Pad with zeros or cut ``sig`` to exactly ``frames`` video frames.

    Example
    -------
    >>> import torch
    >>> fit_to_frames(torch.ones(100), 1).shape
    torch.Size([960])
    """
    target = frames * samples_per_frame
    if sig.shape[-1] >= target:
        return sig[..., :target]
    return torch.nn.functional.pad(sig, (0, target - sig.shape[-1]))


def random_frame_offset(total_frames, crop_frames, generator=None):
    """A uniformly drawn start frame for a crop (0 when the clip is too short).

    Example
    -------
    >>> import torch
    >>> random_frame_offset(3, 10)
    0
    >>> 0 <= random_frame_offset(100, 10, torch.Generator().manual_seed(1)) <= 90
    True
    """
    if total_frames <= crop_frames:
        return 0
    return int(
        torch.randint(0, total_frames - crop_frames + 1, (1,), generator=generator)
    )


def crop_audio(sig, crop_frames=None, generator=None):
    """A random frame-aligned crop of ``crop_frames`` frames (``None``: whole clip).

    Clips shorter than the crop are zero-padded so that training batches have a
    fixed size; whole clips are trimmed to whole frames.

    Example
    -------
    >>> import torch
    >>> crop_audio(torch.ones(500), crop_frames=2).shape
    torch.Size([1920])
    >>> crop_audio(torch.ones(2500)).shape
    torch.Size([1920])
    """
    if crop_frames is None:
        return trim_to_frames(sig)
    total = sig.shape[-1] // SAMPLES_PER_FRAME
    start = random_frame_offset(total, crop_frames, generator) * SAMPLES_PER_FRAME
    return fit_to_frames(sig[..., start:], crop_frames)


def audio_pipeline(crop_frames=None, sample_rate=SAMPLE_RATE):
    """Dynamic item ``wav`` (path) → ``sig`` (``[samples]`` at 24 kHz).

    Arguments
    ---------
    crop_frames : int, optional
        Random aligned crop length in video frames (training); ``None`` keeps
        the whole utterance (validation/test).
    sample_rate : int
        Output sample rate.

    Returns
    -------
    speechbrain.utils.data_pipeline.DynamicItem

    Example
    -------
    >>> import os, tempfile, torch
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> from speechbrain_v2s.audio.io import write_audio
    >>> path = os.path.join(tempfile.mkdtemp(), "x.wav")
    >>> write_audio(path, torch.zeros(16000), 16000)
    >>> data = DynamicItemDataset({"u1": {"wav": path}})
    >>> data.add_dynamic_item(audio_pipeline(crop_frames=5))
    >>> data.set_output_keys(["id", "sig"])
    >>> data[0]["sig"].shape
    torch.Size([4800])
    """

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def _pipeline(wav):
        return crop_audio(load_audio(wav, sample_rate), crop_frames)

    return _pipeline
