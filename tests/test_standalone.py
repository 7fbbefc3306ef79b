"""``custom_interface.py`` through SpeechBrain's ``foreign_class`` in an
interpreter that cannot import this package gives the package's own output,
for every input ``synthesize_file`` takes."""

import json
import os
import site
import subprocess
import sys

import numpy as np
import pytest
import torch
from recipe_runs import ROOT, subprocess_env
from test_inference import _moving_face

from speechbrain_v2s.export import export_architecture
from speechbrain_v2s.inference import VideoToSpeech

# Short windows, so that the streamed, cross-faded path runs on short clips.
OVERRIDES = {"chunk_frames": 16, "chunk_overlap": 4}

WITHOUT_PACKAGE = """
import importlib.util, json, sys, torch
assert importlib.util.find_spec("speechbrain_v2s") is None, "package visible"
folder, savedir, out, threads, inputs, overrides = sys.argv[1:7]
torch.set_num_threads(int(threads))  # the detector's threads follow torch's
from speechbrain.inference.interfaces import foreign_class
m = foreign_class(source=folder, savedir=savedir, pymodule_file="custom_interface.py",
                  classname="VideoToSpeech", overrides=json.loads(overrides))
got = {"cv2_at_load": torch.tensor("cv2" in sys.modules)}
paths = {}
for name, path, cropped in (line.split("|") for line in inputs.split(";")):
    got[name] = m.synthesize_file(path, already_cropped=cropped == "1")
    paths[name] = path
got["face_crops"] = torch.from_numpy(m.mouth_frames(paths["face"]))
package = sys.modules["speechbrain_v2s"]
assert package.__spec__.loader is None, package  # the file's stand-in, not the package
torch.save(got, out)
"""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """``{name: (path, already_cropped)}``: a mouth-crop video, a raw face
    video (the moving astronaut face) and an ``.npz`` of mouth crops."""
    from speechbrain_v2s.video.io import write_video
    from speechbrain_v2s.video.mouth_roi import save_roi

    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(7)
    paths = {
        "mouth": (folder / "mouth.avi", True),
        "face": (folder / "face.mp4", False),
        "npz": (folder / "mouth.npz", False),
    }
    write_video(paths["mouth"][0], rng.integers(0, 255, (40, 88, 88), np.uint8))
    _moving_face(paths["face"][0], frames=30)
    save_roi(paths["npz"][0], rng.integers(0, 255, (35, 96, 96), np.uint8))
    return paths


def test_foreign_class_without_the_package_synthesizes_files(inputs, tmp_path):
    folder = tmp_path / "model"
    torch.manual_seed(0)
    export_architecture(os.path.join(ROOT, "hparams", "tiny_mel.yaml"), folder)
    out = tmp_path / "out.pt"
    spec = ";".join(f"{k}|{p}|{int(c)}" for k, (p, c) in inputs.items())
    # -S: no site module, so no .pth files (the editable install hooks in
    # through one); PYTHONPATH gives back the site-packages alone, replacing
    # any that names this checkout, and the working folder is a temporary one.
    env = subprocess_env({"PYTHONPATH": os.pathsep.join(site.getsitepackages())})
    threads = torch.get_num_threads()
    args = [folder, tmp_path / "sd", out, threads, spec, json.dumps(OVERRIDES)]
    result = subprocess.run(
        [sys.executable, "-S", "-c", WITHOUT_PACKAGE, *map(str, args)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    got = torch.load(out, weights_only=True)
    # OpenCV is imported by synthesize_file, not by loading the model.
    assert not got["cv2_at_load"]

    v2s = VideoToSpeech.from_hparams(
        source=str(folder), savedir=str(tmp_path / "own"), overrides=OVERRIDES
    )
    for name, (path, cropped) in inputs.items():
        wav = v2s.synthesize_file(path, already_cropped=cropped)
        assert wav.shape == got[name].shape, name
        assert wav.abs().max() > 0, name
        torch.testing.assert_close(got[name], wav, rtol=0, atol=1e-6, msg=name)
    crops = torch.from_numpy(v2s.mouth_frames(inputs["face"][0]))
    assert crops.shape == (30, 96, 96)
    assert torch.equal(got["face_crops"], crops)
