"""Typed errors for videos that cannot be used, each naming the file and the problem.

Every error is a :class:`VideoError`, a :class:`~speechbrain_v2s.errors.FileError`
with ``.path`` and ``.reason``; ``str(err)`` is one line ``"<path>: <reason>"`` so
batch jobs can write it straight to a report.

Example
-------
>>> err = NoFaceError("s1/bbaf2n.mpg", "no face in 80% of frames (max 50%)")
>>> isinstance(err, VideoError), err.path
(True, 's1/bbaf2n.mpg')
>>> print(err)
s1/bbaf2n.mpg: no face in 80% of frames (max 50%)
"""

from speechbrain_v2s.errors import FileError


class VideoError(FileError):
    """Base class: a video that cannot be used, with its path and the reason.

    Arguments
    ---------
    path : str or os.PathLike
        The file concerned.
    reason : str
        What is wrong, in a few words (folded onto one line).

    Example
    -------
    >>> str(VideoError("a.mp4", "bad"))
    'a.mp4: bad'
    """


class UnreadableVideoError(VideoError):
    """Missing file, unsupported codec or corrupt data.

    Example
    -------
    >>> str(UnreadableVideoError("x.mp4", "file not found"))
    'x.mp4: file not found'
    """


class EmptyVideoError(VideoError):
    """The container opens but holds no video frames.

    Example
    -------
    >>> str(EmptyVideoError("x.mp4", "0 frames"))
    'x.mp4: 0 frames'
    """


class NoFaceError(VideoError):
    """No usable face in too many frames.

    Arguments
    ---------
    path : str
        The file concerned.
    reason : str
        What is wrong.
    missing_ratio : float, optional
        Fraction of frames without a tracked face.

    Example
    -------
    >>> err = NoFaceError("x.mp4", "no face in any frame", missing_ratio=1.0)
    >>> err.missing_ratio
    1.0
    """

    def __init__(self, path, reason, missing_ratio=None):
        super().__init__(path, reason)
        self.missing_ratio = missing_ratio

    def __reduce__(self):
        return (type(self), (self.path, self.reason, self.missing_ratio))


class AVLengthMismatchError(VideoError):
    """Audio and video durations disagree by more than the tolerance.

    Example
    -------
    >>> str(AVLengthMismatchError("x.mp4", "video 3.00 s, audio 2.00 s"))
    'x.mp4: video 3.00 s, audio 2.00 s'
    """


class NoAudioStreamError(VideoError):
    """The container has no audio stream to read.

    Example
    -------
    >>> str(NoAudioStreamError("x.mp4", "no audio stream"))
    'x.mp4: no audio stream'
    """


class VideoWriteError(VideoError):
    """A video could not be written (codec not available for this size/rate).

    Example
    -------
    >>> str(VideoWriteError("x.mpg", "MPEG-1 needs a standard frame rate"))
    'x.mpg: MPEG-1 needs a standard frame rate'
    """


class DetectorUnavailableError(ImportError):
    """A requested face-landmark backend is not installed or unknown.

    The message names the pip package to install.

    Example
    -------
    >>> str(DetectorUnavailableError("dlib", "pip install dlib-bin"))
    "face detector 'dlib' is unavailable: pip install dlib-bin"
    """

    def __init__(self, backend, hint):
        self.backend = backend
        self.hint = hint
        super().__init__(f"face detector {backend!r} is unavailable: {hint}")

    def __reduce__(self):
        return (type(self), (self.backend, self.hint))
