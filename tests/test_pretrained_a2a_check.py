"""A V2A run that needs an A2A checkpoint it cannot find stops at once, in one
line naming the path and the fix, before any data is prepared; and the
synthetic V2A recipe's default ``pretrained_a2a`` is where the synthetic A2A
recipe writes its decoder. No training runs here."""

import os
import re
import subprocess
import sys

import pytest
from hyperpyyaml import resolve_references
from recipe_runs import RECIPES, recipe_command

from speechbrain_v2s.training.recipe import _speechbrain_logging_kept, run_v2a
from speechbrain_v2s.training.strategies import check_pretrained_a2a

FIX = "--finetune_strategy scratch"


def test_missing_relative_path_names_where_it_looked_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = "../A2A/results/synthetic_a2a_tiny_mel/1234/a2a_model.ckpt"
    with pytest.raises(FileNotFoundError) as err:
        check_pretrained_a2a("init", source)
    message = str(err.value)
    assert "\n" not in message
    assert repr(source) in message
    assert os.path.abspath(source) in message
    assert "A2A recipe first" in message and FIX in message


@pytest.mark.parametrize("strategy", ["init", "freeze_decoder", "joint"])
def test_every_strategy_but_scratch_needs_a_checkpoint(strategy):
    with pytest.raises(ValueError, match=f"needs pretrained_a2a: .*{FIX}"):
        check_pretrained_a2a(strategy, None)
    check_pretrained_a2a("scratch", None)
    check_pretrained_a2a("scratch", "/no/such/a2a_model.ckpt")


def test_folder_without_checkpoint_is_refused_with_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"folder has no .*{FIX}"):
        check_pretrained_a2a("init", str(tmp_path))
    (tmp_path / "a2a_model.ckpt").write_bytes(b"")
    check_pretrained_a2a("init", str(tmp_path))  # a file is there: accepted
    check_pretrained_a2a("init", str(tmp_path / "a2a_model.ckpt"))


def test_hub_id_is_left_to_the_load(monkeypatch):
    # Checking a Hub id would mean fetching it (twice, with the load): the
    # check must not try, even offline.
    import speechbrain.utils.fetching as fetching

    def no_fetch(*args, **kwargs):
        raise AssertionError("the early check fetched from the Hub")

    monkeypatch.setattr(fetching, "fetch", no_fetch)
    check_pretrained_a2a("init", "someone/a2a-wave")


V2A_YAML = """
seed: null
skip_prep: False
output_folder: {d}/run
save_folder: {d}/run
train_json: {d}/train.json
finetune_strategy: init
pretrained_a2a: {source}
"""


def test_run_v2a_exits_before_preparing_anything(tmp_path):
    path = tmp_path / "hparams.yaml"
    source = tmp_path / "a2a" / "a2a_model.ckpt"
    path.write_text(V2A_YAML.format(d=tmp_path, source=source))
    prepared = []
    with _speechbrain_logging_kept(), pytest.raises(SystemExit) as err:
        run_v2a(lambda **kw: prepared.append(kw), lambda hparams: {}, [str(path)])
    message = str(err.value.code)
    assert message.startswith(f"{path}: pretrained_a2a {str(source)!r}: no such")
    assert FIX in message and "\n" not in message
    assert prepared == []


def _resolved(recipe, config, key):
    path = os.path.join(RECIPES, recipe, "hparams", config)
    with open(path, encoding="utf-8") as handle:
        text = resolve_references(handle).getvalue()
    (value,) = re.findall(rf"^{key}: (.*)$", text, re.M)
    return os.path.normpath(os.path.join(RECIPES, recipe, value))


@pytest.mark.parametrize("config", ["tiny_wave.yaml", "tiny_mel.yaml"])
def test_synthetic_v2a_default_is_where_synthetic_a2a_writes(config):
    # Both recipes run from their own folder (README.md of each).
    written = _resolved("Synthetic/A2A", config, "pretrained_decoder_path")
    read = _resolved("Synthetic/V2A", config, "pretrained_a2a")
    assert read == written


@pytest.mark.slow  # a fresh interpreter importing torch and SpeechBrain
def test_recipe_as_a_user_runs_it_stops_in_one_line(tmp_path):
    # The documented order followed without the A2A step: the recipe must stop
    # before generating its corpus (seconds, not minutes), without a traceback.
    corpus = tmp_path / "av"
    cmd = recipe_command(
        "Synthetic/V2A",
        "hparams/tiny_mel.yaml",
        "--output_folder",
        tmp_path / "run",
        "--data_folder",
        corpus,
        "--roi_folder",
        tmp_path / "rois",
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(os.path.join(RECIPES, "Synthetic", "V2A", "hparams"))
    assert "../A2A/results/synthetic_a2a_tiny_mel/1234/a2a_model.ckpt" in lines[-1]
    assert FIX in lines[-1]
    assert not corpus.exists()
