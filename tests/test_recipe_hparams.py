"""Every recipe YAML loads, with its placeholders filled, into the parts the
shared training code expects."""

import glob
import os

import pytest
from hyperpyyaml import load_hyperpyyaml
from recipe_runs import RECIPES

YAMLS = sorted(glob.glob(os.path.join(RECIPES, "*", "*", "hparams", "*.yaml")))
OVERRIDES = {
    "data_folder": "/data/x",
    "data_folders": ["/data/x"],
    "pretrained_a2a": "/models/a2a_decoder.ckpt",
}


def _id(path):
    return os.path.relpath(path, RECIPES)


def _marks(path):
    tiny = os.path.basename(path).startswith("tiny")
    return [] if tiny else [pytest.mark.slow]  # paper-scale models take seconds


@pytest.mark.parametrize(
    "path", [pytest.param(p, id=_id(p), marks=_marks(p)) for p in YAMLS]
)
def test_recipe_yaml_loads(path, tmp_path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    overrides = {k: v for k, v in OVERRIDES.items() if f"{k}:" in text}
    overrides["output_folder"] = str(tmp_path)
    with open(path, encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    for key in ("model", "opt_class", "epoch_counter", "checkpointer", "train_json"):
        assert key in hparams, key
    assert type(hparams["checkpointer"]).__name__ == "SafeCheckpointer"
    is_gan = "discriminator" in hparams
    assert is_gan == ("generator_loss" in hparams) == ("discriminator_loss" in hparams)
    if "/V2A/" in path:
        assert hparams["model"].default_modality == "video"
        assert hparams["finetune_strategy"] in (
            "scratch",
            "init",
            "freeze_decoder",
            "joint",
        )
