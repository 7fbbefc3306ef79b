"""The one base of every "this file cannot be used" error in the package.

A :class:`FileError` names the file (``.path``) and the problem (``.reason``);
``str(err)`` is the one line ``"<path>: <reason>"`` that batch jobs write straight
to their reports. It pickles with both fields, so an error raised in a worker
process reaches the parent intact.

This module sits at the bottom of the layering: ``audio``, ``video`` and
``prepare`` import it, and it imports nothing of the package.

Example
-------
>>> import pickle
>>> err = FileError("s1/a.wav", "empty file")
>>> print(err)
s1/a.wav: empty file
>>> back = pickle.loads(pickle.dumps(err))
>>> back.path, back.reason
('s1/a.wav', 'empty file')
"""


class FileError(Exception):
    """A file that cannot be used, with its path and the reason.

    Subclasses add no state of their own unless they also extend
    :meth:`__reduce__` (see :class:`speechbrain_v2s.video.errors.NoFaceError`).

    Arguments
    ---------
    path : str or os.PathLike
        The file concerned.
    reason : str
        What is wrong, in a few words; white space (newlines included) is folded
        so the message stays on one line.

    Example
    -------
    >>> err = FileError("a.mp4", "bad\\n  header")
    >>> err.path, err.reason, str(err)
    ('a.mp4', 'bad header', 'a.mp4: bad header')
    """

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self):
        # Exception pickles its args (the message) only, which would not match
        # this __init__; workers send these errors back to the parent.
        return (type(self), (self.path, self.reason))


def first_line(err, limit=200):
    """The first line of a third-party exception's message (its type's name
    when empty), at most ``limit`` characters: a backend's reason inside a
    :class:`FileError`.

    Example
    -------
    >>> first_line(ValueError("bad header\\nat byte 12"))
    'bad header'
    >>> first_line(KeyError())
    'KeyError'
    """
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:limit]
