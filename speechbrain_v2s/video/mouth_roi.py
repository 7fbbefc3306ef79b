"""Face landmarks -> tracked, smoothed, similarity-aligned mouth crops; ROI cache.

Pipeline of :func:`extract_mouth_roi`:

1. detect faces with landmarks in every frame (:mod:`.landmarks`; the default
   dlib backend runs its face detector every 10th frame and tracks the face in
   between), all on one grayscale copy of the video;
2. track one face: start from the highest-scoring detection of the whole video and
   follow it forwards and backwards, associating detections frame to frame by box
   overlap / centre distance (a bystander or a false face on clothing is never
   picked just because it is larger);
3. fill frames without a tracked face by linear interpolation between the nearest
   tracked frames (held constant at the ends) and count them as missing;
4. smooth the landmarks over time with a centred moving average;
5. per frame, fit a 2-D similarity transform (rotation, scale, shift) from stable
   points (eye corners, nose, mouth corners) to the reference face of
   :data:`.landmarks.REFERENCE_68`, and warp a ``roi_size`` square centred on the
   aligned mouth centre out of the grayscale frame.

The crops are cached as compressed ``.npz`` files of uint8 frames
(:func:`save_roi` / :func:`load_roi`). :func:`centre_crop`, :func:`random_crop` and
:func:`horizontal_flip` are the training-time augmentations (96 -> 88).

Example
-------
>>> frames = np.zeros((4, 96, 96), np.uint8)
>>> centre_crop(frames, 88).shape
(4, 88, 88)
"""

import io
import json
import zipfile
from dataclasses import dataclass, field

import cv2
import numpy as np

from speechbrain_v2s.atomic import atomic_open
from speechbrain_v2s.video.errors import NoFaceError
from speechbrain_v2s.video.io import VideoClip, read_video
from speechbrain_v2s.video.landmarks import (
    ALIGN_INDICES,
    MOUTH_INDICES,
    REFERENCE_68,
    shared_detector,
)

ROI_SIZE = 96
CROP_SIZE = 88
# Default scale of the aligned face: outer eye corners this many pixels apart,
# which makes a closed mouth about half as wide as a 96-pixel crop, from the
# nostrils to the chin.
EYE_DISTANCE = 80.0


@dataclass
class RoiResult:
    """Mouth crops of one video and how they were obtained.

    Attributes
    ----------
    frames : numpy.ndarray
        uint8 ``[T, roi_size, roi_size]`` grayscale mouth crops.
    fps : float
        Frame rate of ``frames``.
    missing_ratio : float
        Fraction of frames where the tracked face was not detected (filled in).
    mouth_centres : numpy.ndarray
        float32 ``[T, 2]`` smoothed mouth centre (x, y) in source-frame pixels.
    landmarks : numpy.ndarray
        float32 ``[T, 68, 2]`` smoothed landmarks in source-frame pixels.
    detected : numpy.ndarray
        bool ``[T]``: the tracked face was detected in that frame.
    transforms : numpy.ndarray
        float32 ``[T, 2, 3]`` affine maps from source pixels to crop pixels.
    source : str or None
        Path of the video, if read from a file.
    detector : str
        Name of the landmark backend.
    meta : dict
        Extra facts (``original_fps``, ``eye_distance``).

    Example
    -------
    >>> r = RoiResult(np.zeros((2, 96, 96), np.uint8), 25.0, 0.0)
    >>> r.num_frames
    2
    """

    frames: np.ndarray
    fps: float
    missing_ratio: float
    mouth_centres: np.ndarray = None
    landmarks: np.ndarray = None
    detected: np.ndarray = None
    transforms: np.ndarray = None
    source: str = None
    detector: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def num_frames(self):
        """Number of frames ``T``.

        Example
        -------
        >>> RoiResult(np.zeros((3, 96, 96), np.uint8), 25.0, 0.0).num_frames
        3
        """
        return int(self.frames.shape[0])


def _box_iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _same_face(ref_box, box, gap, min_iou, max_shift, reacquire_after):
    """Whether ``box`` continues the track last seen at ``ref_box`` gap frames ago."""
    size = max(ref_box[2] - ref_box[0], ref_box[3] - ref_box[1], 1.0)
    other = max(box[2] - box[0], box[3] - box[1], 1.0)
    if not 0.5 <= other / size <= 2.0:
        return False
    if gap > reacquire_after:
        # Lost for long: the face may have moved anywhere; accept a similar size.
        return True
    if _box_iou(ref_box, box) >= min_iou:
        return True
    centre = (np.asarray(ref_box[:2]) + ref_box[2:]) / 2
    other_centre = (np.asarray(box[:2]) + box[2:]) / 2
    # Allow more motion the longer the face has been unseen.
    return np.hypot(*(centre - other_centre)) <= max_shift * size * (1 + gap)


def track_face(detections, min_iou=0.3, max_shift=0.25, reacquire_after=12):
    """Follow one face through per-frame detections.

    The track starts at the highest-scoring detection of the whole video and is
    extended forwards and backwards; in each frame the best-scoring detection that
    overlaps the last tracked box (IoU >= ``min_iou``, or centre within
    ``max_shift`` box sizes per frame of gap) continues it.

    Arguments
    ---------
    detections : list of list of FaceDetection
        Per frame, as returned by ``LandmarkDetector.detect_video``.
    min_iou : float
        Overlap that counts as the same face.
    max_shift : float
        Centre motion allowed per frame, in face-box sizes.
    reacquire_after : int
        After this many frames without the face, take any similar-sized face.

    Returns
    -------
    landmarks : numpy.ndarray
        float32 ``[T, 68, 2]``, NaN where the face was not found.
    detected : numpy.ndarray
        bool ``[T]``.

    Example
    -------
    >>> from speechbrain_v2s.video.landmarks import FaceDetection, REFERENCE_68
    >>> box = np.array([150, 150, 250, 270])
    >>> face = FaceDetection(2.0, REFERENCE_68 * 60 + 200, box)
    >>> noise = FaceDetection(0.5, REFERENCE_68 * 60 + 20, np.array([0, 0, 90, 100]))
    >>> marks, found = track_face([[face, noise], [noise], [noise, face]])
    >>> found.tolist()
    [True, False, True]
    """
    num = len(detections)
    landmarks = np.full((num, 68, 2), np.nan, dtype=np.float32)
    detected = np.zeros(num, dtype=bool)
    best = None
    for t, faces in enumerate(detections):
        for face in faces:
            if best is None or face.score > best[0]:
                best = (face.score, t, face)
    if best is None:
        return landmarks, detected
    _, start, anchor = best
    landmarks[start] = anchor.landmarks
    detected[start] = True
    for step in (1, -1):
        ref_box, gap = np.asarray(anchor.box, np.float64), 0
        t = start + step
        while 0 <= t < num:
            gap += 1
            match = None
            for face in detections[t]:  # sorted best first
                box = np.asarray(face.box, np.float64)
                if _same_face(ref_box, box, gap, min_iou, max_shift, reacquire_after):
                    match = face
                    break
            if match is not None:
                landmarks[t] = match.landmarks
                detected[t] = True
                ref_box, gap = np.asarray(match.box, np.float64), 0
            t += step
    return landmarks, detected


def interpolate_undetected(landmarks, detected):
    """Linearly interpolate landmarks of undetected frames; hold them at the ends.

    Example
    -------
    >>> marks = np.zeros((3, 68, 2), np.float32)
    >>> marks[2] = 2.0
    >>> interpolate_undetected(marks, np.array([True, False, True]))[1, 0].tolist()
    [1.0, 1.0]
    """
    landmarks = np.array(landmarks, dtype=np.float32, copy=True)
    good = np.flatnonzero(detected)
    if len(good) == 0 or len(good) == len(landmarks):
        return landmarks
    times = np.arange(len(landmarks))
    flat = landmarks.reshape(len(landmarks), -1)
    for k in range(flat.shape[1]):
        flat[:, k] = np.interp(times, good, flat[good, k])
    return flat.reshape(landmarks.shape)


def smooth_landmarks(landmarks, window=5):
    """Centred moving average over ``window`` frames along axis 0.

    The ends are extended by point reflection (``2 x[0] - x[k]``) so that steady
    motion is not pulled back at the first and last frames.

    Example
    -------
    >>> x = np.arange(6, dtype=np.float32)[:, None, None] * np.ones((1, 68, 2))
    >>> smooth_landmarks(x, 3)[:, 0, 0].tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    half = int(window) // 2
    if half < 1 or len(landmarks) < 2:
        return landmarks.astype(np.float32)
    half = min(half, len(landmarks) - 1)
    head = 2 * landmarks[:1] - landmarks[1 : half + 1][::-1]
    tail = 2 * landmarks[-1:] - landmarks[-half - 1 : -1][::-1]
    padded = np.concatenate([head, landmarks, tail])
    kernel_size = 2 * half + 1
    csum = np.cumsum(padded, axis=0)
    csum = np.concatenate([np.zeros_like(csum[:1]), csum])
    out = (csum[kernel_size:] - csum[:-kernel_size]) / kernel_size
    return out.astype(np.float32)


def similarity_transforms(src, dst):
    """Least-squares 2-D similarity maps (rotation, scale, shift) ``src -> dst``.

    Arguments
    ---------
    src : numpy.ndarray
        ``[T, K, 2]`` points per frame.
    dst : numpy.ndarray
        ``[K, 2]`` or ``[T, K, 2]`` target points.

    Returns
    -------
    numpy.ndarray
        float64 ``[T, 2, 3]`` affine matrices ``[[a, -b, tx], [b, a, ty]]``.

    Example
    -------
    >>> pts = np.array([[0.0, 0], [1, 0], [0, 1]])
    >>> m = similarity_transforms(pts[None], 2 * pts + 3)
    >>> m[0].round(3).tolist()
    [[2.0, -0.0, 3.0], [0.0, 2.0, 3.0]]
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.broadcast_to(np.asarray(dst, dtype=np.float64), src.shape)
    src_mean = src.mean(axis=1, keepdims=True)
    dst_mean = dst.mean(axis=1, keepdims=True)
    s, d = src - src_mean, dst - dst_mean
    norm = (s**2).sum(axis=(1, 2))
    norm = np.where(norm > 0, norm, 1.0)
    a = (s[..., 0] * d[..., 0] + s[..., 1] * d[..., 1]).sum(axis=1) / norm
    b = (s[..., 0] * d[..., 1] - s[..., 1] * d[..., 0]).sum(axis=1) / norm
    mats = np.zeros((len(src), 2, 3))
    mats[:, 0, 0], mats[:, 0, 1] = a, -b
    mats[:, 1, 0], mats[:, 1, 1] = b, a
    mx, my = src_mean[:, 0, 0], src_mean[:, 0, 1]
    mats[:, 0, 2] = dst_mean[:, 0, 0] - (a * mx - b * my)
    mats[:, 1, 2] = dst_mean[:, 0, 1] - (b * mx + a * my)
    return mats


def crop_transforms(landmarks, roi_size=ROI_SIZE, eye_distance=EYE_DISTANCE):
    """Affine maps from source pixels to a mouth crop, one per frame.

    Each map is the similarity that best aligns the stable points to the
    reference face scaled to ``eye_distance``, shifted so that the aligned mouth
    centre lands in the middle of the ``roi_size`` crop.

    Example
    -------
    >>> marks = (REFERENCE_68 * 64 + 100)[None]
    >>> m = crop_transforms(marks, 96)[0]
    >>> centre = marks[0, 48:68].mean(0)
    >>> (m[:, :2] @ centre + m[:, 2]).round(2).tolist()
    [47.5, 47.5]
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    idx = list(ALIGN_INDICES)
    mats = similarity_transforms(
        landmarks[:, idx], REFERENCE_68[idx].astype(np.float64) * eye_distance
    )
    centres = landmarks[:, list(MOUTH_INDICES)].mean(axis=1)  # [T, 2]
    aligned = np.einsum("tij,tj->ti", mats[:, :, :2], centres) + mats[:, :, 2]
    mats[:, :, 2] += (roi_size - 1) / 2.0 - aligned
    return mats


def _gray_frames(frames):
    frames = np.asarray(frames)
    if frames.ndim == 4 and frames.shape[-1] == 3:
        return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    if frames.ndim == 4 and frames.shape[-1] == 1:
        return frames[..., 0]
    if frames.ndim != 3:
        raise ValueError(f"frames must be [T,H,W] or [T,H,W,3], got {frames.shape}")
    return frames


def warp_crops(frames, transforms, roi_size=ROI_SIZE):
    """Warp ``roi_size`` squares out of grayscale frames with per-frame affines.

    Pixels outside the frame repeat the border.

    Example
    -------
    >>> frames = np.arange(2 * 8 * 8, dtype=np.uint8).reshape(2, 8, 8)
    >>> shift = np.tile(np.array([[1.0, 0, -2], [0, 1, -2]]), (2, 1, 1))
    >>> warp_crops(frames, shift, 4)[0, 0].tolist()
    [18, 19, 20, 21]
    """
    gray = _gray_frames(frames)
    out = np.empty((len(gray), roi_size, roi_size), dtype=np.uint8)
    for t, (frame, mat) in enumerate(zip(gray, transforms)):
        out[t] = cv2.warpAffine(
            frame,
            np.asarray(mat, dtype=np.float64),
            (roi_size, roi_size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
    return out


def extract_mouth_roi(
    clip_or_path,
    detector=None,
    roi_size=ROI_SIZE,
    max_missing=0.5,
    smooth_window=5,
    eye_distance=EYE_DISTANCE,
    target_fps=25.0,
    max_frames=None,
):
    """Aligned grayscale mouth crops of the main face in a video.

    Arguments
    ---------
    clip_or_path : str, os.PathLike, VideoClip or numpy.ndarray
        A video file, a decoded clip, or uint8 frames ``[T, H, W(, 3)]`` (taken
        to be at ``target_fps``).
    detector : LandmarkDetector or str, optional
        Backend or its name; default ``"auto"`` (dlib if installed, else Haar),
        built once per process.
    roi_size : int
        Side of the square crop (96; training crops 88 out of it).
    max_missing : float
        Largest fraction of frames allowed without a detected face.
    smooth_window : int
        Frames in the centred moving average of the landmarks (1 = none).
    eye_distance : float
        Face scale in the crop: pixels between the outer eye corners.
    target_fps : float
        Frame rate the video is resampled to when read from a file.
    max_frames : int, optional
        Only use the first frames (for quick looks).

    Returns
    -------
    RoiResult

    Raises
    ------
    NoFaceError
        No face at all, or none in more than ``max_missing`` of the frames.
    UnreadableVideoError, EmptyVideoError
        From reading the file.

    Example
    -------
    >>> noise = np.random.default_rng(0).integers(0, 255, (5, 64, 64), np.uint8)
    >>> extract_mouth_roi(noise, detector="haar")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.video.errors.NoFaceError: <frames>: no face found in any of 5 frames
    """
    if isinstance(clip_or_path, VideoClip):
        clip = clip_or_path
    elif isinstance(clip_or_path, np.ndarray):
        clip = VideoClip(
            clip_or_path, target_fps, target_fps, len(clip_or_path) / target_fps
        )
    else:
        clip = read_video(
            clip_or_path, target_fps=target_fps, grayscale=True, max_frames=max_frames
        )
    frames = clip.frames if max_frames is None else clip.frames[:max_frames]
    # One grayscale copy serves detection, landmarks and cropping.
    frames = _gray_frames(frames)
    source = clip.path or "<frames>"
    if detector is None or isinstance(detector, str):
        detector = shared_detector(detector or "auto")
    num = len(frames)
    detections = detector.detect_video(frames)
    landmarks, detected = track_face(detections)
    found = int(detected.sum())
    if found == 0:
        raise NoFaceError(source, f"no face found in any of {num} frames", 1.0)
    missing_ratio = 1.0 - found / num
    if missing_ratio > max_missing:
        raise NoFaceError(
            source,
            f"no face in {missing_ratio:.0%} of {num} frames "
            f"(max {max_missing:.0%})",
            missing_ratio,
        )
    landmarks = smooth_landmarks(
        interpolate_undetected(landmarks, detected), smooth_window
    )
    transforms = crop_transforms(landmarks, roi_size, eye_distance)
    crops = warp_crops(frames, transforms, roi_size)
    return RoiResult(
        frames=crops,
        fps=clip.fps,
        missing_ratio=float(missing_ratio),
        mouth_centres=landmarks[:, list(MOUTH_INDICES)].mean(axis=1),
        landmarks=landmarks,
        detected=detected,
        transforms=transforms.astype(np.float32),
        source=clip.path,
        detector=getattr(detector, "name", type(detector).__name__),
        meta={"original_fps": clip.original_fps, "eye_distance": eye_distance},
    )


def resize_roi(frames, size=ROI_SIZE):
    """Grayscale and resize already-cropped mouth frames to ``size`` x ``size``.

    For videos that are mouth crops already (e.g. the synthetic corpus): no
    landmarks, just format conversion so they share the cache format.

    Example
    -------
    >>> resize_roi(np.zeros((3, 88, 88, 3), np.uint8), 96).shape
    (3, 96, 96)
    """
    gray = _gray_frames(frames)
    if gray.shape[1:] == (size, size):
        return np.ascontiguousarray(gray)
    shrink = gray.shape[1] > size or gray.shape[2] > size
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, (size, size), interpolation=interp) for f in gray])


def save_roi(path, frames, fps=25.0, meta=None):
    """Write mouth frames to a compressed ``.npz`` atomically (tmp file + rename).

    Arguments
    ---------
    path : str or os.PathLike
        Output file; its folder is created.
    frames : numpy.ndarray
        uint8 ``[T, H, W]``.
    fps : float
        Frame rate, stored beside the frames.
    meta : dict, optional
        JSON-serialisable information (source, detector, missing ratio...).

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a", "b.npz")
    >>> save_roi(path, np.ones((2, 96, 96), np.uint8), 25.0, {"source": "b.mp4"})
    >>> frames, meta = load_roi(path)
    >>> frames.shape, meta["fps"], meta["source"]
    ((2, 96, 96), 25.0, 'b.mp4')
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 3:
        raise ValueError(
            f"frames must be uint8 [T,H,W], got {frames.dtype} {frames.shape}"
        )
    info = dict(meta or {})
    info["fps"] = float(fps)
    # A SIGKILL's leftover temp is removed by atomic.remove_stale_temps.
    with atomic_open(str(path)) as handle:
        np.savez_compressed(
            handle,
            frames=frames,
            fps=np.float32(fps),
            meta=np.array(json.dumps(info, default=_json_default)),
        )


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def load_roi(path):
    """Read a ``.npz`` written by :func:`save_roi`.

    Returns
    -------
    frames : numpy.ndarray
        uint8 ``[T, H, W]``.
    meta : dict
        The stored metadata, with ``fps``.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "c.npz")
    >>> save_roi(path, np.zeros((1, 4, 4), np.uint8))
    >>> load_roi(path)[1]
    {'fps': 25.0}
    """
    with np.load(str(path), allow_pickle=False) as data:
        frames = data["frames"]
        meta = json.loads(str(data["meta"])) if "meta" in data else {}
        if "fps" not in meta and "fps" in data:
            meta["fps"] = float(data["fps"])
    return frames, meta


def is_valid_roi(path):
    """Whether ``path`` is a complete, readable ROI file (used to resume jobs).

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "d.npz")
    >>> is_valid_roi(path)
    False
    >>> save_roi(path, np.zeros((1, 4, 4), np.uint8))
    >>> is_valid_roi(path)
    True
    """
    try:
        with zipfile.ZipFile(str(path)) as archive:
            if archive.testzip() is not None:  # CRC check of every member
                return False
            with archive.open("frames.npy") as member:
                header = io.BytesIO(member.read(256))
        version = np.lib.format.read_magic(header)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(header)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(header)
        return dtype == np.uint8 and len(shape) == 3 and shape[0] > 0
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False


def _spatial_crop(frames, top, left, size):
    return frames[..., top : top + size, left : left + size]


def centre_crop(frames, size=CROP_SIZE):
    """Centre ``size`` x ``size`` crop of the last two axes (numpy or torch).

    Example
    -------
    >>> centre_crop(np.zeros((5, 96, 96), np.uint8)).shape
    (5, 88, 88)
    """
    height, width = frames.shape[-2], frames.shape[-1]
    if height < size or width < size:
        raise ValueError(f"cannot crop {size}x{size} out of {height}x{width}")
    return _spatial_crop(frames, (height - size) // 2, (width - size) // 2, size)


def _randint(high, generator):
    """Integer in [0, high] from a numpy or torch generator; without one, from
    torch's global generator, which the recipes' ``seed`` sets (a fresh numpy
    generator here made training runs differ from one launch to the next)."""
    if high <= 0:
        return 0
    if generator is None or type(generator).__module__.startswith("torch"):
        import torch  # training already runs on torch

        return int(torch.randint(0, high + 1, (1,), generator=generator))
    return int(generator.integers(0, high + 1))


def _random(generator):
    """Float in [0, 1), from the same sources as :func:`_randint`."""
    if generator is None or type(generator).__module__.startswith("torch"):
        import torch

        return float(torch.rand(1, generator=generator))
    return float(generator.random())


def random_crop(frames, size=CROP_SIZE, generator=None):
    """Random ``size`` x ``size`` crop, the same window for every frame.

    Arguments
    ---------
    frames : numpy.ndarray or torch.Tensor
        ``[..., H, W]``.
    size : int
        Crop side.
    generator : numpy.random.Generator or torch.Generator, optional
        Source of randomness (default: torch's global generator, so a seeded
        run crops the same way every time).

    Example
    -------
    >>> frames = np.arange(96 * 96).reshape(1, 96, 96)
    >>> crop = random_crop(frames, 88, np.random.default_rng(0))
    >>> crop.shape
    (1, 88, 88)
    """
    height, width = frames.shape[-2], frames.shape[-1]
    if height < size or width < size:
        raise ValueError(f"cannot crop {size}x{size} out of {height}x{width}")
    top = _randint(height - size, generator)
    left = _randint(width - size, generator)
    return _spatial_crop(frames, top, left, size)


def horizontal_flip(frames):
    """Mirror the last axis (left-right) of numpy or torch frames.

    Example
    -------
    >>> horizontal_flip(np.array([[[1, 2, 3]]])).tolist()
    [[[3, 2, 1]]]
    """
    if hasattr(frames, "flip"):  # torch tensors cannot take negative strides
        return frames.flip(-1)
    return frames[..., ::-1]


def random_horizontal_flip(frames, p=0.5, generator=None):
    """Mirror all frames with probability ``p``.

    Example
    -------
    >>> x = np.array([[[1, 2]]])
    >>> random_horizontal_flip(x, p=1.0).tolist()
    [[[2, 1]]]
    >>> random_horizontal_flip(x, p=0.0).tolist()
    [[[1, 2]]]
    """
    return horizontal_flip(frames) if _random(generator) < p else frames
