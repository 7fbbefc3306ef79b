"""Is a cached mouth-ROI ``.npz`` the one ``v2s-preprocess`` would make now?

Each file written by the job records, in its ``meta["options"]``, the options
that shaped its crops (:func:`crop_options`). A later run re-makes a file made
with other options (``stale``: another ``--roi-size``, ``--fps``, detector...)
and a file that is unreadable or disagrees with itself (``invalid``: a broken
archive, ``meta`` that is not a JSON object, frames whose shape is not the one
``meta`` records), instead of keeping it. Files from before the options were
recorded are judged on what their ``meta`` does record (frame rate, crop size,
cropped input or not).

Example
-------
>>> import os, tempfile
>>> from speechbrain_v2s.video.mouth_roi import save_roi
>>> path = os.path.join(tempfile.mkdtemp(), "u.npz")
>>> key = crop_options({"already_cropped": True, "roi_size": 4})
>>> save_roi(path, np.zeros((2, 4, 4), np.uint8), 25.0, {"options": key})
>>> cache_status(path, key), cache_status(path, {**key, "roi_size": 8})
('valid', 'stale')
"""

import io
import json
import os
import zipfile

import numpy as np

from speechbrain_v2s.video.mouth_roi import ROI_SIZE, is_valid_roi


def crop_options(options):
    """The options of :func:`~speechbrain_v2s.video.preprocess.process_one` that
    change the stored frames, with their defaults filled in (JSON types).

    Example
    -------
    >>> crop_options({"already_cropped": True, "keep_size": True})
    {'already_cropped': True, 'fps': 25.0, 'keep_size': True}
    >>> sorted(crop_options({}))  # doctest: +NORMALIZE_WHITESPACE
    ['already_cropped', 'detect_every', 'detector', 'fit_every', 'fps',
     'roi_size', 'smooth_window']
    """
    key = {
        "already_cropped": bool(options.get("already_cropped", False)),
        "fps": float(options.get("fps", 25.0)),
    }
    if key["already_cropped"]:
        key["keep_size"] = bool(options.get("keep_size", False))
        if not key["keep_size"]:
            key["roi_size"] = int(options.get("roi_size", ROI_SIZE))
        return key
    key["roi_size"] = int(options.get("roi_size", ROI_SIZE))
    key["smooth_window"] = int(options.get("smooth_window", 5))
    key["detector"] = str(options.get("detector", "auto"))
    for name in ("detect_every", "fit_every"):  # None: the backend's default
        value = options.get(name)
        key[name] = None if value is None else int(value)
    return key


def _header(path):
    """``(frames shape, meta)`` of a ``.npz`` without decompressing the frames."""
    with zipfile.ZipFile(str(path)) as archive:
        with archive.open("frames.npy") as member:
            header = member.read(256)
        meta = json.loads(str(np.load(io.BytesIO(archive.read("meta.npy")))))
    stream = io.BytesIO(header)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape = np.lib.format.read_array_header_1_0(stream)[0]
    else:
        shape = np.lib.format.read_array_header_2_0(stream)[0]
    return tuple(shape), meta


def cache_status(path, key, max_missing=None):
    """``"missing"``, ``"invalid"``, ``"stale"`` or ``"valid"`` (keep it).

    Arguments
    ---------
    path : str or os.PathLike
        The cached ``.npz``.
    key : dict
        :func:`crop_options` of the current run.
    max_missing : float, optional
        The run's limit on frames without a face: a file made under a looser
        limit with more missing frames is ``stale`` (it would fail now).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "v.npz")
    >>> cache_status(path, crop_options({}))
    'missing'
    >>> with open(path, "wb") as handle:
    ...     _ = handle.write(b"PK-not-really")
    >>> cache_status(path, crop_options({}))
    'invalid'
    """
    if not os.path.exists(path):
        return "missing"
    if not is_valid_roi(path):
        return "invalid"
    try:
        shape, meta = _header(path)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return "invalid"
    if not isinstance(meta, dict) or not isinstance(meta.get("fps"), (int, float)):
        return "invalid"
    if meta.get("num_frames", shape[0]) != shape[0] or list(
        meta.get("size", shape[1:])
    ) != list(shape[1:]):
        return "invalid"  # meta describes other frames than the stored ones
    recorded = meta.get("options")
    if recorded is not None and recorded != key:
        return "stale"
    roi = key.get("roi_size")
    made_otherwise = (
        abs(meta["fps"] - key["fps"]) > 1e-6
        or meta.get("already_cropped", key["already_cropped"]) != key["already_cropped"]
        or (roi is not None and shape[1:] != (roi, roi))
    )
    if made_otherwise:  # only possible without recorded options, or a bad file
        return "stale" if recorded is None else "invalid"
    missing = meta.get("missing_ratio")
    if max_missing is not None and isinstance(missing, (int, float)):
        if missing > max_missing:
            return "stale"
    return "valid"
