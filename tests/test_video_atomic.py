"""Temporary files that killed writers leave behind are removed, live ones kept."""

import os
import socket
import subprocess
import sys
import time

import numpy as np

from speechbrain_v2s.atomic import (
    FOREIGN_TEMP_AGE_S,
    remove_stale_temps,
    temp_path,
)
from speechbrain_v2s.video.io import mux_audio, write_video

HOST = socket.gethostname()


def _killed_pid():
    """The pid of a process that was SIGKILLed (and reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    proc.kill()
    proc.wait()
    return proc.pid


def _touch(path, age=0.0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").close()
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return str(path)


def test_only_temps_of_gone_writers_are_removed(tmp_path):
    dead, live = _killed_pid(), os.getppid()
    old = FOREIGN_TEMP_AGE_S + 60
    stale = [
        _touch(tmp_path / "s1" / f"a.npz.tmp-{HOST}-{dead}"),
        _touch(tmp_path / "s1" / f"b.npz.tmp{dead}"),  # name of earlier versions
        _touch(tmp_path / "s2" / f"c.npz.tmp-other-node.cluster-{live}", age=old),
    ]
    kept = [
        _touch(tmp_path / "s1" / f"d.npz.tmp-{HOST}-{live}"),  # still writing
        _touch(tmp_path / "s2" / f"e.npz.tmp-other-node-{dead}"),  # recent, remote
        _touch(tmp_path / "s2" / f"f.wav.tmp-{HOST}-{dead}"),  # not ours
        _touch(tmp_path / f"notes.tmp{dead}"),
        _touch(temp_path(tmp_path / "g.npz")),  # this process's
    ]
    removed = remove_stale_temps(tmp_path, ".npz")
    assert sorted(removed) == sorted(stale)
    assert all(os.path.exists(p) for p in kept)
    # At a job's start, this process's own pid counts as a dead writer's.
    assert remove_stale_temps(tmp_path, ".npz", include_own=True) == [kept[-1]]
    assert remove_stale_temps(tmp_path / "missing", ".npz") == []


def test_mux_audio_removes_its_stale_temps(tmp_path):
    video = tmp_path / "silent.mp4"
    write_video(video, np.zeros((25, 32, 32), np.uint8), fps=25)
    leftover = _touch(tmp_path / f"out.mp4.tmp-{HOST}-{_killed_pid()}.mp4")
    mux_audio(video, np.zeros(24000, np.float32), 24000, tmp_path / "out.mp4")
    assert not os.path.exists(leftover)
    assert sorted(os.listdir(tmp_path)) == ["out.mp4", "silent.mp4"]
