"""Datasets a recipe trains on: audio-only and audio-visual manifests through
the shared pipelines, the mouth-ROI cache and its statistics, and the
speaker table.

Split out of :mod:`speechbrain_v2s.training.recipe` (which re-exports every
name here), so that module keeps the run itself: command line, seeding, the
Brain, fit and test.

Example
-------
>>> speaker_encoder_needed({"speaker_mode": "none"})
False
"""

import json
import logging
import os

import speechbrain as sb
import torch

from speechbrain_v2s.data.pipelines import audio_pipeline
from speechbrain_v2s.data.roi_pipeline import (
    STATS_FILENAME,
    attach_rois,
    av_pipeline,
    roi_statistics,
)
from speechbrain_v2s.prepare.splits import SPLITS

logger = logging.getLogger(__name__)


def audio_datasets(hparams, splits=SPLITS):
    """DynamicItemDatasets with ``sig`` for each manifest ``<split>_json`` in hparams.

    Training items are random crops of ``crop_frames`` video frames; others are
    whole utterances. A split whose ``<split>_json`` is null or names no file
    (e.g. no test set) is skipped.

    Example
    -------
    >>> audio_datasets({"train_json": None}, splits=("train",))
    {}
    """
    datasets = {}
    for split in splits:
        path = _manifest(hparams, split)
        if path is None:
            continue
        data = sb.dataio.dataset.DynamicItemDataset.from_json(path)
        crop = hparams["crop_frames"] if split == "train" else None
        data.add_dynamic_item(audio_pipeline(crop_frames=crop))
        data.set_output_keys(["id", "sig"])
        datasets[split] = data
    return datasets


def _manifest(hparams, split):
    path = hparams[f"{split}_json"]
    return path if path and os.path.isfile(path) else None


def prepare_rois(hparams, splits=SPLITS):
    """Cache mouth ROIs for every video in the split manifests (main process).

    Runs :func:`~speechbrain_v2s.video.preprocess.preprocess_videos` over the
    manifests (already cached files are skipped, so a re-run only does what is
    missing), writes ``<split>_v2a.json`` manifests that name each item's ROI
    file (videos that failed are left out and listed in the preprocessing
    report) and the training frames' mean/std in ``roi_stats.json``.

    Example
    -------
    >>> import json, os, tempfile, numpy as np
    >>> from speechbrain_v2s.video.mouth_roi import save_roi
    >>> d = tempfile.mkdtemp()
    >>> entries = {k: {"video": os.path.join(d, k + ".mp4")} for k in ("a", "b")}
    >>> with open(os.path.join(d, "train.json"), "w") as f:
    ...     json.dump(entries, f)
    >>> save_roi(os.path.join(d, "rois", "a.npz"), np.full((2, 96, 96), 51, np.uint8))
    >>> hparams = {"train_json": os.path.join(d, "train.json"), "valid_json": None,
    ...            "test_json": None, "data_folder": d, "save_folder": d,
    ...            "roi_folder": os.path.join(d, "rois"), "preprocess_jobs": 1,
    ...            "roi_detector": "auto", "already_cropped": True,
    ...            "progress": False}
    >>> prepare_rois(hparams)  # a: cached already (skipped); b.mp4: no such file
    >>> with open(os.path.join(d, "train_v2a.json")) as f:
    ...     list(json.load(f))
    ['a']
    >>> with open(os.path.join(d, "roi_stats.json")) as f:
    ...     stats = json.load(f)
    >>> round(stats["mean"], 3), stats["std"]  # 51 / 255; std floored at 1e-3
    (0.2, 0.001)
    """
    from speechbrain_v2s.video.preprocess import preprocess_videos

    manifests = {s: _manifest(hparams, s) for s in splits}
    manifests = {split: path for split, path in manifests.items() if path}
    roi_folder = hparams["roi_folder"]
    summary = preprocess_videos(
        list(manifests.values()),
        roi_folder,
        jobs=hparams["preprocess_jobs"],
        detector=hparams["roi_detector"],
        already_cropped=hparams["already_cropped"],
        data_root=hparams["data_folder"],
        progress=hparams["progress"],
    )
    logger.info(
        "Mouth ROIs: %d done, %d cached, %d failed (%s)",
        summary["done"],
        summary["skipped"],
        summary["failed"],
        summary["report"],
    )
    for split, manifest in manifests.items():
        attach_rois(
            manifest,
            roi_folder,
            _v2a_manifest(hparams, split),
            data_root=hparams["data_folder"],
        )
    with open(_v2a_manifest(hparams, "train"), encoding="utf-8") as handle:
        train_rois = [entry["roi_path"] for entry in json.load(handle).values()]
    mean, std = roi_statistics(train_rois)
    with open(os.path.join(hparams["save_folder"], STATS_FILENAME), "w") as handle:
        json.dump({"mean": mean, "std": max(std, 1e-3)}, handle)


def _v2a_manifest(hparams, split):
    return os.path.join(hparams["save_folder"], f"{split}_v2a.json")


def roi_stats(hparams):
    """The ROI normalisation: hparams ``roi_mean``/``roi_std`` if both are set
    (not null), else the statistics :func:`prepare_rois` measured on the
    training set.

    Example
    -------
    >>> import json, os, tempfile
    >>> roi_stats({"roi_mean": 0.4, "roi_std": "0.2"})
    (0.4, 0.2)
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "roi_stats.json"), "w") as f:
    ...     json.dump({"mean": 0.3, "std": 0.1}, f)
    >>> roi_stats({"roi_mean": None, "roi_std": None, "save_folder": d})
    (0.3, 0.1)
    """
    if hparams["roi_mean"] is not None and hparams["roi_std"] is not None:
        return float(hparams["roi_mean"]), float(hparams["roi_std"])
    with open(os.path.join(hparams["save_folder"], STATS_FILENAME)) as handle:
        stats = json.load(handle)
    return stats["mean"], stats["std"]


def av_datasets(hparams, splits=SPLITS):
    """DynamicItemDatasets with ``roi`` and ``sig`` (and ``speaker`` when the
    model has a speaker table) from the ``<split>_v2a.json`` manifests.

    Example
    -------
    >>> import json, os, tempfile, torch, numpy as np
    >>> from speechbrain_v2s.audio.io import write_audio
    >>> from speechbrain_v2s.video.mouth_roi import save_roi
    >>> d = tempfile.mkdtemp()
    >>> save_roi(os.path.join(d, "u.npz"), np.zeros((5, 96, 96), np.uint8))
    >>> write_audio(os.path.join(d, "u.wav"), torch.zeros(4800), 24000)
    >>> entry = {"roi_path": os.path.join(d, "u.npz"), "video": "",
    ...          "wav": os.path.join(d, "u.wav"), "audio_in_video": False,
    ...          "spk_id": "s2"}
    >>> with open(os.path.join(d, "valid_v2a.json"), "w") as f:
    ...     json.dump({"u": entry}, f)
    >>> with open(os.path.join(d, "speakers.json"), "w") as f:
    ...     json.dump({"s1": 0, "s2": 1}, f)
    >>> hparams = {"save_folder": d, "roi_mean": 0.5, "roi_std": 0.2,
    ...            "speaker_mode": "table", "flip_prob": 0.5, "time_mask_frames": 0}
    >>> datasets = av_datasets(hparams)  # no train/test manifests: skipped
    >>> list(datasets)
    ['valid']
    >>> item = datasets["valid"][0]
    >>> tuple(item["roi"].shape), tuple(item["sig"].shape), item["speaker"]
    ((5, 1, 88, 88), (4800,), tensor([1]))
    >>> round(item["roi"].mean().item(), 3)  # (0 - mean) / std
    -2.5
    """
    mean, std = roi_stats(hparams)
    datasets = {}
    for split in splits:
        path = _v2a_manifest(hparams, split)
        if not os.path.isfile(path):
            continue
        data = sb.dataio.dataset.DynamicItemDataset.from_json(path)
        train = split == "train"
        data.add_dynamic_item(
            av_pipeline(
                crop_frames=hparams["crop_frames"] if train else None,
                train=train,
                flip_prob=hparams["flip_prob"],
                time_mask_frames=hparams["time_mask_frames"],
                mean=mean,
                std=std,
            )
        )
        keys = ["id", "roi", "sig"]
        if speaker_encoder_needed(hparams):
            data.add_dynamic_item(speaker_pipeline(hparams))
            keys.append("speaker")
        data.set_output_keys(keys)
        datasets[split] = data
    return datasets


def speaker_encoder_needed(hparams):
    """Whether batches must carry a speaker index (a learned speaker table).

    Example
    -------
    >>> [speaker_encoder_needed({"speaker_mode": m}) for m in ("table", "none")]
    [True, False]
    """
    return hparams["speaker_mode"] == "table"


def speaker_index(hparams):
    """Speaker id → row of the speaker table, from the training manifest.

    Written once to ``speakers.json`` in the save folder so that evaluation and
    inference use the same rows; speakers not in it (unseen) map to -1, which
    the conditioner treats as "no identity given" (the neutral embedding).

    Example
    -------
    >>> import json, os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> train = {f"u{i}": {"spk_id": s} for i, s in enumerate(["s2", "s1", "s2"])}
    >>> with open(os.path.join(d, "train_v2a.json"), "w") as f:
    ...     json.dump(train, f)
    >>> speaker_index({"save_folder": d})
    {'s1': 0, 's2': 1}
    >>> os.remove(os.path.join(d, "train_v2a.json"))  # later calls read speakers.json
    >>> speaker_index({"save_folder": d})
    {'s1': 0, 's2': 1}
    """
    path = os.path.join(hparams["save_folder"], "speakers.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    with open(_v2a_manifest(hparams, "train"), encoding="utf-8") as handle:
        speakers = sorted(
            {str(e.get("spk_id", "")) for e in json.load(handle).values()}
        )
    index = {spk: i for i, spk in enumerate(speakers)}
    sb.utils.distributed.run_on_main(_write_json, args=[path, index])
    return index


def _write_json(path, data):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)


def speaker_pipeline(hparams):
    """Dynamic item ``spk_id`` → ``speaker`` (table row; -1 for unseen).

    Example
    -------
    >>> import json, os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "speakers.json"), "w") as f:
    ...     json.dump({"s1": 0, "s2": 1}, f)
    >>> pipeline = speaker_pipeline({"save_folder": d})
    >>> pipeline.takes, pipeline.provides
    (('spk_id',), ('speaker',))
    >>> pipeline("s2"), pipeline("unseen")
    (tensor([1]), tensor([-1]))
    """
    index = speaker_index(hparams)

    @sb.utils.data_pipeline.takes("spk_id")
    @sb.utils.data_pipeline.provides("speaker")
    def _pipeline(spk_id):
        # One-element tensor: SpeechBrain's collate pads along a dimension.
        return torch.tensor([index.get(str(spk_id), -1)], dtype=torch.long)

    return _pipeline
