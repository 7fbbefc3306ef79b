"""Atomic writes: a writer that dies mid-write never leaves half a file under
the final name, and the old file survives (speechbrain_v2s.atomic)."""

import os
import subprocess
import sys

import pytest
import torch

from speechbrain_v2s.atomic import atomic_open, remove_stale_temps, write_text_atomic
from speechbrain_v2s.audio.io import load_audio, write_audio

# Run in a child: write_audio, with libsndfile's writer replaced by one that
# writes a few bytes and then SIGKILLs its own process.
KILLED_WRITE = """
import os, signal, sys, soundfile, torch
from speechbrain_v2s.audio.io import write_audio
def half(handle, *args, **kwargs):
    handle.write(b"RIFF....WAVE")
    handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)
soundfile.write = half
write_audio(sys.argv[1], torch.zeros(2400), 24000)
"""


def _run_killed_write(path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(path)], env=env)
    assert proc.returncode == -9  # really killed mid-write


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL")
def test_killed_write_audio_leaves_no_half_wav(tmp_path):
    new = tmp_path / "new.wav"
    _run_killed_write(new)
    assert not new.exists()
    (leftover,) = tmp_path.iterdir()
    assert leftover.name.startswith("new.wav.tmp-")
    # The next job removes what the killed one left.
    assert remove_stale_temps(tmp_path, ".wav") == [str(leftover)]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL")
def test_killed_write_audio_keeps_the_old_file(tmp_path):
    old = tmp_path / "old.wav"
    write_audio(old, torch.full((2400,), 0.25), 24000)
    _run_killed_write(old)
    wav = load_audio(old, 24000)
    assert wav.shape == (2400,) and abs(float(wav[0]) - 0.25) < 1e-3


def test_failed_block_removes_its_temp_and_keeps_the_target(tmp_path):
    target = tmp_path / "manifest.json"
    write_text_atomic(target, "old\n")
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(target, "w", encoding="utf-8") as handle:
            handle.write("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_write_audio_takes_any_name_and_format(tmp_path):
    # Not UTF-8: libsndfile refuses such names, a file object does not.
    odd = os.path.join(tmp_path, os.fsdecode(b"caf\xe9.wav"))
    write_audio(odd, torch.zeros(480), 24000)
    with open(odd, "rb") as handle:
        assert handle.read(4) == b"RIFF"
    flac = tmp_path / "a.flac"
    write_audio(flac, torch.zeros(480), 24000)
    assert flac.read_bytes()[:4] == b"fLaC"
    raw = tmp_path / "out"  # no extension: the format is given
    write_audio(raw, torch.zeros(480), 24000, format="WAV")
    assert raw.read_bytes()[:4] == b"RIFF"
    with pytest.raises(ValueError, match="out.xyz: no audio format"):
        write_audio(tmp_path / "out.xyz", torch.zeros(480), 24000)
