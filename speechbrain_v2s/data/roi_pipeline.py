"""Audio-visual items for V2A: mouth-ROI frames aligned with 24 kHz audio.

A V2A manifest entry names a cached mouth-ROI file (``roi_path``, a ``.npz``
written by :mod:`speechbrain_v2s.video.preprocess`) and its audio (``wav``, or
the video's own track when ``audio_in_video`` is true). :func:`av_pipeline`
turns it into ``roi`` (``[T, 1, 88, 88]`` float, normalised with the dataset's
mean/std) and ``sig`` (exactly ``T * 960`` samples): training items are random
aligned crops with a random 88x88 window, horizontal flips and optional time
masking; evaluation items are whole utterances, centre-cropped.

Example
-------
>>> import torch
>>> frames = torch.full((5, 96, 96), 255, dtype=torch.uint8)
>>> normalise_frames(frames, mean=0.5, std=0.5).max().item()
1.0
"""

import json
import logging
import os

import numpy as np
import speechbrain as sb
import torch

from speechbrain_v2s.audio.features import SAMPLE_RATE, SAMPLES_PER_FRAME
from speechbrain_v2s.audio.io import load_audio
from speechbrain_v2s.data.pipelines import fit_to_frames, random_frame_offset
from speechbrain_v2s.video.frames import normalise_frames
from speechbrain_v2s.video.mouth_roi import (
    CROP_SIZE,
    centre_crop,
    load_roi,
    random_crop,
    random_horizontal_flip,
)

logger = logging.getLogger(__name__)

STATS_FILENAME = "roi_stats.json"


def time_mask(frames, max_frames, generator=None):
    """Zero one random span of at most ``max_frames`` frames (after normalising,
    zero is the dataset mean: the span carries no visual information).

    Example
    -------
    >>> import torch
    >>> x = torch.ones(10, 1, 2, 2)
    >>> masked = time_mask(x, 4, torch.Generator().manual_seed(0))
    >>> 0 <= int((masked.flatten(1).sum(1) == 0).sum()) <= 4
    True
    """
    total = frames.shape[0]
    if max_frames <= 0 or total == 0:
        return frames
    width = int(torch.randint(0, min(max_frames, total) + 1, (1,), generator=generator))
    if width == 0:
        return frames
    start = int(torch.randint(0, total - width + 1, (1,), generator=generator))
    frames = frames.clone()
    frames[start : start + width] = 0
    return frames


def load_item_audio(wav, video, audio_in_video, sample_rate=SAMPLE_RATE):
    """The target audio of an item: its wav file, or the video's own track.

    Example
    -------
    >>> import os, tempfile, torch
    >>> from speechbrain_v2s.audio.io import write_audio
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> write_audio(path, torch.zeros(2400), 24000)
    >>> load_item_audio(path, None, False).shape
    torch.Size([2400])
    """
    if audio_in_video or not wav:
        from speechbrain_v2s.video.io import read_audio_from_video

        return torch.from_numpy(read_audio_from_video(video, sample_rate=sample_rate))
    return load_audio(wav, sample_rate)


def aligned_crop(frames, sig, crop_frames, generator=None):
    """The same random window of ``crop_frames`` frames from video and audio.

    Short items are zero-padded (frames and samples) to the crop length.

    Example
    -------
    >>> import torch
    >>> f, s = aligned_crop(torch.ones(3, 4, 4), torch.ones(3 * 960), 5)
    >>> f.shape, s.shape
    (torch.Size([5, 4, 4]), torch.Size([4800]))
    """
    total = frames.shape[0]
    start = random_frame_offset(total, crop_frames, generator)
    frames = frames[start : start + crop_frames]
    sig = sig[start * SAMPLES_PER_FRAME :]
    if frames.shape[0] < crop_frames:
        pad = torch.zeros(
            (crop_frames - frames.shape[0], *frames.shape[1:]), dtype=frames.dtype
        )
        frames = torch.cat([frames, pad])
    return frames, fit_to_frames(sig, crop_frames)


def av_pipeline(
    crop_frames=None,
    train=False,
    crop_size=CROP_SIZE,
    flip_prob=0.5,
    time_mask_frames=0,
    mean=0.0,
    std=1.0,
    sample_rate=SAMPLE_RATE,
    generator=None,
):
    """Dynamic item: ``roi_path``, ``wav``, ``video``, ``audio_in_video`` →
    ``roi``, ``sig``.

    Arguments
    ---------
    crop_frames : int, optional
        Training crop length in frames (``None``: whole utterance).
    train : bool
        Random spatial crop, flip and time masking (else centre crop only).
    crop_size : int
        Side of the square crop fed to the model.
    flip_prob : float
        Probability of a horizontal flip (training).
    time_mask_frames : int
        Longest masked span in frames (training; 0 disables).
    mean, std : float
        Dataset statistics of the frames scaled to [0, 1].
    sample_rate : int
        Audio rate.
    generator : torch.Generator, optional
        Randomness source (for reproducible tests).

    Example
    -------
    >>> import os, tempfile, torch, numpy as np
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> from speechbrain_v2s.audio.io import write_audio
    >>> from speechbrain_v2s.video.mouth_roi import save_roi
    >>> d = tempfile.mkdtemp()
    >>> save_roi(os.path.join(d, "u.npz"), np.zeros((7, 96, 96), np.uint8))
    >>> write_audio(os.path.join(d, "u.wav"), torch.zeros(7000), 24000)
    >>> entry = {"roi_path": os.path.join(d, "u.npz"), "wav": os.path.join(d, "u.wav"),
    ...          "video": "", "audio_in_video": False}
    >>> data = DynamicItemDataset({"u": entry})
    >>> data.add_dynamic_item(av_pipeline())
    >>> data.set_output_keys(["roi", "sig"])
    >>> item = data[0]
    >>> item["roi"].shape, item["sig"].shape
    (torch.Size([7, 1, 88, 88]), torch.Size([6720]))
    """

    @sb.utils.data_pipeline.takes("roi_path", "wav", "video", "audio_in_video")
    @sb.utils.data_pipeline.provides("roi", "sig")
    def _pipeline(roi_path, wav, video, audio_in_video):
        frames, _ = load_roi(roi_path)
        frames = torch.from_numpy(np.ascontiguousarray(frames))
        sig = load_item_audio(wav, video, audio_in_video, sample_rate)
        sig = fit_to_frames(sig, frames.shape[0])
        if crop_frames is not None:
            frames, sig = aligned_crop(frames, sig, crop_frames, generator)
        if train:
            frames = random_crop(frames, crop_size, generator)
            frames = random_horizontal_flip(frames, flip_prob, generator)
        else:
            frames = centre_crop(frames, crop_size)
        roi = normalise_frames(frames, mean, std)
        if train and time_mask_frames:
            roi = time_mask(roi, time_mask_frames, generator)
        yield roi
        yield sig

    return _pipeline


def roi_statistics(paths, max_files=500):
    """Mean and standard deviation of ROI pixels (scaled to [0, 1]).

    Computed over up to ``max_files`` evenly spaced files, which is plenty for two
    numbers and keeps preparation fast on large corpora.

    Example
    -------
    >>> import os, tempfile, numpy as np
    >>> from speechbrain_v2s.video.mouth_roi import save_roi
    >>> d = tempfile.mkdtemp()
    >>> save_roi(os.path.join(d, "a.npz"), np.full((2, 4, 4), 51, np.uint8))
    >>> mean, std = roi_statistics([os.path.join(d, "a.npz")])
    >>> round(mean, 3), round(std, 3)
    (0.2, 0.0)
    """
    paths = list(paths)
    if not paths:
        raise ValueError("roi_statistics: no ROI files given")
    step = max(1, len(paths) // max_files)
    total = total_sq = count = 0.0
    for path in paths[::step]:
        frames = load_roi(path)[0].astype(np.float64) / 255.0
        total += frames.sum()
        total_sq += (frames**2).sum()
        count += frames.size
    mean = total / count
    std = max(total_sq / count - mean**2, 0.0) ** 0.5
    return float(mean), float(std)


def attach_rois(manifest, roi_folder, out_manifest, data_root=None):
    """Write ``out_manifest``: the entries of ``manifest`` whose ROI cache exists,
    each with ``roi_path``; entries without one (failed preprocessing) are
    dropped and counted.

    Returns
    -------
    (kept, dropped) : tuple of int

    Example
    -------
    >>> import json, os, tempfile, numpy as np
    >>> from speechbrain_v2s.video.mouth_roi import save_roi
    >>> d = tempfile.mkdtemp()
    >>> for name in ("a", "b"):
    ...     open(os.path.join(d, name + ".mp4"), "w").close()
    >>> save_roi(os.path.join(d, "rois", "a.npz"), np.zeros((1, 4, 4), np.uint8))
    >>> entries = {k: {"video": os.path.join(d, k + ".mp4")} for k in ("a", "b")}
    >>> with open(os.path.join(d, "m.json"), "w") as f:
    ...     json.dump(entries, f)
    >>> attach_rois(os.path.join(d, "m.json"), os.path.join(d, "rois"),
    ...             os.path.join(d, "out.json"), data_root=d)
    (1, 1)
    """
    from speechbrain_v2s.video.preprocess import collect_inputs

    with open(manifest, encoding="utf-8") as handle:
        entries = json.load(handle)
    rel_of = {item["id"]: item["rel"] for item in collect_inputs(manifest, data_root)}
    kept, dropped = {}, 0
    for key, entry in entries.items():
        rel = rel_of.get(key)
        path = os.path.join(roi_folder, rel) if rel else None
        if path is None or not os.path.isfile(path):
            dropped += 1
            continue
        kept[key] = {**entry, "roi_path": path}
    if dropped:
        logger.warning(
            "%s: %d of %d entries have no mouth-ROI cache (see the preprocessing "
            "report in %s) and are left out",
            manifest,
            dropped,
            len(entries),
            roi_folder,
        )
    with open(out_manifest, "w", encoding="utf-8") as handle:
        json.dump(kept, handle, indent=2)
    return len(kept), dropped
