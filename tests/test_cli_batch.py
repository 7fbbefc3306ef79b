"""The batch tools as users run them: ``v2s-synthesize`` and ``v2s-preprocess``
on colliding names, odd names, mistaken arguments, and Ctrl-C."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile
import torch
from recipe_runs import ROOT, subprocess_env

from speechbrain_v2s.cli import synthesize_main
from speechbrain_v2s.evaluation import main as evaluate_main
from speechbrain_v2s.export import export_architecture
from speechbrain_v2s.video.inputs import collect_inputs
from speechbrain_v2s.video.io import write_video
from speechbrain_v2s.video.mouth_roi import load_roi, save_roi
from speechbrain_v2s.video.preprocess import main as preprocess_main

ODD = os.fsdecode(b"caf\xe9")  # a Latin-1 name: not valid UTF-8


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_wave")
    torch.manual_seed(0)
    export_architecture(os.path.join(ROOT, "hparams", "tiny_wave.yaml"), folder)
    return folder


def _crop_video(path, frames=4, seed=0):
    rng = np.random.default_rng(seed)
    write_video(path, rng.integers(0, 255, (frames, 88, 88), np.uint8), fps=25)


def _tree(root, names):
    for i, name in enumerate(names):
        os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
        _crop_video(os.path.join(root, name), seed=i)
    return root


def _files(folder, ext):
    return sorted(
        os.path.relpath(os.path.join(d, f), folder)
        for d, _, files in os.walk(folder)
        for f in files
        if f.endswith(ext)
    )


def _synth(*args):
    return synthesize_main([*map(str, args), "--already-cropped"])


def test_synthesize_names_each_input_its_own_output(model_dir, tmp_path, capsys):
    src = _tree(tmp_path / "in", ["a/x.mp4", "b/x.mp4", "x.avi", "y.mp4", "y.mkv"])
    out = tmp_path / "out"
    assert _synth(src, "-o", out, "--model", model_dir) == 0
    assert _files(out, ".wav") == [
        "a/x.wav", "b/x.wav", "x.wav", "y.mkv.wav", "y.mp4.wav"
    ]  # fmt: skip
    assert "done 5, skipped 0 existing, failed 0 of 5" in capsys.readouterr().err
    # Two videos of one base name given by hand: named from their common parent.
    named = tmp_path / "named"
    both = [src / "a/x.mp4", src / "b/x.mp4"]
    assert _synth(*both, "-o", named, "--model", model_dir) == 0
    assert _files(named, ".wav") == ["a/x.wav", "b/x.wav"]
    # A folder holding one video: -o is still a folder.
    one = tmp_path / "one"
    assert _synth(src / "a", "-o", one, "--model", model_dir) == 0
    assert _files(one, ".wav") == ["x.wav"]


def test_synthesize_skips_existing_outputs_unless_overwrite(
    model_dir, tmp_path, capsys
):
    src = _tree(tmp_path / "in", ["a.mp4", "b.mp4"])
    out = tmp_path / "out"
    assert _synth(src, "-o", out, "--model", model_dir) == 0
    (out / "a.wav").write_bytes(b"mine")
    capsys.readouterr()
    assert _synth(src, "-o", out, "--model", model_dir) == 0
    assert (out / "a.wav").read_bytes() == b"mine"  # nothing overwritten
    assert "done 0, skipped 2 existing, failed 0 of 2" in capsys.readouterr().err
    assert _synth(src, "-o", out, "--model", model_dir, "--overwrite") == 0
    assert soundfile.info(str(out / "a.wav")).samplerate == 24000
    assert "done 2, skipped 0 existing" in capsys.readouterr().err


def test_synthesize_exit_codes(model_dir, tmp_path, capsys):
    src = _tree(tmp_path / "in", ["good.mp4"])
    (src / "bad.mp4").write_bytes(b"\x00not a video" * 50)
    assert _synth(src, "-o", tmp_path / "o1", "--model", model_dir) == 1
    err = capsys.readouterr().err
    assert "bad.mp4" in err and "done 1, skipped 0 existing, failed 1 of 2" in err
    assert _synth(src / "bad.mp4", "-o", tmp_path / "o2", "--model", model_dir) == 2
    assert "Traceback" not in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert _synth(src, "-o", blocker / "sub", "--model", model_dir) == 2
    assert "cannot create the output folder" in capsys.readouterr().err


def _recipe_manifest(tmp_path):
    """A recipe's save/test.json: ids, {data_root} paths, a cached ROI entry
    and an id with a speaker folder."""
    data = _tree(tmp_path / "data", ["s1/a.mp4", "s3/c.mp4"])
    for name in ("s1/a.wav", "s3/c.wav"):  # as long as the 4 frames
        soundfile.write(str(data / name), np.zeros(3840), 24000)
    save_roi(str(tmp_path / "rois" / "b.npz"), np.full((4, 96, 96), 90, np.uint8))
    entries = {
        "s1_a": {"video": "{data_root}/s1/a.mp4", "wav": "{data_root}/s1/a.wav"},
        "s2_b": {
            "video": "{data_root}/s2/b.mp4",  # not there: the ROI cache is used
            "roi_path": str(tmp_path / "rois" / "b.npz"),
            "wav": "{data_root}/s2/b.wav",
        },
        "s3/c": {"video": "{data_root}/s3/c.mp4", "wav": "{data_root}/s3/c.wav"},
    }
    manifest = tmp_path / "save" / "test.json"
    manifest.parent.mkdir()
    manifest.write_text(json.dumps(entries))
    return manifest, data


def test_synthesize_a_recipe_manifest_then_evaluate_it(model_dir, tmp_path, capsys):
    manifest, data = _recipe_manifest(tmp_path)
    gen = tmp_path / "gen"
    args = [manifest, "-o", gen, "--model", model_dir, "--data-root", data]
    assert _synth(*args) == 0
    assert _files(gen, ".wav") == ["s1_a.wav", "s2_b.wav", "s3/c.wav"]
    assert "done 3, skipped 0 existing, failed 0 of 3" in capsys.readouterr().err
    # The references the manifest names: v2s-evaluate pairs them by id.
    for ref, made in (("s1/a", "s1_a"), ("s2/b", "s2_b"), ("s3/c", "s3/c")):
        os.makedirs(os.path.dirname(data / ref), exist_ok=True)
        shutil.copy(gen / f"{made}.wav", data / f"{ref}.wav")
    out = tmp_path / "eval"
    code = evaluate_main(
        ["--manifest", str(manifest), "--gen-dir", str(gen), "--data-root",
         str(data), "-o", str(out), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    with open(out / "per_utterance.csv", newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    assert sorted(rows) == ["s1_a", "s2_b", "s3/c"]
    assert rows["s3/c"]["gen"] == str(gen / "s3" / "c.wav")
    assert not any("no generated file" in r["error"] for r in rows.values())


def test_synthesize_manifest_mistakes_are_one_line(model_dir, tmp_path, capsys):
    manifest, data = _recipe_manifest(tmp_path)
    out = tmp_path / "gen"
    assert _synth(manifest, "-o", out, "--model", model_dir) == 2  # no --data-root
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(manifest) in err[0] and "--data-root" in err[0]
    audio_only = tmp_path / "audio.json"
    audio_only.write_text(json.dumps({"u": {"wav": "u.wav"}}))
    assert _synth(audio_only, "-o", out, "--model", model_dir) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no entry has a 'video'" in err[0]
    assert not os.path.exists(out) or not os.listdir(out)


def test_preprocess_a_recipe_manifest(tmp_path, capsys):
    manifest, data = _recipe_manifest(tmp_path)
    out = tmp_path / "rois_out"
    args = [str(manifest), "-o", str(out), "--already-cropped", "--no-progress"]
    assert preprocess_main(args) == 2  # {data_root} without --data-root
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--data-root" in err[0]
    # With it: the videos there, named as training's ROI cache names them.
    assert preprocess_main([*args, "--data-root", str(data)]) == 1  # s2/b.mp4: none
    assert _files(out, ".npz") == ["s1/a.npz", "s3/c.npz"]
    assert f"{data / 's2' / 'b.mp4'}: file not found" in capsys.readouterr().err
    # A missing audio file is named as such, not as the video.
    (data / "s1" / "a.wav").unlink()
    code = preprocess_main([str(manifest), "-o", str(tmp_path / "again"),
                            "--already-cropped", "--data-root", str(data)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and f"its audio {data / 's1' / 'a.wav'} is not there" in err


def test_folder_scan_extensions(tmp_path):
    names = ["a.M4V", "b.flv", "c.WMV", "d.3gp", "e.NPZ", "f.txt", "g.MP4"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    found = [os.path.basename(i["video"]) for i in collect_inputs(tmp_path)]
    assert found == ["a.M4V", "b.flv", "c.WMV", "d.3gp", "g.MP4"]
    from speechbrain_v2s.cli import expand_inputs

    scanned = [rel for _, rel in expand_inputs([tmp_path])]
    assert scanned == ["a.M4V", "b.flv", "c.WMV", "d.3gp", "e.NPZ", "g.MP4"]


def test_preprocess_gives_one_basename_two_outputs(tmp_path, capsys):
    src = _tree(tmp_path / "in", ["s1/x.mp4", "s2/x.mp4"])
    out = tmp_path / "out"
    args = [str(src / "s1/x.mp4"), str(src / "s2/x.mp4"), "-o", str(out)]
    assert preprocess_main([*args, "--already-cropped", "--no-progress"]) == 0
    assert "done 2, skipped 0, failed 0 of 2" in capsys.readouterr().out
    assert _files(out, ".npz") == ["s1/x.npz", "s2/x.npz"]


@pytest.mark.parametrize(
    "setup, expected",
    [
        ("binary_list", "not a video type this tool reads"),
        ("bad_json", "not valid JSON"),
        ("output_file", "output folder is a file"),
        ("output_under_file", "cannot create the output folder"),
        ("read_only", "output folder is not writable"),
        ("missing", "no such file or folder"),
    ],
)
def test_preprocess_mistaken_arguments(tmp_path, capsys, setup, expected):
    video = tmp_path / "ok.mp4"
    _crop_video(video)
    inputs, out = [str(video)], tmp_path / "out"
    if setup == "binary_list":
        inputs = [str(tmp_path / "clip.xyz")]
        (tmp_path / "clip.xyz").write_bytes(bytes(range(256)))
    elif setup == "bad_json":
        inputs = [str(tmp_path / "list.json")]
        (tmp_path / "list.json").write_text('{"a": {"video": ')
    elif setup == "output_file":
        out.write_text("")
    elif setup == "output_under_file":
        out.write_text("")
        out = out / "sub"
    elif setup == "read_only":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        out.mkdir()
        out.chmod(0o555)
    elif setup == "missing":
        inputs = [str(tmp_path / "nope.mp4")]
    code = preprocess_main([*inputs, "-o", str(out), "--already-cropped"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and expected in err[0], err


@pytest.mark.parametrize("option", ["--fps", "--roi-size"])
def test_preprocess_zero_options_are_usage_errors(tmp_path, capsys, option):
    with pytest.raises(SystemExit) as stop:
        preprocess_main([str(tmp_path), "-o", str(tmp_path), option, "0"])
    assert stop.value.code == 2
    assert (
        f"argument {option}: must be a number > 0, got '0'" in capsys.readouterr().err
    )


def test_preprocess_unknown_video_type_is_one_failed_file(tmp_path, capsys):
    clip = tmp_path / "phone.3gp"
    clip.write_bytes(bytes(range(256)) * 4)  # a video type, but broken
    assert preprocess_main([str(clip), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{clip}: " in err and "Traceback" not in err


def _run(module_main, *args, **popen):
    code = f"import sys; from {module_main} as main; sys.exit(main())"
    # (the console entries exit themselves; sys.exit is then not reached)
    return [sys.executable, "-c", code, *map(str, args)]


def _odd_tree(root):
    _crop_video(root / "ok.mp4")
    _crop_video(root / "a.mp4", seed=1)
    os.rename(root / "a.mp4", os.path.join(root, ODD + ".mp4"))
    return root


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_preprocess_reads_names_that_are_not_utf8(tmp_path, jobs):
    src, out = _odd_tree(tmp_path / "in"), tmp_path / "out"
    src_args = [src, "-o", out, "--already-cropped", "--no-progress", "-j", jobs]
    command = _run("speechbrain_v2s.video.preprocess import main", *src_args)
    result = subprocess.run(command, capture_output=True, timeout=300,
                            env=subprocess_env())  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert b"done 2, skipped 0, failed 0 of 2" in result.stdout
    assert load_roi(os.path.join(out, ODD + ".npz"))[0].shape == (4, 96, 96)


def test_synthesize_reads_names_that_are_not_utf8(model_dir, tmp_path):
    src, out = _odd_tree(tmp_path / "in"), tmp_path / "out"
    args = [src, "-o", out, "--model", model_dir, "--already-cropped"]
    command = _run("speechbrain_v2s.cli import synthesize_main", *args)
    result = subprocess.run(command, capture_output=True, timeout=300,
                            env=subprocess_env())  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert b"caf\\xe9.wav" in result.stdout  # printed, escaped
    info = soundfile.info(open(os.path.join(out, ODD + ".wav"), "rb"))
    assert info.frames == 4 * 960


INTERRUPT_FRAMES = 50


def _default_sigint():
    # A test run started in the background (`make test &`, nohup, some CI
    # runners) ignores SIGINT, and children inherit that: Python then installs
    # no KeyboardInterrupt handler and the tool never sees the Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(command, out, ext, first_wait=600):
    """Start ``command``, SIGINT it once its first output exists."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=subprocess_env(), preexec_fn=_default_sigint,
    )  # fmt: skip
    deadline = time.time() + first_wait
    while not _files(out, ext) and time.time() < deadline:
        if process.poll() is not None:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    return process.returncode, stdout, stderr


def _many(tmp_path, count, frames=INTERRUPT_FRAMES):
    # Files long enough that the batch is still running when the test (on a
    # busy machine, maybe scheduled late) sends its Ctrl-C: with 4-frame files
    # a loaded CI host saw all 400 done before the signal (exit 0).
    src = tmp_path / "in"
    src.mkdir()
    _crop_video(src / "v000.mp4", frames=frames)
    for i in range(1, count):
        shutil.copy(src / "v000.mp4", src / f"v{i:03d}.mp4")
    return src


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_keeps_finished_roi_files(tmp_path, jobs):
    src, out = _many(tmp_path, 400), tmp_path / "out"
    args = [src, "-o", out, "--already-cropped", "--no-progress", "-j", jobs]
    command = _run("speechbrain_v2s.video.preprocess import main", *args)
    code, _, stderr = _interrupt(command, out, ".npz")
    assert code == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    (line,) = [ln for ln in stderr.splitlines() if "interrupted" in ln]
    kept = _files(out, ".npz")
    assert f"interrupted: {len(kept)} of 400 done, kept" in line
    assert 0 < len(kept) < 400
    for name in kept:  # every finished file is whole; no temporary file left
        shape = load_roi(os.path.join(out, name))[0].shape
        assert shape == (INTERRUPT_FRAMES, 96, 96)
    assert sorted(os.listdir(out)) == sorted(kept + ["preprocess_report.csv"])


def test_ctrl_c_keeps_finished_wavs(model_dir, tmp_path):
    src, out = _many(tmp_path, 150), tmp_path / "out"
    args = [src, "-o", out, "--model", model_dir, "--already-cropped"]
    command = _run("speechbrain_v2s.cli import synthesize", *args)  # the entry
    code, stdout, stderr = _interrupt(command, out, ".wav")
    assert code == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    kept = _files(out, ".wav")
    assert f"interrupted: {len(kept)} of 150 done, kept" in stderr
    assert 0 < len(kept) < 150
    for name in kept:
        assert soundfile.info(str(out / name)).frames == INTERRUPT_FRAMES * 960
    assert sorted(os.listdir(out)) == kept
