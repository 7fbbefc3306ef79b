"""Cross-modal batch norm: one statistics set per modality, padding excluded."""

import pytest
import torch

from speechbrain_v2s.nnet import CrossModalBatchNorm, TemporalModule, V2SModel
from speechbrain_v2s.nnet.decoders import WaveDecoder
from speechbrain_v2s.nnet.encoders import AudioEncoder
from speechbrain_v2s.nnet.normalization import cross_modal_layers


def _alternate(bn, steps=40):
    """Alternating audio (mean 2, std 1) and video (mean -3, std 0.5) batches."""
    torch.manual_seed(0)
    for _ in range(steps):
        bn.modality = "audio"
        bn(torch.randn(4, 10, 3) + 2.0)
        bn.modality = "video"
        bn(torch.randn(4, 10, 3) * 0.5 - 3.0)


def test_two_modalities_two_statistics():
    bn = CrossModalBatchNorm(3, momentum=0.2).train()
    _alternate(bn)
    torch.testing.assert_close(
        bn.running_mean_audio, torch.full((3,), 2.0), atol=0.3, rtol=0
    )
    torch.testing.assert_close(
        bn.running_mean_video, torch.full((3,), -3.0), atol=0.3, rtol=0
    )
    torch.testing.assert_close(bn.running_var_audio, torch.ones(3), atol=0.4, rtol=0)
    torch.testing.assert_close(
        bn.running_var_video, torch.full((3,), 0.25), atol=0.1, rtol=0
    )
    assert int(bn.num_batches_tracked_audio) == int(bn.num_batches_tracked_video) == 40

    # Eval: each modality is normalised with its own statistics.
    bn.eval()
    bn.modality = "video"
    out = bn(torch.randn(8, 50, 3) * 0.5 - 3.0)
    assert out.mean().abs() < 0.3 and (out.std() - 1).abs() < 0.3


def test_plain_flag_keeps_one_statistics_set():
    bn = CrossModalBatchNorm(3, momentum=0.2, cross_modal=False).train()
    _alternate(bn)
    # One set, fed by both modalities (means 2 and -3).
    assert int(bn.num_batches_tracked_audio) == 80
    assert int(bn.num_batches_tracked_video) == 0
    assert -2.0 < float(bn.running_mean_audio.mean()) < 1.0
    bn.eval()
    x = torch.randn(2, 4, 3)
    bn.modality = "audio"
    a = bn(x)
    bn.modality = "video"
    torch.testing.assert_close(bn(x), a)


def test_padded_frames_do_not_enter_statistics():
    torch.manual_seed(0)
    bn = CrossModalBatchNorm(2, momentum=1.0).train()
    x = torch.randn(2, 6, 2)
    x[1, 3:] = 1000.0  # padding garbage
    out = bn(x, lens=torch.tensor([1.0, 0.5]))
    valid = torch.cat([x[0], x[1, :3]])
    torch.testing.assert_close(bn.running_mean_audio, valid.mean(0))
    torch.testing.assert_close(bn.running_var_audio, valid.var(0, unbiased=True))
    # The valid outputs are normalised with the valid statistics only.
    expected = (valid - valid.mean(0)) / torch.sqrt(valid.var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(torch.cat([out[0], out[1, :3]]), expected)


def test_channels_first_and_spatial_masks():
    bn = CrossModalBatchNorm(4, momentum=1.0, channel_axis=1).train()
    x = torch.randn(2, 4, 5, 3, 3)  # [B, C, T, H, W]
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.bool)
    bn(x, mask=mask)
    valid = torch.cat([x[0].flatten(1), x[1, :, :2].flatten(1)], 1)
    torch.testing.assert_close(bn.running_mean_audio, valid.mean(1))


def test_unknown_modality_is_an_error():
    bn = CrossModalBatchNorm(2)
    bn.modality = "text"
    with pytest.raises(ValueError, match="unknown modality"):
        bn(torch.randn(1, 2, 2))


def test_plain_batchnorm_state_loads_into_audio_and_video():
    plain = torch.nn.BatchNorm1d(3)
    plain.running_mean.fill_(0.5)
    plain.running_var.fill_(2.0)
    bn = CrossModalBatchNorm(3)
    bn.load_state_dict(plain.state_dict())
    for modality in ("audio", "video"):
        torch.testing.assert_close(
            getattr(bn, f"running_mean_{modality}"), plain.running_mean
        )
        torch.testing.assert_close(
            getattr(bn, f"running_var_{modality}"), plain.running_var
        )
    bn2 = CrossModalBatchNorm(3)
    bn2.seed_on_plain_load = False
    bn2.load_state_dict(plain.state_dict())
    assert bn2.running_var_video.tolist() == [1.0, 1.0, 1.0]


def test_model_modality_context_sets_every_layer():
    model = V2SModel(
        AudioEncoder(out_channels=8, channels=(4, 4, 4, 4, 8)),
        TemporalModule(8, hidden_size=4),
        WaveDecoder(8, channels=8, upsample_factors=(8, 6, 5, 4)),
        default_modality="video",
    )
    layers = [layer for _, layer in cross_modal_layers(model.decoder)]
    assert layers and all(layer.modality == "video" for layer in layers)
    model.train()
    with model.modality("audio"):
        assert all(layer.modality == "audio" for layer in layers)
        model(torch.randn(2, 1920) * 0.1, torch.tensor([1.0, 0.5]))
    assert all(layer.modality == "video" for layer in layers)
    assert all(int(layer.num_batches_tracked_audio) == 1 for layer in layers)
    assert all(int(layer.num_batches_tracked_video) == 0 for layer in layers)
