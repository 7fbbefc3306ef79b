"""Batch-norm recalibration before validation (``bn_recalibration_batches``).

The eval-mode model must be the trained one: its running statistics are
re-estimated with the current weights, over training batches, without
touching the weights, the training random stream or sets no batch reaches.
"""

import torch

from speechbrain_v2s.nnet.normalization import CrossModalBatchNorm
from speechbrain_v2s.training.brain import V2SBrain


class _Brain(V2SBrain):
    """A V2SBrain whose forward is the bare model on a tensor batch."""

    def __init__(self, model, **hparams):  # no sb.Brain machinery needed here
        self.modules = torch.nn.ModuleDict({"model": model})
        self.hparams = type("H", (), hparams)

    def compute_forward(self, batch, stage):
        return self.modules.model(batch)


def _model():
    return torch.nn.Sequential(
        torch.nn.Linear(3, 3),
        CrossModalBatchNorm(3),
        torch.nn.Dropout(0.5),
        torch.nn.BatchNorm1d(3),
    )


def test_statistics_are_the_average_over_the_batches():
    torch.manual_seed(0)
    model = _model()
    batches = [torch.randn(16, 3) * 3 + 1 for _ in range(4)]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    used = _Brain(model, seed=1).recalibrate_batch_norm(loader=batches, batches=3)
    assert used == 3
    # The training random stream is untouched (recalibration forks it).
    assert torch.equal(rng, torch.get_rng_state())
    # Weights unchanged; the active (audio) set holds the equal-weight average
    # of the 3 batches' statistics, whatever the stale values were.
    for key, value in model.state_dict().items():
        if "running" not in key and "tracked" not in key:
            assert torch.equal(value, before[key]), key
    with torch.no_grad():
        feats = [model[0](b) for b in batches[:3]]
    bn = model[1]
    expected_mean = torch.stack([f.mean(0) for f in feats]).mean(0)
    expected_var = torch.stack([f.var(0) for f in feats]).mean(0)
    torch.testing.assert_close(bn.running_mean_audio, expected_mean)
    torch.testing.assert_close(bn.running_var_audio, expected_var)
    assert int(bn.num_batches_tracked_audio) == 3
    # The video set was not reached: kept as it was.
    torch.testing.assert_close(bn.running_mean_video, before["1.running_mean_video"])
    assert bn.momentum == 0.1 and model[3].momentum == 0.1
    # Dropout was off (the model's eval mode), and the model is back in train.
    assert model.training and model[1].training


def test_recalibrated_eval_model_matches_training_mode():
    """Stale statistics (a moving average of other weights) give an eval-mode
    output far from the training-mode one; after recalibration on the same
    data they agree."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), CrossModalBatchNorm(2))
    data = torch.randn(64, 2) * 5 + 3
    model.train()(data)  # running statistics of these weights ...
    with torch.no_grad():
        model[0].weight.mul_(4.0)  # ... which then move (training steps)
    train_out = model.train()(data).detach()
    stale = (model.eval()(data) - train_out).abs().max()
    _Brain(model, seed=0).recalibrate_batch_norm(loader=[data], batches=1)
    fresh = (model.eval()(data) - train_out).abs().max()
    # (not 0: running variances are unbiased, the batch's is not)
    assert stale > 1.0 and fresh < 0.05, (stale, fresh)


def test_nothing_to_do():
    model = torch.nn.Linear(2, 2)  # no batch norm
    brain = _Brain(model, bn_recalibration_batches=2, seed=0)
    assert brain.recalibrate_batch_norm(loader=[torch.ones(1, 2)]) == 0
