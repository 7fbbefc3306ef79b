"""A2A → V2A initialisation: exactly the temporal module and decoder move."""

import pytest
import torch

from speechbrain_v2s.nnet import (
    AudioEncoder,
    SpeakerConditioner,
    TemporalModule,
    V2SModel,
    VideoEncoder,
    WaveDecoder,
)
from speechbrain_v2s.nnet.normalization import cross_modal_layers

C = 8


def _model(encoder, channels=16, modality="audio", speaker=None):
    return V2SModel(
        encoder,
        TemporalModule(C, hidden_size=6, output_size=C),
        WaveDecoder(
            C, channels=channels, upsample_factors=(8, 6, 5, 4), min_channels=4
        ),
        speaker=speaker,
        default_modality=modality,
    )


def _a2a(channels=16):
    torch.manual_seed(1)
    model = _model(AudioEncoder(out_channels=C, channels=(4, 4, 4, 4, 8)), channels)
    model.train()  # non-trivial batch-norm statistics in the audio set
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(2, 1920) * 0.1 + 0.05, torch.tensor([1.0, 0.5]))
    return model


def _v2a(channels=16):
    torch.manual_seed(2)
    return _model(
        VideoEncoder(out_channels=C, frontend_channels=4, resnet_width=4),
        channels,
        modality="video",
        speaker=SpeakerConditioner(C, mode="table", num_speakers=2, emb_dim=4),
    )


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_save_and_load_moves_exactly_temporal_and_decoder(tmp_path):
    a2a, v2a = _a2a(), _v2a()
    path = tmp_path / "a2a_model.ckpt"
    a2a.save_pretrained(path)
    saved = torch.load(path, weights_only=True)
    assert saved["config"]["output_kind"] == "wave"
    assert set(saved["state_dict"]) == set(a2a.state_dict())

    before = _snapshot(v2a)
    report = v2a.load_pretrained_a2a(path)
    after = v2a.state_dict()
    source = a2a.state_dict()

    assert not report.skipped and not report.mismatched
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    moved = {k for k in after if k.split(".")[0] in ("temporal", "decoder")}
    assert changed <= moved
    assert set(report.loaded) == moved
    for name in moved:
        if name.endswith("_video"):  # seeded from the A2A audio statistics
            name_audio = name[: -len("video")] + "audio"
            torch.testing.assert_close(after[name], source[name_audio])
        else:
            torch.testing.assert_close(after[name], source[name])
    # Video encoder and speaker table untouched.
    for name in after:
        if name.split(".")[0] in ("encoder", "speaker"):
            assert torch.equal(after[name], before[name]), name
    assert "loaded" in str(report)


def test_batchnorm_statistics_go_to_audio_and_video():
    a2a, v2a = _a2a(), _v2a()
    v2a.load_pretrained_a2a(a2a.state_dict())
    src = dict(cross_modal_layers(a2a.decoder))
    for name, layer in cross_modal_layers(v2a.decoder):
        assert int(src[name].num_batches_tracked_audio) == 3
        for modality in ("audio", "video"):
            torch.testing.assert_close(
                getattr(layer, f"running_mean_{modality}"), src[name].running_mean_audio
            )
            torch.testing.assert_close(
                getattr(layer, f"running_var_{modality}"), src[name].running_var_audio
            )


def test_seed_video_false_leaves_video_statistics():
    a2a, v2a = _a2a(), _v2a()
    v2a.load_pretrained_a2a(a2a.state_dict(), seed_video=False)
    for _, layer in cross_modal_layers(v2a.decoder):
        assert torch.equal(
            layer.running_mean_video, torch.zeros_like(layer.running_mean_video)
        )
        assert not torch.equal(layer.running_mean_audio, layer.running_mean_video)


def test_mismatched_config_names_the_tensor():
    a2a, v2a = _a2a(channels=32), _v2a(channels=16)
    pattern = r"decoder\.pre\.\S+: checkpoint shape \(32,.*\) != model shape \(16,"
    with pytest.raises(ValueError, match=pattern):
        v2a.load_pretrained_a2a(a2a.state_dict())


def test_non_strict_reports_and_skips_mismatches():
    a2a, v2a = _a2a(channels=32), _v2a(channels=16)
    before = _snapshot(v2a)
    report = v2a.load_pretrained_a2a(a2a.state_dict(), strict=False)
    assert report.mismatched and all(
        n.startswith("decoder.") for n in report.mismatched
    )
    assert any(n.startswith("temporal.") for n in report.loaded)
    for name in report.mismatched:
        assert torch.equal(v2a.state_dict()[name], before[name])
        assert name in str(report)


def test_encoder_part_for_the_joint_strategy():
    a2a = _a2a()
    other = _model(AudioEncoder(out_channels=C, channels=(4, 4, 4, 4, 8)))
    before = _snapshot(other)
    report = other.load_pretrained_a2a(a2a.state_dict(), parts=("encoder",))
    assert report.loaded and all(n.startswith("encoder.") for n in report.loaded)
    for name, value in other.state_dict().items():
        if name.startswith("encoder."):
            # Statistic sets other than audio are seeded from audio.
            source = (
                name[: -len("video")] + "audio" if name.endswith("_video") else name
            )
            torch.testing.assert_close(value, a2a.state_dict()[source])
        else:
            assert torch.equal(value, before[name])


def test_wrong_family_is_refused(tmp_path):
    a2a = _a2a()
    v2a = _v2a()
    v2a.output_kind = "mel"
    path = tmp_path / "a2a.ckpt"
    a2a.save_pretrained(path)
    with pytest.raises(ValueError, match="wave model"):
        v2a.load_pretrained_a2a(path)


def test_speechbrain_checkpoint_prefix_is_accepted():
    a2a, v2a = _a2a(), _v2a()
    state = {f"model.{k}": v for k, v in a2a.state_dict().items()}
    report = v2a.load_pretrained_a2a(state)
    assert report.loaded and not report.skipped
