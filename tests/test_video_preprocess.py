"""The v2s-preprocess batch job: reports, resume, shards, cropped mode, CLI."""

import csv
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import soundfile

from speechbrain_v2s.video.io import write_video
from speechbrain_v2s.video.mouth_roi import load_roi, save_roi
from speechbrain_v2s.video.preprocess import (
    collect_inputs,
    main,
    preprocess_videos,
    report_path,
)
from speechbrain_v2s.video.roi_cache import cache_status

skimage_data = pytest.importorskip("skimage.data")


def _face_video(path, num=10, shift=0):
    image = np.ascontiguousarray(skimage_data.astronaut()[0:320, 64:384])
    frames = []
    for t in range(num):
        mat = np.float32([[1, 0, shift + t], [0, 1, 0]])
        frames.append(cv2.warpAffine(image, mat, (320, 320)))
    write_video(path, np.stack(frames), fps=25)


def _cropped_video(path, num=6, ext_fps=25):
    rng = np.random.default_rng(len(str(path)))
    write_video(path, rng.integers(0, 255, (num, 88, 88), np.uint8), fps=ext_fps)


def _read_report(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    (root / "s1").mkdir()
    (root / "s2").mkdir()
    _face_video(root / "s1" / "good_a.mp4")
    _face_video(root / "s2" / "good_b.avi", shift=5)
    (root / "s1" / "broken.mp4").write_bytes(b"\x00not a video" * 100)
    noise = np.random.default_rng(0).integers(0, 255, (8, 120, 120), np.uint8)
    write_video(root / "s2" / "noface.mp4", noise, fps=25)
    (root / "s2" / "readme.txt").write_text("not a video")
    return root


def test_batch_reports_bad_files_and_resumes(dataset, tmp_path):
    out = tmp_path / "cache"
    summary = preprocess_videos(dataset, out, detector="dlib", progress=False)
    assert (summary["total"], summary["done"], summary["failed"]) == (4, 2, 2)
    for rel in ["s1/good_a.npz", "s2/good_b.npz"]:
        frames, meta = load_roi(out / rel)
        assert frames.shape == (10, 96, 96) and frames.dtype == np.uint8
        assert meta["missing_ratio"] == 0.0 and meta["detector"] == "dlib"
    rows = _read_report(report_path(out))
    assert {(os.path.basename(r["file"]), r["error_type"]) for r in rows} == {
        ("broken.mp4", "UnreadableVideoError"),
        ("noface.mp4", "NoFaceError"),
    }
    assert all(r["reason"] for r in rows)
    assert not list(out.rglob("*.tmp*"))
    # Second run: finished files are skipped, failures are retried and reported.
    # "auto" is dlib where dlib is installed: the same crops.
    again = preprocess_videos(dataset, out, detector="auto", progress=False)
    assert (again["done"], again["skipped"], again["failed"]) == (0, 2, 2)
    assert len(_read_report(report_path(out))) == 2
    # Another backend would make other crops.
    key = load_roi(out / "s1/good_a.npz")[1]["options"]
    assert cache_status(out / "s1/good_a.npz", {**key, "detector": "haar"}) == "stale"


def test_detect_and_fit_every_options_and_fast_default_agree(tmp_path):
    src = tmp_path / "in"
    _face_video(src / "talk.mp4", num=12, shift=-6)  # moves 1 px per frame
    centres = []
    for flag in ([], ["--detect-every", "1"], ["--fit-every", "1"]):
        out = tmp_path / f"out{len(centres)}"
        assert main([str(src), "-o", str(out), "--detector", "dlib"] + flag) == 0
        frames, meta = load_roi(out / "talk.npz")
        assert frames.shape == (12, 96, 96) and meta["missing_ratio"] == 0.0
        centres.append(np.array(meta["mouth_centres"]))
    # Tracking between detections with landmarks fitted on every 2nd frame
    # (default) vs. detecting in every frame, and vs. fitting every frame.
    for other in centres[1:]:
        assert np.hypot(*(centres[0] - other).T).max() < 1.5
    assert np.allclose(np.diff(centres[0][:, 0]), 1.0, atol=0.5)


def test_shards_are_disjoint_and_cover(tmp_path):
    src = tmp_path / "crops"
    for i in range(5):
        _cropped_video(src / f"spk{i % 2}" / f"utt{i}.mp4")
    out = tmp_path / "cache"
    first = preprocess_videos(
        src, out, shard=(1, 2), already_cropped=True, progress=False
    )
    second = preprocess_videos(
        src, out, shard=(2, 2), already_cropped=True, progress=False
    )
    assert first["done"] + second["done"] == 5 and first["done"] == 3
    assert len(list(out.rglob("*.npz"))) == 5
    assert os.path.isfile(report_path(out, (1, 2)))
    assert os.path.isfile(report_path(out, (2, 2)))
    items = collect_inputs(src)
    assert [i["rel"] for i in items] == sorted(i["rel"] for i in items)


def test_parallel_jobs(tmp_path):
    src = tmp_path / "crops"
    for i in range(4):
        _cropped_video(src / f"utt{i}.mp4")
    (src / "bad.mp4").write_bytes(b"garbage")
    out = tmp_path / "cache"
    summary = preprocess_videos(src, out, jobs=2, already_cropped=True, progress=False)
    assert (summary["done"], summary["failed"]) == (4, 1)
    assert len(list(out.glob("*.npz"))) == 4


def test_already_cropped_sizes_and_fps(tmp_path):
    src = tmp_path / "in"
    _cropped_video(src / "a.mp4", num=30, ext_fps=30)  # 30 fps -> 25 fps
    out = tmp_path / "out"
    preprocess_videos(src, out, already_cropped=True, progress=False)
    frames, meta = load_roi(out / "a.npz")
    assert frames.shape == (25, 96, 96) and meta["fps"] == 25.0
    keep = tmp_path / "keep"
    preprocess_videos(src, keep, already_cropped=True, keep_size=True, progress=False)
    assert load_roi(keep / "a.npz")[0].shape == (25, 88, 88)


def test_manifest_with_audio_length_check(tmp_path):
    videos = tmp_path / "data"
    _cropped_video(videos / "ok.mp4", num=25)  # 1 s
    _cropped_video(videos / "short.mp4", num=25)
    soundfile.write(videos / "ok.wav", np.zeros(16000), 16000)
    soundfile.write(videos / "long.wav", np.zeros(48000), 16000)  # 3 s
    manifest = tmp_path / "train.json"
    manifest.write_text(
        json.dumps(
            {
                "u1": {"video": "{data_root}/ok.mp4", "wav": "{data_root}/ok.wav"},
                "u2": {"video": "{data_root}/short.mp4", "wav": "{data_root}/long.wav"},
                "u3": {"duration": 1.0},
            }
        )
    )
    out = tmp_path / "out"
    summary = preprocess_videos(
        manifest, out, already_cropped=True, data_root=str(videos), progress=False
    )
    assert (summary["done"], summary["failed"]) == (1, 1)
    (row,) = _read_report(report_path(out))
    assert row["error_type"] == "AVLengthMismatchError"
    assert "1.00 s" in row["reason"] and "3.00 s" in row["reason"]
    assert (out / "ok.npz").is_file()


def test_cli_exit_code_and_summary(tmp_path, capsys):
    src = tmp_path / "in"
    _cropped_video(src / "a.mp4")
    (src / "b.mp4").write_bytes(b"garbage")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{src / 'a.mp4'}\n# comment\n{src / 'b.mp4'}\n")
    out = tmp_path / "out"
    code = main([str(listing), "-o", str(out), "--already-cropped", "--no-progress"])
    assert code == 1  # some failed
    captured = capsys.readouterr()
    assert "done 1, skipped 0, failed 1" in captured.out.strip().splitlines()[-1]
    assert f"{src / 'b.mp4'}: cannot decode" in captured.err
    assert main([str(listing), "-o", str(out), "--already-cropped",
                 "--no-progress", "--jobs", "2"]) == 1  # fmt: skip
    assert "done 0, skipped 1, failed 1" in capsys.readouterr().out
    (out / "a.npz").unlink()  # every file failing: nothing done
    assert main([str(src / "b.mp4"), "-o", str(out), "--already-cropped"]) == 2
    assert main([str(src), "-o", str(out), "--detector", "mediapipe"]) == 2
    assert "unknown backend" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(src), "-o", str(out), "--shard", "3/2"])


def test_rerun_with_other_crop_options_remakes_the_cache(tmp_path, capsys):
    src = tmp_path / "crops"
    for name in ("a", "b"):
        _cropped_video(src / f"{name}.mp4", num=10)
    out = tmp_path / "cache"
    args = [str(src), "-o", str(out), "--already-cropped", "--no-progress"]
    assert main(args) == 0
    assert load_roi(out / "a.npz")[1]["options"]["roi_size"] == 96
    assert main(args) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "done 0, skipped 2, failed 0 of 2 in" in line and "options" not in line
    # Other crop size: every cached file is re-made, said once in the summary.
    assert main(args + ["--roi-size", "64"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert (
        "done 2, skipped 0" in line and line.count("2 cached with other options") == 1
    )
    assert load_roi(out / "b.npz")[0].shape == (10, 64, 64)
    summary = preprocess_videos(src, out, already_cropped=True, roi_size=64, fps=12.5,
                                progress=False)  # fmt: skip
    assert (summary["done"], summary["stale"]) == (2, 2)
    frames, meta = load_roi(out / "a.npz")
    assert frames.shape == (5, 64, 64) and meta["fps"] == 12.5


def test_broken_or_misshapen_cache_is_remade(tmp_path):
    src = tmp_path / "crops"
    for name in ("a", "b", "c", "d", "e"):
        _cropped_video(src / f"{name}.mp4", num=10)
    out = tmp_path / "cache"
    preprocess_videos(src, out, already_cropped=True, progress=False)
    frames, meta = load_roi(out / "a.npz")
    # b: frames of another shape than the recorded options make.
    save_roi(out / "b.npz", frames[:, :50, :50], 25.0, meta)
    # c: meta that is not a JSON object.
    with open(out / "c.npz", "wb") as handle:
        np.savez_compressed(handle, frames=frames, meta=np.array("{broken"))
    # d: cut short (a copy interrupted mid-file).
    data = (out / "d.npz").read_bytes()
    (out / "d.npz").write_bytes(data[: len(data) // 2])
    # e: written before options were recorded; its meta says 64x64 crops.
    legacy = {k: v for k, v in meta.items() if k != "options"}
    save_roi(out / "e.npz", frames[:, :64, :64], 25.0, {**legacy, "size": [64, 64]})
    summary = preprocess_videos(src, out, already_cropped=True, progress=False)
    assert (summary["done"], summary["skipped"]) == (4, 1)
    assert (summary["invalid"], summary["stale"]) == (3, 1)
    for name in "bcde":
        assert load_roi(out / f"{name}.npz")[0].shape == (10, 96, 96)
    # A file from before options were recorded, made as this run would: kept.
    save_roi(out / "e.npz", frames, 25.0, legacy)
    again = preprocess_videos(src, out, already_cropped=True, progress=False)
    assert (again["done"], again["skipped"]) == (0, 5)


def test_temps_of_a_killed_run_are_removed(tmp_path, capsys):
    src = tmp_path / "crops"
    _cropped_video(src / "spk" / "a.mp4")
    out = tmp_path / "cache"
    (out / "spk").mkdir(parents=True)
    # What a SIGKILL inside save_roi leaves: a real writer that is gone.
    code = (
        "import sys; from speechbrain_v2s.atomic import temp_path; "
        "open(temp_path(sys.argv[1]), 'w').close(); "
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code, str(out / "spk" / "z.npz")], env=env)
    (leftover,) = (out / "spk").iterdir()
    assert ".npz.tmp-" in leftover.name
    args = [str(src), "-o", str(out), "--already-cropped", "--no-progress"]
    assert main(args) == 0
    assert "1 temporary files of killed runs removed" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "spk").iterdir()) == ["a.npz"]
