"""``v2s-export`` of each kind, loaded back the ways users load it.

The run folders are what a recipe leaves behind (its resolved
``hyperparams.yaml``, a best checkpoint written by the recipe's checkpointer,
the best-model file of ``pretrained_decoder_path``), with perturbed initial
weights instead of training, so that the tests take seconds.
"""

import json
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

from speechbrain_v2s.export import best_checkpoint, export_model, vocoder_state
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


def _fake_run(folder, recipe, yaml, seed, output_folder=None, header=None, **overrides):
    """A recipe output folder with one checkpoint (mel_l1 0.5) of ``model``,
    and what a V2A run writes beside it (ROI statistics, speaker table rows,
    manifests). Relative paths of its YAML are taken from the current folder,
    as in a recipe run: ``folder`` is where ``output_folder`` then is."""
    from speechbrain_v2s.training.checkpoints import SafeCheckpointer
    from speechbrain_v2s.training.strategies import TrainingModel

    overrides = {"output_folder": output_folder or str(folder), **overrides}
    source = os.path.join(RECIPES, recipe, "hparams", yaml)
    with open(source) as handle:
        text = resolve_references(handle, overrides).getvalue()
    folder.mkdir(parents=True)
    # What SpeechBrain writes: a header naming the recipe YAML, then the YAML.
    (folder / "hyperparams.yaml").write_text(
        f"# Generated 2026-12-01 from:\n# {header or source}\n# yamllint disable\n"
        + text
    )
    hparams = load_hyperpyyaml(text)
    model = hparams["model"]
    _perturb(model, seed)
    model.eval()
    checkpointer = SafeCheckpointer(hparams["save_folder"])
    checkpointer.add_recoverable("model", TrainingModel(model))
    checkpointer.save_checkpoint(meta={"mel_l1": 0.5})
    if hparams.get("pretrained_decoder_path"):
        model.save_pretrained(hparams["pretrained_decoder_path"])
    save = hparams["save_folder"]
    if "roi_mean" in hparams:
        with open(os.path.join(save, "roi_stats.json"), "w") as handle:
            json.dump({"mean": 0.25 + seed / 100, "std": 0.125}, handle)
        with open(os.path.join(save, "speakers.json"), "w") as handle:
            json.dump({f"s{i}": i for i in range(hparams["num_speakers"])}, handle)
        for split, count in (("train", 3), ("test", 2)):
            with open(hparams[f"{split}_json"], "w") as handle:
                json.dump({f"u{i}": {"spk_id": "s1"} for i in range(count)}, handle)
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
        "speakers.json",  # its speaker table's rows
        "vocoder.safetensors",
    ]
    assert sorted(summaries["a2a"]["files"]) == [
        "README.md",
        "a2a_model.safetensors",
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

        assert resolve_checkpoint(folder).endswith("a2a_model.safetensors")
        v2a = _v2a_wave_model()
        _, report = apply_finetune_strategy(v2a, "init", pretrained_a2a=str(folder))
    assert report.loaded and not report.skipped and not report.mismatched
    for name, value in v2a.decoder.state_dict().items():
        if not name.endswith("_video"):  # video BN statistics: seeded copies
            assert torch.equal(value, trained.decoder.state_dict()[name]), name

    # The training run's own a2a_model.ckpt still works, and gives the same.
    run_folder = runs["a2a_wave"][0]
    assert resolve_checkpoint(run_folder).endswith("a2a_model.ckpt")
    from_run = _v2a_wave_model()
    from_run.load_pretrained_a2a(resolve_checkpoint(run_folder))
    for name, value in from_run.state_dict().items():
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
    run_repo = tmp_path / "run_repo"  # a repository holding a run's own file
    run_repo.mkdir()
    shutil.copy(runs["a2a_wave"][0] / "a2a_model.ckpt", run_repo)
    _hub(
        monkeypatch,
        {"user/v2s": str(exports[0]["v2a_mel"]), "user/a2a-run": str(run_repo)},
    )
    v2s = VideoToSpeech.from_hparams(source="user/v2s", savedir=str(tmp_path / "sd"))
    assert v2s.mods.vocoder is not None
    assert resolve_checkpoint("user/v2s", "model.safetensors").endswith(
        "model.safetensors"
    )
    assert resolve_checkpoint("user/a2a-run").endswith("a2a_model.ckpt")
    with pytest.raises(FileNotFoundError, match="a2a_model.safetensors or"):
        resolve_checkpoint("user/v2s")


def _copy_export(exports, name, tmp_path):
    folder = tmp_path / name
    shutil.copytree(exports[0][name], folder)
    return folder


def test_damaged_weights_name_the_file(exports, tmp_path):
    folder = _copy_export(exports, "a2a", tmp_path)
    for name in ("model.safetensors", "a2a_model.safetensors"):
        path = folder / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    # The message names the file the user has (behind the savedir's link).
    damaged = re.escape(str(folder / "model.safetensors")) + r"\): not a valid"
    with pytest.raises(ValueError, match=damaged):
        AudioToAudio.from_hparams(source=str(folder), savedir=str(tmp_path / "sd"))
    damaged = re.escape(str(folder / "a2a_model.safetensors")) + ": not a valid"
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


def test_export_removes_pickled_weights_from_its_folder(runs, tmp_path):
    from speechbrain_v2s.export import PICKLED_WEIGHT_FILES

    folder = tmp_path / "old_export"
    folder.mkdir()
    for name in PICKLED_WEIGHT_FILES:  # e.g. a run's best-model file copied in
        torch.save({}, folder / name)
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


# ------------------------------------------- runs made inside a recipe folder
@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    """A V2A run as ``cd recipes/Synthetic/V2A; python train.py ...`` leaves
    it in a repository: its YAML's paths relative to the recipe folder, its
    A2A initialisation an absolute path of this machine. ``(repo, run)``."""
    repo = tmp_path_factory.mktemp("repo")
    recipe = repo / "recipes" / "Synthetic" / "V2A"
    recipe.mkdir(parents=True)
    a2a = repo / "recipes" / "Synthetic" / "A2A" / "results" / "a2a" / "a2a_model.ckpt"
    before = os.getcwd()
    os.chdir(recipe)  # where train.py runs
    try:
        _fake_run(
            recipe / "results" / "run" / "1",
            "Synthetic/V2A",
            "tiny_mel.yaml",
            4,
            output_folder="results/run/1",
            header=recipe / "hparams" / "tiny_mel.yaml",
            pretrained_a2a=str(a2a),
        )
    finally:
        os.chdir(before)
    return repo, recipe / "results" / "run" / "1"


def _files(folder):
    return {
        os.path.relpath(os.path.join(root, name), folder): open(
            os.path.join(root, name), "rb"
        ).read()
        for root, _, names in os.walk(folder)
        for name in names
    }


def test_export_is_the_same_from_any_folder(recipe_run, tmp_path, monkeypatch):
    """The README's ``v2s-export recipes/.../results/<run> models/x`` from the
    repository root and the same run exported from another folder give the
    same files: the run's relative paths are where the run was made."""
    from speechbrain_v2s.cli import export_main

    repo, run = recipe_run
    monkeypatch.chdir(repo)
    assert export_main([os.path.relpath(run, repo), "models/x"]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert export_main([os.path.relpath(run, elsewhere), "models/x"]) == 0
    first, second = _files(repo / "models" / "x"), _files(elsewhere / "models" / "x")
    assert sorted(first) == sorted(second)
    assert "speakers.json" in first and "model.safetensors" in first
    for name, data in first.items():
        assert data == second[name], name

    card = first["README.md"].decode()
    assert "3 training utterances" in card and "test split (2 utterances)" in card
    assert "Recipe: `recipes/Synthetic/V2A/hparams/tiny_mel.yaml`" in card
    # No folder of the exporting machine: the A2A source from the repository.
    assert str(repo) not in card and str(tmp_path) not in card
    assert "`recipes/Synthetic/A2A/results/a2a/a2a_model.ckpt`" in card
    interface = first["hyperparams.yaml"].decode()
    assert "roi_mean: 0.29\n" in interface and "roi_std: 0.125\n" in interface


def test_checkpoint_export_uses_its_runs_statistics(recipe_run, tmp_path, monkeypatch):
    """``--checkpoint`` from another folder: the ROI statistics and speaker
    rows are the run's (they were null / missing before)."""
    from speechbrain_v2s.cli import export_main

    repo, run = recipe_run
    ckpt = best_checkpoint(run / "save")
    monkeypatch.chdir(tmp_path)
    assert export_main([str(run), "m", "--checkpoint", os.path.relpath(ckpt)]) == 0
    with open(tmp_path / "m" / "hyperparams.yaml") as handle:
        hparams = load_hyperpyyaml(handle)
    assert (hparams["roi_mean"], hparams["roi_std"]) == (0.29, 0.125)
    with open(run / "save" / "speakers.json") as handle:
        assert json.load(open(tmp_path / "m" / "speakers.json")) == json.load(handle)


@pytest.mark.parametrize(
    "missing, message",
    [
        ("roi_stats.json", "no ROI statistics: roi_mean/roi_std are null"),
        ("speakers.json", "the model has a speaker table but there is no speakers"),
    ],
)
def test_incomplete_export_is_refused(recipe_run, tmp_path, capsys, missing, message):
    """Without what the model needs, one line, exit 2 and nothing written
    (the model would fail at synthesis, or silently lose its speakers)."""
    from speechbrain_v2s.cli import export_main

    copy = tmp_path / "copy"  # a run that moved: found under its new folder
    shutil.copytree(recipe_run[1], copy)
    os.remove(copy / "save" / missing)
    out = tmp_path / "out"
    ckpt = str(best_checkpoint(copy / "save"))
    assert export_main([str(copy), str(out), "--checkpoint", ckpt]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: " + message), err
    assert str(copy / "save") in err
    assert not out.exists()


def test_exported_files_are_readable_by_others(runs, tmp_path):
    """safetensors writes 0600: another user could not load the model."""
    old = os.umask(0o022)
    try:
        export_model(runs["v2a_mel"][0], tmp_path / "v2a")
        export_model(runs["a2a_wave"][0], tmp_path / "a2a", "a2a")
    finally:
        os.umask(old)
    modes = {
        os.path.join(kind, name): os.stat(tmp_path / kind / name).st_mode & 0o777
        for kind in ("v2a", "a2a")
        for name in os.listdir(tmp_path / kind)
    }
    assert "a2a/a2a_model.safetensors" in modes and "v2a/model.safetensors" in modes
    assert modes == dict.fromkeys(modes, 0o644)


def _title(card):
    return next(line for line in card.splitlines() if line.startswith("# "))


def test_card_says_how_the_waveform_is_made_and_what_input(runs, exports, tmp_path):
    export_model(runs["v2a_mel"][0], tmp_path / "griffin")
    card = (tmp_path / "griffin" / "README.md").read_text()
    assert _title(card).endswith("(mel spectrogram + Griffin-Lim)")
    assert "vocoder" not in _title(card) and "by Griffin-Lim" in card
    # trained on already-cropped mouth videos: the usage says so
    assert 'synthesize_file("mouth.mp4", already_cropped=True)' in card
    assert "v2s-synthesize mouth.mp4 --already-cropped" in card
    # foreign_class needs more than SpeechBrain: the weights' reader, OpenCV
    assert "pip install safetensors" in card and "opencv-python-headless" in card

    shipped = (exports[0]["v2a_mel"] / "README.md").read_text()
    assert _title(shipped).endswith("(mel spectrogram + HiFi-GAN vocoder)")
    assert "Griffin-Lim" not in shipped


def test_export_space_writes_a_space_of_the_export(runs, tmp_path, capsys):
    """``v2s-export --space``: the Space's model is the folder just exported."""
    from speechbrain_v2s.cli import export_main
    from speechbrain_v2s.hub import is_space

    out, space = tmp_path / "model", tmp_path / "space"
    assert export_main([str(runs["v2a_mel"][0]), str(out), "--space", str(space)]) == 0
    assert is_space(space)
    for name in os.listdir(out):
        assert (space / "model" / name).read_bytes() == (out / name).read_bytes()
    assert "v2s-upload" in capsys.readouterr().out
    # an A2A model has no video to serve: refused before exporting anything
    a2a = [str(runs["a2a_wave"][0]), str(tmp_path / "a2a"), "--kind", "a2a"]
    assert export_main(a2a + ["--space", str(tmp_path / "s2")]) == 2
    assert not (tmp_path / "a2a").exists()
    assert "--space serves video-to-speech models" in capsys.readouterr().err
