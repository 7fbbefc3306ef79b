"""OpenCV's Haar face cascade with the mean face placed in its box: a fallback.

Needs only ``opencv-python-headless<5``. The landmarks are a geometric estimate
(3.7 px off on average, 7.6 px at most on the moving test face), so the crops
jitter more than dlib's.

Example
-------
>>> HaarDetector().detect(np.zeros((48, 48, 3), np.uint8))
[]
"""

import os

import cv2
import numpy as np

from speechbrain_v2s.video.errors import DetectorUnavailableError
from speechbrain_v2s.video.face import (
    REFERENCE_68,
    FaceDetection,
    LandmarkDetector,
    _as_uint8_image,
    _to_gray,
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


def _haar_installed():
    return hasattr(cv2, "CascadeClassifier") and hasattr(cv2, "data")
