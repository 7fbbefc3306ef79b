"""``make demo`` end to end, at its quick size."""

import json
import os
import subprocess
import sys

import pytest
from recipe_runs import ROOT, subprocess_env


@pytest.mark.slow
def test_demo_quick(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "recipes", "Synthetic", "demo.py")]
        + ["--output", str(out), "--quick"],
        capture_output=True,
        text=True,
        timeout=900,
        env=subprocess_env(),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    assert {"a2a", "v2a_scratch_valid", "v2a_init_valid"} <= set(summary)
    # The paper-style table has both systems; plots and the muxed sample exist.
    table = (out / "evaluation" / "summary.md").read_text()
    assert "| scratch" in table and "| init" in table and "STOI" in table
    assert list((out / "evaluation").rglob("*.png"))
    from speechbrain_v2s.video.io import read_audio_from_video, read_video

    clip = read_video(out / "sample.mp4")
    speech = read_audio_from_video(out / "sample.mp4")
    assert abs(len(speech) - clip.num_frames * 960) <= 960
