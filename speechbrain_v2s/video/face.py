"""The face model shared by every landmark backend.

Landmarks follow the iBUG 300-W 68-point order (mouth = points 48-67); a
backend returns, per frame, a list of :class:`FaceDetection` ``(score,
landmarks, box)`` sorted by decreasing score. The backends themselves live in
``dlib_detector`` and ``haar_detector``; ``landmarks`` picks one by name.

Example
-------
>>> REFERENCE_68.shape, MOUTH_INDICES[0], MOUTH_INDICES[-1]
((68, 2), 48, 67)
"""

from typing import NamedTuple

import cv2
import numpy as np

MOUTH_INDICES = tuple(range(48, 68))
# Points used for the similarity alignment: eye corners, nose bridge and base,
# mouth corners. They move little when the mouth speaks.
ALIGN_INDICES = (36, 39, 42, 45, 27, 28, 29, 30, 31, 33, 35, 48, 54)
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
        >>> class Nothing(LandmarkDetector):
        ...     def detect(self, frame):
        ...         return []
        >>> Nothing().detect(np.zeros((32, 32), np.uint8))
        []
        """
        raise NotImplementedError

    def detect_video(self, frames):
        """Run :meth:`detect` on each frame of ``[T, H, W(, 3)]``.

        Example
        -------
        >>> class Nothing(LandmarkDetector):
        ...     def detect(self, frame):
        ...         return []
        >>> Nothing().detect_video(np.zeros((2, 32, 32), np.uint8))
        [[], []]
        """
        return [self.detect(frame) for frame in frames]

    def __repr__(self):
        return f"{type(self).__name__}()"
