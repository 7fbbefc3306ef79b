"""Atomic writes: every file the package writes for keeps goes through here.

A writer writes ``<target>.tmp-<host>-<pid>`` beside its target, flushes it to
disk and renames it over ``<target>`` (:func:`atomic_path`, :func:`atomic_open`,
:func:`write_text_atomic`), so a reader never sees half a file under the final
name and an interrupted write leaves the old file, if any, untouched. A SIGKILL
between the two steps leaves the temporary file behind;
:func:`remove_stale_temps` deletes those whose writer is gone: on this host, its
process no longer runs; from another host (a cluster job on a shared cache), the
file is older than :data:`FOREIGN_TEMP_AGE_S` (writing one file takes seconds).
Names from before the host was recorded (``<target>.tmp<pid>``) count as this
host's.

This module imports nothing of the package: every layer may write through it.

Example
-------
>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> target = os.path.join(folder, "a.npz")
>>> killed = f"{target}.tmp-{socket.gethostname()}-{_dead_pid()}"
>>> open(killed, "w").close()
>>> open(temp_path(target), "w").close()  # this process: still writing
>>> remove_stale_temps(folder, ".npz") == [killed]
True
>>> os.listdir(folder) == [os.path.basename(temp_path(target))]
True
"""

import contextlib
import json
import os
import re
import socket
import time

FOREIGN_TEMP_AGE_S = 3600.0

# <target>.tmp-<host>-<pid><temp ext>, or the older <target>.tmp<pid><temp ext>
_TEMP = r"^.+{}\.tmp(?:-(?P<host>.+)-)?(?P<pid>\d+){}$"


def temp_path(path, ext=""):
    """The temporary file to write ``path`` through, named after this process.

    ``ext`` is appended for writers that pick the format from the name
    (``mux_audio``'s container).

    Example
    -------
    >>> name = temp_path("x.mp4", ".mp4")
    >>> name == f"x.mp4.tmp-{socket.gethostname()}-{os.getpid()}.mp4"
    True
    """
    return f"{path}.tmp-{socket.gethostname()}-{os.getpid()}{ext}"


def _fsync_file(path):
    # Opened for writing: Windows' fsync (_commit) needs a writable handle.
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_path(path, ext="", sync=True):
    """A temporary path to write ``path`` through; renamed over it on success.

    The folder of ``path`` is created. When the block ends normally the
    temporary file is flushed to disk (``sync``) and renamed over ``path``; when
    it raises (Ctrl-C included), the temporary file is removed and ``path`` is
    left as it was.

    Arguments
    ---------
    path : str, bytes or os.PathLike
        The target.
    ext : str
        Appended to the temporary name (:func:`temp_path`).
    sync : bool
        ``fsync`` the temporary file before the rename (off for callers that
        already did).

    Example
    -------
    >>> import tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "sub", "x.txt")
    >>> with atomic_path(target) as tmp:
    ...     _ = open(tmp, "w").write("new")
    >>> try:
    ...     with atomic_path(target) as tmp:
    ...         _ = open(tmp, "w").write("half")
    ...         raise KeyboardInterrupt
    ... except KeyboardInterrupt:
    ...     pass
    >>> open(target).read(), os.listdir(os.path.dirname(target))
    ('new', ['x.txt'])
    """
    path = os.fsdecode(path)  # str, bytes or PathLike alike
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = temp_path(path, ext)
    try:
        yield tmp
        if sync:
            _fsync_file(tmp)
        os.replace(tmp, path)  # atomic: a kill never leaves half a file at `path`
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_open(path, mode="wb", encoding=None, ext=""):
    """An open file that becomes ``path`` when the block ends without error.

    Writing through a file object also lets libraries that refuse some names
    (libsndfile and names that are not UTF-8) write to any path.

    Arguments
    ---------
    path : str or os.PathLike
        The target.
    mode : str
        ``"wb"`` or ``"w"``.
    encoding : str, optional
        For text mode.
    ext : str
        Appended to the temporary name (:func:`temp_path`).

    Example
    -------
    >>> import tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "x.bin")
    >>> with atomic_open(target) as handle:
    ...     _ = handle.write(b"done")
    >>> open(target, "rb").read()
    b'done'
    """
    with atomic_path(path, ext, sync=False) as tmp:
        with open(tmp, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def write_text_atomic(path, text, encoding="utf-8"):
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> write_text_atomic(path, "done")
    >>> open(path).read(), [f for f in os.listdir(os.path.dirname(path))]
    ('done', ['x.txt'])
    """
    with atomic_open(path, "w", encoding=encoding) as handle:
        handle.write(text)


def write_json_atomic(path, data):
    """Write ``data`` as indented JSON, atomically (see :func:`write_text_atomic`).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.json")
    >>> write_json_atomic(path, {"a": 1})
    >>> json.load(open(path))
    {'a': 1}
    """
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _pid_alive(pid):
    if os.name == "nt":  # os.kill(pid, 0) would terminate it there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True


def _dead_pid():
    """A pid that no process has (for examples and tests)."""
    pid = 2**22 + 7  # above Linux's default pid_max of 2^22
    while _pid_alive(pid):
        pid += 1
    return pid


def _is_stale(path, host, pid, include_own):
    if host is None or host == socket.gethostname():
        if pid == os.getpid():
            return include_own
        return not _pid_alive(pid)
    try:
        return time.time() - os.path.getmtime(path) > FOREIGN_TEMP_AGE_S
    except OSError:
        return False


def remove_stale_temps(
    folder, target_ext, temp_ext="", recursive=True, include_own=False
):
    """Delete temporary files of targets ending in ``target_ext`` whose writer is gone.

    Arguments
    ---------
    folder : str or os.PathLike
        Where to look (a missing folder holds none).
    target_ext : str
        Extension of the written files (``".npz"``): only
        ``*<target_ext>.tmp...<temp_ext>`` names are considered.
    temp_ext : str
        Extension after the pid (:func:`temp_path`'s ``ext``).
    recursive : bool
        Also look in sub-folders.
    include_own : bool
        Also delete temps named after this process: safe only where this
        process writes none in ``folder`` at the time (a job's start), and
        needed where pids repeat (a container's first process is always 1).

    Returns
    -------
    list of str
        The deleted paths.
    """
    pattern = re.compile(_TEMP.format(re.escape(target_ext), re.escape(temp_ext)))
    removed = []
    for root, dirs, files in os.walk(str(folder)):
        if not recursive:
            dirs.clear()
        for name in files:
            match = pattern.match(name)
            if match is None:
                continue
            path = os.path.join(root, name)
            pid = int(match["pid"])
            if _is_stale(path, match["host"], pid, include_own):
                try:
                    os.remove(path)
                    removed.append(path)
                except FileNotFoundError:  # another job removed it first
                    pass
    return removed
