"""Temporary files of atomic writers, and the removal of those a killed writer left.

Writers (:func:`~speechbrain_v2s.video.mouth_roi.save_roi`,
:func:`~speechbrain_v2s.video.io.mux_audio`) write ``<target>.tmp-<host>-<pid>``
and rename it over ``<target>``. A SIGKILL between the two leaves the temporary
file behind; :func:`remove_stale_temps` deletes those whose writer is gone: on
this host, its process no longer runs; from another host (a cluster job on a
shared cache), the file is older than :data:`FOREIGN_TEMP_AGE_S` (writing one
file takes seconds). Names from before the host was recorded
(``<target>.tmp<pid>``) count as this host's.

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

import os
import re
import socket
import time

FOREIGN_TEMP_AGE_S = 3600.0

# <target>.tmp-<host>-<pid><temp ext>, or the older <target>.tmp<pid><temp ext>
_TEMP = r"^.+{}\.tmp(?:-(?P<host>.+)-)?(?P<pid>\d+){}$"


def temp_path(path, ext=""):
    """The temporary file to write ``path`` through, named after this process.

    Example
    -------
    >>> name = temp_path("x.mp4", ".mp4")
    >>> name == f"x.mp4.tmp-{socket.gethostname()}-{os.getpid()}.mp4"
    True
    """
    return f"{path}.tmp-{socket.gethostname()}-{os.getpid()}{ext}"


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
