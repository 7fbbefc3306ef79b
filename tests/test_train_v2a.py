"""V2A fine-tuning run as users run it, then exported and loaded back.

Slow: a tiny A2A pre-training, V2A fine-tuning with ``init`` and ``joint``, the
export round trip through ``from_hparams`` and through ``foreign_class``
without this package.
"""

import glob
import os
import subprocess
import sys

import pytest
import torch
from recipe_runs import RUN_SEED, run_recipe, subprocess_env

from speechbrain_v2s.training.logs import read_train_log

pytestmark = pytest.mark.slow

SPEAKERS, UTTERANCES = 4, 12


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Corpora, a tiny_mel A2A checkpoint, and V2A runs (init, joint)."""
    from speechbrain_v2s.synthetic import generate_corpus

    root = tmp_path_factory.mktemp("v2a")
    generate_corpus(
        root / "audio",
        speakers=4,
        utterances_per_speaker=12,
        seed=3,
        audio_only=True,
        progress=False,
    )
    generate_corpus(
        root / "av",
        speakers=SPEAKERS,
        utterances_per_speaker=UTTERANCES,
        seed=5,
        progress=False,
    )
    run_recipe(
        "Synthetic/A2A",
        "hparams/tiny_mel.yaml",
        "--data_folder",
        root / "audio",
        "--output_folder",
        root / "a2a",
        "--number_of_epochs",
        3,
        "--batch_size",
        4,
        "--valid_ratio",
        0.15,
        "--seed",
        RUN_SEED,
        cwd=root,
    )
    runs = {}
    for strategy in ("init", "joint"):
        out = root / f"v2a_{strategy}"
        run_recipe(
            "Synthetic/V2A",
            "hparams/tiny_mel.yaml",
            "--data_folder",
            root / "av",
            "--output_folder",
            out,
            "--roi_folder",
            root / "rois",
            "--number_of_epochs",
            3,
            "--batch_size",
            4,
            "--finetune_strategy",
            strategy,
            "--pretrained_a2a",
            root / "a2a" / "a2a_model.ckpt",
            "--synth_speakers",
            SPEAKERS,
            "--synth_utterances_per_speaker",
            UTTERANCES,
            "--num_speakers",
            SPEAKERS,
            "--seed",
            RUN_SEED,
            cwd=root,
        )
        runs[strategy] = out
    return {"root": root, **runs}


def _epochs(out):
    return [r for r in read_train_log(out / "train_log.txt") if r["train"]]


def test_v2a_reports_test_metrics(work):
    rows = read_train_log(work["init"] / "train_log.txt")
    test = [r["test"] for r in rows if r["test"]]
    assert test, "no test line in the train log"
    for key in ("stoi", "estoi", "pesq", "mel_l1"):
        assert key in test[-1]
    # The transfer from A2A is logged with what was loaded.
    log = (work["init"] / "log.txt").read_text()
    assert "A2A transfer (init)" in log


def test_lr_falls_linearly_to_lr_final_scale(work):
    def lrs(run):
        rows = read_train_log(work[run] / "train_log.txt")
        return [r["lr"] for r in rows if r.get("epoch", 0) >= 1 and "lr" in r]

    decayed = lrs("init")  # the recipe's default: lr_final_scale 0.1
    assert len(decayed) == 3
    assert decayed[0] > decayed[1] > decayed[2]
    assert decayed[-1] == pytest.approx(0.002 * 0.1, rel=0.01)  # lr x lr_final_scale
    # joint runs the same schedule (lr_final_scale 1.0 is checked on the
    # YAML's scheduler in test_recipe_hparams.py)
    assert lrs("joint") == decayed


def test_joint_trains_both_paths_with_two_bn_statistics(work):
    # Both paths' losses on the fixed validation set (whole utterances), from
    # the untrained model's (epoch 0) to the last epoch's: a steadier measure
    # than the train loss of 10 random crops per epoch, which can rise from one
    # toy epoch to the next while the model improves.
    rows = read_train_log(work["joint"] / "train_log.txt")
    valid = [r["valid"] for r in rows if r.get("valid") and "epoch" in r]
    assert rows[0]["epoch"] == 0 and len(valid) == 4
    first, last = valid[0], valid[-1]
    assert last["mel_l1"] < first["mel_l1"] - 0.2  # video path
    assert last["a2a_mel_l1"] < first["a2a_mel_l1"] - 0.2  # audio path (Algorithm 1)
    train = [r["train"] for r in _epochs(work["joint"])]
    assert min(t["mel_l1"] for t in train[1:]) < train[0]["mel_l1"]
    ckpts = sorted(glob.glob(str(work["joint"] / "save" / "CKPT*")))
    state = torch.load(os.path.join(ckpts[-1], "model.ckpt"), map_location="cpu")
    pairs = [
        (k, k.replace("running_mean_audio", "running_mean_video"))
        for k in state
        if k.startswith("model.decoder.") and k.endswith("running_mean_audio")
    ]
    assert pairs, "no cross-modal batch norm in the decoder"
    differing = [a for a, v in pairs if not torch.allclose(state[a], state[v])]
    assert differing, "audio and video statistics are identical"


def _reference_output(run, roi):
    """The trained model as the Brain holds it, on ``roi``."""
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_v2s.export import best_checkpoint, strip_prefix

    with open(run / "hyperparams.yaml") as handle:
        hparams = load_hyperpyyaml(handle)
    model = hparams["model"]
    state = torch.load(
        os.path.join(best_checkpoint(run / "save"), "model.ckpt"), map_location="cpu"
    )
    model.load_state_dict(strip_prefix(state, "model."))
    model.eval()
    with torch.no_grad(), model.modality("video"):
        out, _ = model(roi, torch.ones(1))
    return out


def _run_python(code, cwd, env=None, flags=()):
    result = subprocess.run(
        [sys.executable, *flags, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=env or subprocess_env(),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


LOAD_WITH_PACKAGE = """
import torch
from speechbrain_v2s.inference import VideoToSpeech
m = VideoToSpeech.from_hparams(source={src!r}, savedir={save!r})
model = m.mods.model
with torch.no_grad(), model.modality("video"):
    out, _ = model(torch.load({roi!r}), torch.ones(1))
torch.save(out, {out!r})
"""

LOAD_WITHOUT_PACKAGE = """
import importlib.util, torch
assert importlib.util.find_spec("speechbrain_v2s") is None, "package visible"
from speechbrain.inference.interfaces import foreign_class
m = foreign_class(source={src!r}, savedir={save!r},
                  pymodule_file="custom_interface.py", classname="VideoToSpeech")
model = m.mods.model
with torch.no_grad(), model.modality("video"):
    out, _ = model(torch.load({roi!r}), torch.ones(1))
torch.save(out, {out!r})
"""


def test_export_round_trip(work, tmp_path):
    from speechbrain_v2s.cli import export_main

    folder = tmp_path / "exported"
    assert export_main([str(work["init"]), str(folder)]) == 0
    roi = torch.randn(1, 30, 1, 88, 88, generator=torch.Generator().manual_seed(0))
    torch.save(roi, tmp_path / "roi.pt")
    reference = _reference_output(work["init"], roi)

    # 1. With the package, in a fresh process, through from_hparams.
    out = tmp_path / "with_package.pt"
    _run_python(
        LOAD_WITH_PACKAGE.format(
            src=str(folder),
            save=str(tmp_path / "sd1"),
            roi=str(tmp_path / "roi.pt"),
            out=str(out),
        ),
        cwd=tmp_path,
    )
    # The loaded model folds its batch norms into the convolutions: float32
    # rounding differs, relative to the output's scale (log mel, |x| ~ 10).
    tolerance = 1e-5 * max(1.0, reference.abs().max().item())
    diff = (torch.load(out) - reference).abs().max().item()
    assert diff < tolerance, diff

    # 2. Without the package: SpeechBrain's foreign_class and the generated
    # custom_interface.py only. "-S" skips site-packages' .pth files (where the
    # editable install hooks in), PYTHONPATH brings back the libraries.
    import site

    env = subprocess_env({"PYTHONPATH": os.pathsep.join(site.getsitepackages())})
    out2 = tmp_path / "without_package.pt"
    _run_python(
        LOAD_WITHOUT_PACKAGE.format(
            src=str(folder),
            save=str(tmp_path / "sd2"),
            roi=str(tmp_path / "roi.pt"),
            out=str(out2),
        ),
        cwd=tmp_path,
        env=env,
        flags=["-S"],
    )
    diff2 = (torch.load(out2) - reference).abs().max().item()
    assert diff2 < tolerance, diff2

    # The model card parses as Hub metadata and shows the test metrics.
    from huggingface_hub import ModelCard

    card = ModelCard.load(folder / "README.md")
    assert "video-to-speech" in card.data.tags
    assert "STOI" in card.text
    # It names the recipe YAML the run started from, and its architecture.
    assert "Recipe: `recipes/Synthetic/V2A/hparams/tiny_mel.yaml`" in card.text
    assert "Architecture: `tiny_mel`" in card.text


def test_a2a_checkpoint_initialises_v2a_recipe(work):
    """The A2A checkpoint the A2A recipe wrote loads into the V2A recipe's model
    and changes its decoder (what ``pretrained_a2a`` does before training)."""
    from hyperpyyaml import load_hyperpyyaml

    with open(work["init"] / "hyperparams.yaml") as handle:
        hparams = load_hyperpyyaml(handle)
    model = hparams["model"]
    before = {k: v.clone() for k, v in model.decoder.state_dict().items()}
    report = model.load_pretrained_a2a(work["root"] / "a2a" / "a2a_model.ckpt")
    after = model.decoder.state_dict()
    assert report.loaded and not report.mismatched
    changed = [k for k in after if not torch.equal(before[k], after[k])]
    assert changed
