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
    assert {"a2a", "v2a", "example"} <= set(summary)
    # The generated speech lasts as long as its video (960 samples per frame).
    import soundfile

    gen = soundfile.info(str(out / "example_generated.wav"))
    ref = soundfile.info(str(out / "example_reference.wav"))
    assert gen.samplerate == 24000
    assert abs(gen.duration - ref.duration) < 0.05
