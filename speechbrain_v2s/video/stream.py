"""Chunked video decoding: frames at 25 fps, a few hundred at a time.

:func:`iter_video_chunks` yields the frames that :func:`.io.read_video` would
return, in order and in ``[n, H, W(, 3)]`` uint8 blocks, so a long video is
never held whole (a 10-minute 88x88 video is 116 MB as uint8, but the list of
decoded frames plus its stacked copy and float versions of it are several
times that). Frame-rate conversion is :func:`.io.read_video`'s (by the
frames' timestamps, :class:`.timing.TimedResampler`), decided on the fly
without knowing the frame count in advance.

:func:`stream_mouth_rois` does the same for raw face video: the mouth crops
of :func:`.mouth_roi.extract_mouth_roi`, from two block-wise passes over the
file (landmarks of every frame first, since the face is tracked and smoothed
over the whole video, then the crops).

Example
-------
>>> import os, tempfile
>>> from speechbrain_v2s.video.io import write_video
>>> path = os.path.join(tempfile.mkdtemp(), "clip.mp4")
>>> write_video(path, np.zeros((30, 32, 32), np.uint8), fps=30)
>>> [c.shape for c in iter_video_chunks(path, chunk=10, grayscale=True)]
[(10, 32, 32), (10, 32, 32), (5, 32, 32)]
"""

import inspect

import cv2
import numpy as np

from speechbrain_v2s.video.errors import UnreadableVideoError
from speechbrain_v2s.video.io import (
    convert_frame,
    open_capture,
    read_video,
    timed_resampler,
)
from speechbrain_v2s.video.timing import warn_if_short


def iter_video_chunks(path, chunk=250, target_fps=25.0, grayscale=False):
    """Decode a video in blocks of at most ``chunk`` frames at ``target_fps``.

    Arguments
    ---------
    path : str or os.PathLike
        Any file :func:`.io.read_video` reads. Files OpenCV cannot stream are
        decoded whole by :func:`.io.read_video` (PyAV) and then cut into blocks.
    chunk : int
        Largest block, in output frames.
    target_fps : float or None
        Output rate (``None``: the file's rate).
    grayscale : bool
        ``[n, H, W]`` luminance instead of ``[n, H, W, 3]`` RGB.

    Yields
    ------
    numpy.ndarray
        uint8 blocks; concatenated, the frames of ``read_video(path,
        target_fps, grayscale).frames``.

    Raises
    ------
    UnreadableVideoError, EmptyVideoError
        As :func:`.io.read_video` (missing, empty, corrupt file; frame size
        changing within the file).

    Example
    -------
    >>> list(iter_video_chunks("/nonexistent.mp4"))
    Traceback (most recent call last):
    ...
    speechbrain_v2s.video.errors.UnreadableVideoError: /nonexistent.mp4: file not found
    """
    path = str(path)
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1 frame, got {chunk}")
    cap = open_capture(path)  # any file name, UTF-8 or not
    try:
        first = cap.read() if cap.isOpened() else (False, None)
        if not first[0]:
            # Not streamable with OpenCV: read_video raises the precise error
            # (missing, empty, corrupt) or decodes it with PyAV.
            cap.release()
            frames = read_video(path, target_fps=target_fps, grayscale=grayscale)
            for start in range(0, frames.num_frames, chunk):
                yield frames.frames[start : start + chunk]
            return
        fps = cap.get(cv2.CAP_PROP_FPS)
        resampler = timed_resampler(fps, target_fps)
        block, shape = [], None
        ok, frame = first
        while ok:
            frame = convert_frame(frame, grayscale)
            if shape is None:
                shape = frame.shape
            elif frame.shape != shape:
                raise UnreadableVideoError(
                    path,
                    f"frame size changes within the file {{{shape}, {frame.shape}}}",
                )
            time_s = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            block.extend(resampler.push(frame, time_s))
            while len(block) >= chunk:
                yield np.stack(block[:chunk])
                del block[:chunk]
            ok, frame = cap.read()
        block.extend(resampler.finish())
        if fps == resampler.source_fps:  # a stated rate to hold the count to
            warn_if_short(path, resampler, cap.get(cv2.CAP_PROP_FRAME_COUNT))
        for start in range(0, len(block), chunk):
            yield np.stack(block[start : start + chunk])
    finally:
        cap.release()


class ThreadedDetector:
    """Run a landmark detector on contiguous parts of a video in threads.

    dlib's face detector and OpenCV release the GIL while they work, so those
    parts of ``threads`` pieces run in parallel on as many cores; dlib's
    landmark fit holds it (two threads fit no faster than one), one reason it
    runs on every 2nd tracked frame only (``fit_every``). Per-frame results equal the
    wrapped detector's (a backend that tracks between frames, such as dlib
    with ``detect_every > 1``, restarts its tracking at each part).

    Arguments
    ---------
    detector : LandmarkDetector
        The backend (shared: its ``detect`` must not keep state between calls).
    threads : int
        Parts run at once; 1 calls the detector directly.

    Example
    -------
    >>> from speechbrain_v2s.video.landmarks import shared_detector
    >>> both = ThreadedDetector(shared_detector("haar"), threads=2)
    >>> both.detect_video(np.zeros((3, 32, 32), np.uint8))
    [[], [], []]
    """

    def __init__(self, detector, threads=2):
        self.detector = detector
        self.threads = max(1, int(threads))
        self.name = getattr(detector, "name", type(detector).__name__)
        self.estimated = getattr(detector, "estimated", False)

    def detect(self, frame):
        """Faces in one frame, from the wrapped detector.

        Example
        -------
        >>> from speechbrain_v2s.video.landmarks import shared_detector
        >>> ThreadedDetector(shared_detector("haar")).detect(np.zeros((8, 8), np.uint8))
        []
        """
        return self.detector.detect(frame)

    def detect_video(self, frames):
        """Per-frame faces of ``[T, H, W(, 3)]``, ``threads`` parts at once.

        Example
        -------
        >>> from speechbrain_v2s.video.landmarks import shared_detector
        >>> ThreadedDetector(shared_detector("haar"), 4).detect_video(
        ...     np.zeros((2, 16, 16), np.uint8))
        [[], []]
        """
        parts = min(self.threads, len(frames))
        if parts <= 1:
            return self.detector.detect_video(frames)
        from concurrent.futures import ThreadPoolExecutor

        bounds = np.linspace(0, len(frames), parts + 1).round().astype(int)
        with ThreadPoolExecutor(parts) as pool:
            results = pool.map(
                self.detector.detect_video,
                [frames[a:b] for a, b in zip(bounds[:-1], bounds[1:])],
            )
            return [faces for part in results for faces in part]

    def __repr__(self):
        return f"ThreadedDetector({self.detector!r}, threads={self.threads})"


def _roi_defaults():
    # Follow extract_mouth_roi's defaults rather than repeat them here.
    from speechbrain_v2s.video.mouth_roi import extract_mouth_roi

    params = inspect.signature(extract_mouth_roi).parameters
    return {name: p.default for name, p in params.items() if name != "clip_or_path"}


def stream_mouth_rois(path, detector="auto", chunk=250, **options):
    """Mouth crops of a raw face video, ``chunk`` frames at a time.

    The frames of :func:`.mouth_roi.extract_mouth_roi` (same tracking,
    interpolation, smoothing and alignment) without holding the decoded video:
    a first pass over the file keeps only the landmarks, a second one warps
    the crops block by block. A backend that tracks between frames (dlib
    with ``detect_every > 1``) restarts at each block, so crops may differ
    slightly from one whole-video pass.

    Arguments
    ---------
    path : str or os.PathLike
        A video file.
    detector : str or LandmarkDetector
        Backend or its name (``"auto"``), as for ``extract_mouth_roi``.
    chunk : int
        Frames per block.
    **options
        ``roi_size``, ``max_missing``, ``smooth_window``, ``eye_distance``,
        ``target_fps`` of ``extract_mouth_roi`` (its defaults otherwise).

    Yields
    ------
    numpy.ndarray
        uint8 crops ``[n, roi_size, roi_size]``, in order.

    Raises
    ------
    NoFaceError
        No face, or none in more than ``max_missing`` of the frames (raised
        before the first block).

    Example
    -------
    >>> import os, tempfile
    >>> from speechbrain_v2s.video.io import write_video
    >>> path = os.path.join(tempfile.mkdtemp(), "noise.mp4")
    >>> noise = np.random.default_rng(0).integers(0, 255, (5, 64, 64), np.uint8)
    >>> write_video(path, noise)
    >>> next(stream_mouth_rois(path, detector="haar"))
    Traceback (most recent call last):
    ...
    speechbrain_v2s.video.errors.NoFaceError: ...: no face found in any of 5 frames
    """
    from speechbrain_v2s.video.errors import NoFaceError
    from speechbrain_v2s.video.landmarks import shared_detector
    from speechbrain_v2s.video.mouth_roi import (
        crop_transforms,
        interpolate_undetected,
        smooth_landmarks,
        track_face,
        warp_crops,
    )

    opts = _roi_defaults()
    opts.pop("detector", None)
    opts.pop("max_frames", None)
    unknown = set(options) - set(opts)
    if unknown:
        raise TypeError(f"unknown options {sorted(unknown)}")
    opts.update(options)
    if detector is None or isinstance(detector, str):
        detector = shared_detector(detector or "auto")
    fps = opts["target_fps"]
    detections = []
    for block in iter_video_chunks(path, chunk, fps, grayscale=True):
        detections.extend(detector.detect_video(block))
    landmarks, detected = track_face(detections)
    num, found = len(detections), int(detected.sum())
    if found == 0:
        raise NoFaceError(str(path), f"no face found in any of {num} frames", 1.0)
    missing = 1.0 - found / num
    if missing > opts["max_missing"]:
        raise NoFaceError(
            str(path),
            f"no face in {missing:.0%} of {num} frames "
            f"(max {opts['max_missing']:.0%})",
            missing,
        )
    landmarks = smooth_landmarks(
        interpolate_undetected(landmarks, detected), opts["smooth_window"]
    )
    transforms = crop_transforms(landmarks, opts["roi_size"], opts["eye_distance"])
    del landmarks, detections
    start = 0
    for block in iter_video_chunks(path, chunk, fps, grayscale=True):
        yield warp_crops(
            block, transforms[start : start + len(block)], opts["roi_size"]
        )
        start += len(block)
