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
    "pretrained_a2a": "/models/a2a_model.ckpt",
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
    # The Brain's modules and what the checkpointer saves are the YAML's:
    # each module and the epoch counter, the same objects.
    modules, recoverables = hparams["modules"], hparams["checkpointer"].recoverables
    for name, module in modules.items():
        assert recoverables[name] is module, name
    assert recoverables["counter"] is hparams["epoch_counter"]
    if "/ASR/" not in path:  # V2SBrain's: the model in its training wrapper
        assert list(modules) == (["model", "discriminator"] if is_gan else ["model"])
        assert type(modules["model"]).__name__ == "TrainingModel"
        assert modules["model"].model is hparams["model"]
    if "/V2A/" in path:
        assert hparams["model"].default_modality == "video"
        assert hparams["finetune_strategy"] in (
            "scratch",
            "init",
            "freeze_decoder",
            "joint",
        )


@pytest.mark.parametrize("final_scale", [1.0, 0.1])
@pytest.mark.parametrize(
    "family, schedulers",
    [
        ("tiny_mel", {"sch_class": "lr"}),
        (
            "tiny_wave",
            {"sch_class": "lr", "sch_class_discriminator": "lr_discriminator"},
        ),
    ],
)
def test_synthetic_v2a_lr_schedule(tmp_path, family, schedulers, final_scale):
    # The per-epoch schedules the Brain steps: lr_final_scale 1.0 keeps each lr
    # constant, 0.1 brings it to a tenth by the last epoch (end to end, the
    # decay is checked in test_train_v2a.py).
    import torch

    path = os.path.join(RECIPES, "Synthetic", "V2A", "hparams", f"{family}.yaml")
    overrides = {
        "data_folder": "/data/x",
        "output_folder": str(tmp_path),
        "number_of_epochs": 3,
        "lr_final_scale": final_scale,
    }
    with open(path, encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    for sch_key, lr_key in schedulers.items():
        start = hparams[lr_key]
        param = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.SGD([param], lr=start)
        scheduler = hparams[sch_key](optimizer)
        lrs = []
        for _ in range(3):
            scheduler.step()  # once per epoch, as at each epoch's end
            lrs.append(optimizer.param_groups[0]["lr"])
        assert lrs[-1] == pytest.approx(start * final_scale), sch_key
        assert (lrs == [start] * 3) == (final_scale == 1.0), sch_key
