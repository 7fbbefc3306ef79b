"""The web demo without a browser: one upload's work (speech, preview, mux,
mel picture), the messages of bad uploads, and the Space folder."""

import importlib.util
import os
import sys

import numpy as np
import pytest
import soundfile
import torch

from speechbrain_v2s.app.core import UploadError, check_upload, process_video
from speechbrain_v2s.export import export_architecture
from speechbrain_v2s.inference import VideoToSpeech
from speechbrain_v2s.video.io import read_audio_from_video, read_video, write_video

HPARAMS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "hparams")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A randomly initialised tiny mel model (vocoder included), exported."""
    folder = tmp_path_factory.mktemp("tiny_mel")
    torch.manual_seed(0)
    export_architecture(os.path.join(HPARAMS, "tiny_mel.yaml"), folder)
    return folder


@pytest.fixture(scope="module")
def loaded(tiny_model, tmp_path_factory):
    return VideoToSpeech.from_hparams(
        source=str(tiny_model), savedir=str(tmp_path_factory.mktemp("loaded"))
    )


def corpus_video(corpus):
    return sorted(corpus.glob("s*/*.mpg"))[0]


def test_one_upload_gives_speech_preview_mux_and_mel(
    loaded, synthetic_corpus, tmp_path
):
    video = corpus_video(synthetic_corpus)
    frames = read_video(video, grayscale=True).num_frames
    steps = []
    result = process_video(
        loaded,
        video,
        tmp_path,
        already_cropped=True,
        progress=lambda fraction, text: steps.append(fraction),
    )
    wav, rate = soundfile.read(result.wav_path)
    assert rate == 24000 and len(wav) == frames * 960 == result.frames * 960
    assert steps == sorted(steps) and len(steps) >= 4
    # the preview: 8 mouth crops side by side, not a blank image
    assert result.preview.shape == (96, 8 * 96) and result.preview.std() > 5
    muxed = read_audio_from_video(result.video_path, sample_rate=24000)
    assert abs(muxed.shape[-1] - len(wav)) < 2400  # AAC framing, not a lost track
    assert read_video(result.video_path).num_frames == frames
    image = result.mel_figure.axes[0].images[0].get_array()
    assert image.shape == (80, frames * 4)
    assert f"{frames} frames" in result.message


def test_a_text_file_is_not_a_video(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    with pytest.raises(UploadError, match=r"^notes\.txt: not a video"):
        check_upload(notes)


def test_a_long_video_is_refused_before_decoding(tmp_path):
    video = tmp_path / "long.mp4"
    write_video(video, np.zeros((50, 16, 16), np.uint8), fps=25)
    check_upload(video, max_seconds=3)
    with pytest.raises(UploadError, match=r"long\.mp4: 2 s is too long .*at most 1 s"):
        check_upload(video, max_seconds=1)


def test_no_face_is_one_line_naming_the_upload(loaded, tmp_path):
    video = tmp_path / "wall.mp4"
    noise = np.random.default_rng(0).integers(0, 255, (5, 64, 64), np.uint8)
    write_video(video, noise)
    with pytest.raises(UploadError) as caught:
        process_video(loaded, video, tmp_path / "out")
    assert str(caught.value) == "wall.mp4: no face found in any of 5 frames"


def test_space_folder_app_builds_on_its_copy_of_the_model(tiny_model, tmp_path):
    from speechbrain_v2s.app.space import main
    from speechbrain_v2s.hub import is_space

    space = tmp_path / "space"
    assert main([str(tiny_model), "-o", str(space), "--cropped"]) == 0
    readme = (space / "README.md").read_text()
    header = readme.split("---")[1]
    assert "sdk: gradio" in header and "app_file: app.py" in header
    requirements = (space / "requirements.txt").read_text().splitlines()
    assert any(r.startswith("gradio") for r in requirements)
    assert any(r.startswith("torch==") for r in requirements)
    assert is_space(space)
    # the package's code travels with the Space (it is not on PyPI)
    assert (space / "speechbrain_v2s" / "app" / "ui.py").is_file()
    assert (space / "model" / "hyperparams.yaml").read_bytes() == (
        tiny_model / "hyperparams.yaml"
    ).read_bytes()
    # app.py as the Space runs it: builds the page on the copied model
    spec = importlib.util.spec_from_file_location("space_app", space / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shelf = module.demo.v2s_shelf
    assert list(shelf.sources.values()) == [str(space / "model")]
    assert shelf.get("model").mods.model.output_kind == "mel"
    assert type(module.demo).__name__ == "Blocks"
    # a second write refuses to mix with the first
    assert main([str(tiny_model), "-o", str(space)]) == 2


def test_export_space_and_upload_dry_run(tiny_model, tmp_path, capsys):
    from speechbrain_v2s.app.space import write_space
    from speechbrain_v2s.cli import upload_main

    space = tmp_path / "space"
    write_space(tiny_model, space)
    (space / "speechbrain_v2s" / "__pycache__").mkdir()
    (space / "speechbrain_v2s" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert upload_main([str(space), "user/v2s-demo", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would upload app.py" in out and "would upload model/hyperparams.yaml" in out
    assert "__pycache__" not in out
    assert "https://huggingface.co/spaces/user/v2s-demo" in out


def test_app_command_refuses_a_missing_model(capsys):
    from speechbrain_v2s.app.cli import main

    assert main(["--model", "/no/such/model", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot load model '/no/such/model'")
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_package_copy_is_only_code(tiny_model, tmp_path):
    from speechbrain_v2s.app.space import write_space

    written = write_space(tiny_model, tmp_path / "s")
    package = [w for w in written if w.startswith("speechbrain_v2s/")]
    assert package and all(w.endswith(".py") for w in package)
    # the judge weights (package data for v2s-evaluate) stay behind
    assert not any(w.startswith("speechbrain_v2s/judges/") for w in written)


def test_several_models_get_a_chooser(tiny_model, tmp_path):
    import shutil

    from speechbrain_v2s.app.ui import build_demo

    other = tmp_path / "other" / tiny_model.name  # the same folder name
    shutil.copytree(tiny_model, other)
    demo = build_demo([str(tiny_model), str(other)])
    chooser = next(
        block
        for block in demo.blocks.values()
        if getattr(block, "elem_id", None) == "model"
    )
    # two folders of one name: told apart by their full paths
    assert [c[0] for c in chooser.choices] == [str(tiny_model), str(other)]
    assert chooser.visible
    single = build_demo([str(tiny_model)])
    assert not next(
        b for b in single.blocks.values() if getattr(b, "elem_id", None) == "model"
    ).visible


def test_app_command_names_a_taken_port(tiny_model, capsys):
    import socket

    from speechbrain_v2s.app.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--model", str(tiny_model), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot serve on 127.0.0.1:{port}")
    assert len(err.splitlines()) == 1


def test_app_command_serves_until_ctrl_c(tiny_model):
    """The console script: the page answers, Ctrl-C ends it with 130 and no
    traceback. The signal is sent as soon as the page answers, which is often
    while Gradio's launch() is still checking its own URL (a CI run once
    died there by SIGINT)."""
    import signal
    import subprocess

    from app_helpers import free_port, wait_for_page
    from recipe_runs import subprocess_env

    port = free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "v2s-app")
    cmd = [exe, "--model", str(tiny_model), "--port", str(port)]
    server = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
        # A run started in the background (nohup, CI) ignores SIGINT, and
        # children inherit that: give the server Python's default back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        page = wait_for_page(url, server, 120, server.communicate, poll=0.05)
        assert "SpeechBrain V2S" in page
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=60)
        assert server.returncode == 130, err.decode()[-2000:]
        assert "Traceback" not in err.decode()
    finally:
        server.kill()
        server.wait()
