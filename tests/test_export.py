"""``v2s-export`` of each kind, loaded back the ways users load it.

The run folders are what a recipe leaves behind (its resolved
``hyperparams.yaml``, a best checkpoint written by the recipe's checkpointer,
the best-model file of ``pretrained_decoder_path``), with perturbed initial
weights instead of training, so that the tests take seconds.
"""

import os
import re
import shutil
import site
import subprocess
import sys

import huggingface_hub
import pytest
import torch
from hyperpyyaml import load_hyperpyyaml, resolve_references
from recipe_runs import RECIPES, subprocess_env

from speechbrain_v2s.export import export_model, vocoder_state
from speechbrain_v2s.hub import resolve_checkpoint
from speechbrain_v2s.inference import AudioToAudio, VideoToSpeech

#: Magic bytes of pickled weights: torch.save's zip container, a raw pickle.
PICKLE_MAGIC = (b"PK\x03\x04", b"\x80")


def _perturb(module, seed):
    """Move every floating tensor off its initial value (BN variances stay > 0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for value in module.state_dict().values():
            if value.is_floating_point():
                scale = 1 + 0.1 * torch.rand(value.shape, generator=gen)
                value.copy_(
                    value * scale + 0.01 * torch.rand(value.shape, generator=gen)
                )


def _fake_run(folder, recipe, yaml, seed, **overrides):
    """A recipe output folder with one checkpoint (mel_l1 0.5) of ``model``."""
    from speechbrain_v2s.training.checkpoints import SafeCheckpointer
    from speechbrain_v2s.training.strategies import TrainingModel

    overrides = {"output_folder": str(folder), **overrides}
    with open(os.path.join(RECIPES, recipe, "hparams", yaml)) as handle:
        text = resolve_references(handle, overrides).getvalue()
    folder.mkdir(parents=True)
    (folder / "hyperparams.yaml").write_text(text)  # what SpeechBrain writes
    hparams = load_hyperpyyaml(text)
    model = hparams["model"]
    _perturb(model, seed)
    model.eval()
    checkpointer = SafeCheckpointer(hparams["save_folder"])
    checkpointer.add_recoverable("model", TrainingModel(model))
    checkpointer.save_checkpoint(meta={"mel_l1": 0.5})
    if hparams.get("pretrained_decoder_path"):
        model.save_pretrained_decoder(hparams["pretrained_decoder_path"])
    return model


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {
        "v2a_mel": (
            root / "v2a_mel",
            _fake_run(
                root / "v2a_mel",
                "Synthetic/V2A",
                "tiny_mel.yaml",
                1,
                finetune_strategy="scratch",
            ),
        ),
        "a2a_wave": (
            root / "a2a_wave",
            _fake_run(root / "a2a_wave", "Synthetic/A2A", "tiny_wave.yaml", 2),
        ),
        "vocoder": (
            root / "vocoder",
            _fake_run(
                root / "vocoder",
                "AudioOnly/Vocoder",
                "tiny_hifigan.yaml",
                3,
                data_folders=["/unused"],
            ),
        ),
    }


@pytest.fixture(scope="module")
def exports(runs, tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    folders = {name: root / name for name in ("vocoder", "a2a", "v2a_mel")}
    summaries = {
        "vocoder": export_model(runs["vocoder"][0], folders["vocoder"], "vocoder"),
        "a2a": export_model(runs["a2a_wave"][0], folders["a2a"], "a2a"),
        # The vocoder comes from its export: what users pass after v2s-export.
        "v2a_mel": export_model(
            runs["v2a_mel"][0], folders["v2a_mel"], "v2a", vocoder=folders["vocoder"]
        ),
    }
    return folders, summaries


def _no_torch_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load called while loading an export")

    monkeypatch.setattr(torch, "load", refuse)


def _pickled(folder):
    found = []
    for root, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(root, name), "rb") as handle:
                head = handle.read(4)
            if name.endswith((".ckpt", ".pt", ".pth", ".bin", ".pkl")) or any(
                head.startswith(magic) for magic in PICKLE_MAGIC
            ):
                found.append(name)
    return found


def test_exports_hold_safetensors_and_no_pickles(exports):
    folders, summaries = exports
    assert sorted(summaries["v2a_mel"]["files"]) == [
        "README.md",
        "custom_interface.py",
        "hyperparams.yaml",
        "model.safetensors",
        "vocoder.safetensors",
    ]
    assert sorted(summaries["a2a"]["files"]) == [
        "README.md",
        "a2a_decoder.safetensors",
        "custom_interface.py",
        "hyperparams.yaml",
        "model.safetensors",
    ]
    assert sorted(summaries["vocoder"]["files"]) == [
        "README.md",
        "hyperparams.yaml",
        "vocoder.safetensors",
    ]
    for name, folder in folders.items():
        assert sorted(os.listdir(folder)) == sorted(summaries[name]["files"])
        assert _pickled(folder) == [], name


def test_v2a_from_hparams_matches_the_run(runs, exports, tmp_path, monkeypatch):
    _, trained = runs["v2a_mel"]
    _, vocoder_run = runs["vocoder"]
    folder = exports[0]["v2a_mel"]
    _no_torch_load(monkeypatch)
    v2s = VideoToSpeech.from_hparams(source=str(folder), savedir=str(tmp_path / "sd"))
    collected = sorted(os.listdir(tmp_path / "sd"))
    assert "model.safetensors" in collected and "vocoder.safetensors" in collected
    assert not [name for name in collected if name.endswith(".ckpt")]

    roi = torch.randn(1, 12, 1, 88, 88, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), trained.modality("video"):
        reference, _ = trained(roi, torch.ones(1))
        mel, _ = v2s.mods.model(roi, torch.ones(1))
    diff = (mel - reference).abs().max().item()
    assert diff < 1e-5, diff  # same weights, same code: measured 0.0
    with torch.no_grad():
        wave = v2s.mods.vocoder(mel.transpose(1, 2))
        wave_ref = vocoder_run.decoder(reference.transpose(1, 2))
    assert (wave - wave_ref).abs().max().item() < 1e-5


def test_a2a_export_loads_both_ways(runs, exports, tmp_path, monkeypatch):
    """AudioToAudio.from_hparams, and the decoder file V2A recipes start from
    (``pretrained_a2a``: folder, or the file itself)."""
    from speechbrain_v2s.training.strategies import apply_finetune_strategy

    _, trained = runs["a2a_wave"]
    folder = exports[0]["a2a"]
    wav = torch.randn(1, 9600, generator=torch.Generator().manual_seed(1))
    with monkeypatch.context() as patch:
        _no_torch_load(patch)
        a2a = AudioToAudio.from_hparams(source=str(folder), savedir=str(tmp_path))
        out, _ = a2a.resynthesize_batch(wav)
        with torch.no_grad():
            reference, _ = trained(wav, torch.ones(1))
        assert (out - reference).abs().max().item() < 1e-5

        assert resolve_checkpoint(folder).endswith("a2a_decoder.safetensors")
        v2a = _v2a_wave_model()
        _, report = apply_finetune_strategy(v2a, "init", pretrained_a2a=str(folder))
    assert report.loaded and not report.skipped and not report.mismatched
    for name, value in v2a.decoder.state_dict().items():
        if not name.endswith("_video"):  # video BN statistics: seeded copies
            assert torch.equal(value, trained.decoder.state_dict()[name]), name

    # The training run's own a2a_decoder.ckpt still works, and gives the same.
    run_folder = runs["a2a_wave"][0]
    assert resolve_checkpoint(run_folder).endswith("a2a_decoder.ckpt")
    legacy = _v2a_wave_model()
    legacy.load_pretrained_a2a(resolve_checkpoint(run_folder))
    for name, value in legacy.state_dict().items():
        assert torch.equal(value, v2a.state_dict()[name]), name


def _v2a_wave_model():
    path = os.path.join(RECIPES, "Synthetic", "V2A", "hparams", "tiny_wave.yaml")
    with open(path) as handle:
        text = resolve_references(handle, {"finetune_strategy": "scratch"}).getvalue()
    return load_hyperpyyaml(text)["model"]


def test_exported_decoder_refuses_the_other_family(exports):
    from speechbrain_v2s.training.strategies import apply_finetune_strategy

    path = os.path.join(RECIPES, "Synthetic", "V2A", "hparams", "tiny_mel.yaml")
    with open(path) as handle:
        text = resolve_references(handle, {"finetune_strategy": "scratch"}).getvalue()
    mel_model = load_hyperpyyaml(text)["model"]
    with pytest.raises(ValueError, match="wave model"):
        apply_finetune_strategy(
            mel_model, "init", pretrained_a2a=str(exports[0]["a2a"])
        )


def test_vocoder_export_loads(runs, exports, tmp_path, monkeypatch):
    from speechbrain.inference.interfaces import Pretrained

    run_folder, trained = runs["vocoder"]
    folder = exports[0]["vocoder"]
    _no_torch_load(monkeypatch)
    loaded = Pretrained.from_hparams(source=str(folder), savedir=str(tmp_path))
    for name, value in loaded.mods.vocoder.state_dict().items():
        assert torch.equal(value, trained.decoder.state_dict()[name]), name
    # The same weights whichever vocoder source export is given.
    exported = vocoder_state(folder)
    monkeypatch.undo()
    for source in (run_folder, run_folder / "vocoder.ckpt"):
        state = vocoder_state(source)
        assert state.keys() == exported.keys()
        assert all(torch.equal(state[k], exported[k]) for k in state)


def _hub(monkeypatch, repos):
    """``huggingface_hub.hf_hub_download`` answering from local folders."""

    def download(repo_id, filename, **kwargs):
        path = os.path.join(repos.get(repo_id, "/nonexistent"), filename)
        if not os.path.isfile(path):
            raise huggingface_hub.errors.EntryNotFoundError(f"{repo_id}/{filename}")
        return path

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)


def test_hub_ids_fetch_the_safetensors(runs, exports, tmp_path, monkeypatch):
    """The Hub code path (SpeechBrain's fetch) asks for the same file names."""
    legacy = tmp_path / "legacy_repo"
    legacy.mkdir()
    shutil.copy(runs["a2a_wave"][0] / "a2a_decoder.ckpt", legacy)
    _hub(
        monkeypatch,
        {"user/v2s": str(exports[0]["v2a_mel"]), "user/old-a2a": str(legacy)},
    )
    v2s = VideoToSpeech.from_hparams(source="user/v2s", savedir=str(tmp_path / "sd"))
    assert v2s.mods.vocoder is not None
    assert resolve_checkpoint("user/v2s", "model.safetensors").endswith(
        "model.safetensors"
    )
    assert resolve_checkpoint("user/old-a2a").endswith("a2a_decoder.ckpt")
    with pytest.raises(FileNotFoundError, match="a2a_decoder.safetensors or"):
        resolve_checkpoint("user/v2s")


def _copy_export(exports, name, tmp_path):
    folder = tmp_path / name
    shutil.copytree(exports[0][name], folder)
    return folder


def test_damaged_weights_name_the_file(exports, tmp_path):
    folder = _copy_export(exports, "a2a", tmp_path)
    for name in ("model.safetensors", "a2a_decoder.safetensors"):
        path = folder / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    # The message names the file the user has (behind the savedir's link).
    damaged = re.escape(str(folder / "model.safetensors")) + r"\): not a valid"
    with pytest.raises(ValueError, match=damaged):
        AudioToAudio.from_hparams(source=str(folder), savedir=str(tmp_path / "sd"))
    damaged = re.escape(str(folder / "a2a_decoder.safetensors")) + ": not a valid"
    with pytest.raises(ValueError, match=damaged):
        _v2a_wave_model().load_pretrained_a2a(resolve_checkpoint(folder))

    # A pickle renamed to .safetensors is refused, never unpickled.
    folder = _copy_export(exports, "vocoder", tmp_path)
    torch.save({"weight": torch.zeros(1)}, folder / "vocoder.safetensors")
    damaged = re.escape(str(folder / "vocoder.safetensors")) + ": not a valid"
    with pytest.raises(ValueError, match=damaged):
        vocoder_state(folder)


def test_weights_of_another_model_are_refused_by_name(exports, tmp_path):
    folder = _copy_export(exports, "v2a_mel", tmp_path)
    shutil.copy(exports[0]["a2a"] / "model.safetensors", folder / "model.safetensors")
    with pytest.raises(ValueError, match=r"model\.safetensors .*does not fit V2SModel"):
        VideoToSpeech.from_hparams(source=str(folder), savedir=str(tmp_path / "sd"))


def test_reexport_removes_pickles_of_older_exports(runs, tmp_path):
    folder = tmp_path / "old_export"
    folder.mkdir()
    torch.save({}, folder / "model.ckpt")
    export_model(runs["vocoder"][0], folder, "vocoder")
    assert _pickled(folder) == []


WITHOUT_PACKAGE = """
import importlib.util, sys, torch
assert importlib.util.find_spec("speechbrain_v2s") is None, "package visible"
from speechbrain.inference.interfaces import foreign_class
m = foreign_class(source=sys.argv[1], savedir=sys.argv[2],
                  pymodule_file="custom_interface.py", classname="VideoToSpeech")
roi = torch.randn(1, 12, 1, 88, 88, generator=torch.Generator().manual_seed(0))
with torch.no_grad(), m.mods.model.modality("video"):
    mel, _ = m.mods.model(roi, torch.ones(1))
torch.save({"mel": mel, "wave": m.synthesize_batch(roi)[0]}, sys.argv[3])
"""


@pytest.mark.slow
def test_foreign_class_without_the_package(runs, exports, tmp_path):
    """custom_interface.py carries the safetensors loader: SpeechBrain alone
    (no site .pth hooks, so no editable install) loads model and vocoder."""
    _, trained = runs["v2a_mel"]
    _, vocoder_run = runs["vocoder"]
    env = subprocess_env({"PYTHONPATH": os.pathsep.join(site.getsitepackages())})
    out = tmp_path / "out.pt"
    args = [exports[0]["v2a_mel"], tmp_path / "sd", out]
    result = subprocess.run(
        [sys.executable, "-S", "-c", WITHOUT_PACKAGE, *map(str, args)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    got = torch.load(out, weights_only=True)
    roi = torch.randn(1, 12, 1, 88, 88, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), trained.modality("video"):
        mel, _ = trained(roi, torch.ones(1))
        wave = vocoder_run.decoder(mel.transpose(1, 2)).squeeze(1)
    assert (got["mel"] - mel).abs().max().item() < 1e-5
    assert (got["wave"] - wave).abs().max().item() < 1e-5
