"""The saved best model survives a resume: the best validation score is
part of the checkpointed Brain state."""

import functools

import speechbrain as sb
import torch
import yaml
from speechbrain.utils.epoch_loop import EpochCounter

from speechbrain_v2s.training.checkpoints import SafeCheckpointer
from speechbrain_v2s.training.recipe import build_brain
from speechbrain_v2s.training.strategies import TrainingModel


class _Model(torch.nn.Module):
    """The one method of V2SModel the best-model file needs, around a tiny
    decoder."""

    def __init__(self):
        super().__init__()
        self.decoder = torch.nn.Linear(2, 2)

    def save_pretrained(self, path):
        torch.save({"state_dict": self.state_dict()}, path)


def _brain(folder):
    """A fresh Brain on ``folder``'s checkpoints, as a restarted run has."""
    # As a recipe YAML declares them: modules and the checkpointer's recoverables.
    training_model, counter = TrainingModel(_Model()), EpochCounter(10)
    hparams = {
        "modules": {"model": training_model},
        "opt_class": functools.partial(torch.optim.SGD, lr=0.1),
        "epoch_counter": counter,
        "checkpointer": SafeCheckpointer(
            folder / "save", {"model": training_model, "counter": counter}
        ),
        "pretrained_decoder_path": folder / "a2a_model.ckpt",
        "checkpoints_to_keep": 1,
        "decoder_lr_scale": 1.0,
        "sch_class": None,
        "train_logger": None,
    }
    brain = build_brain(hparams, {"device": "cpu"})
    brain.on_fit_start()  # SpeechBrain's: optimizers, then recover_if_possible
    return brain


def _validate(brain, mel_l1, epoch, weight):
    with torch.no_grad():
        brain.raw_model.decoder.weight.fill_(weight)  # tells the exports apart
    brain.on_stage_start(sb.Stage.VALID, epoch)
    brain._loss_sums = {"mel_l1": (mel_l1, 1)}
    brain.on_stage_end(sb.Stage.VALID, mel_l1, epoch)


def _exported_weight(folder):
    state = torch.load(folder / "a2a_model.ckpt")["state_dict"]
    return float(state["decoder.weight"][0, 0])


def test_resume_keeps_the_best_export(tmp_path):
    brain = _brain(tmp_path)
    _validate(brain, 2.0, 1, weight=1.0)
    _validate(brain, 3.0, 2, weight=2.0)  # worse: not exported
    assert _exported_weight(tmp_path) == 1.0

    resumed = _brain(tmp_path)  # recovers epoch 2's checkpoint
    assert resumed.best_mel_l1 == 2.0
    _validate(resumed, 2.5, 3, weight=3.0)  # worse than epoch 1: kept
    assert _exported_weight(tmp_path) == 1.0
    _validate(resumed, 1.5, 4, weight=4.0)  # better: exported
    assert _exported_weight(tmp_path) == 4.0

    again = _brain(tmp_path)
    assert again.best_mel_l1 == 1.5


def test_checkpoint_without_the_score_falls_back_to_the_meta(tmp_path):
    brain = _brain(tmp_path)
    _validate(brain, 2.0, 1, weight=1.0)
    _validate(brain, 3.0, 2, weight=2.0)
    # As written before the score was saved: SpeechBrain's keys only.
    for ckpt in brain.checkpointer.list_checkpoints():
        path = ckpt.paramfiles["brain"]
        state = yaml.safe_load(path.read_text())
        del state["best_mel_l1"]
        path.write_text(yaml.dump(state))
    resumed = _brain(tmp_path)
    assert resumed.best_mel_l1 == 2.0
    _validate(resumed, 2.5, 3, weight=3.0)
    assert _exported_weight(tmp_path) == 1.0
