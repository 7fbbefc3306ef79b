"""The shared model definitions in ``hparams/`` load, fit and run."""

import os

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_v2s.nnet import V2SModel

HPARAMS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "hparams")
TINY = ("tiny_wave", "tiny_mel")
PAPER = ("wave", "mel")
MAX_TINY_PARAMS = 2_000_000


def load(name, overrides=None):
    with open(os.path.join(HPARAMS, f"{name}.yaml"), encoding="utf-8") as f:
        return load_hyperpyyaml(f, overrides or {})


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def _check_structure(hp, name):
    for key in ("feat_dim", "a2a_encoder", "video_encoder", "a2a_model", "v2a_model"):
        assert key in hp, (name, key)
    a2a, v2a = hp["a2a_model"], hp["v2a_model"]
    assert isinstance(a2a, V2SModel) and isinstance(v2a, V2SModel)
    assert a2a.default_modality == "audio" and v2a.default_modality == "video"
    assert a2a.encoder is hp["a2a_encoder"] and v2a.encoder is hp["video_encoder"]
    expected = "MelEncoder" if "mel" in name else "AudioEncoder"
    assert type(a2a.encoder).__name__ == expected
    assert a2a.output_kind == v2a.output_kind == ("mel" if "mel" in name else "wave")
    # Own instances of the same architecture: the A2A → V2A transfer fits.
    assert a2a.decoder is not v2a.decoder and a2a.temporal is not v2a.temporal
    report = v2a.load_pretrained_a2a(a2a.state_dict())
    assert not report.skipped and not report.mismatched
    if "mel" in name:
        assert "vocoder" in hp


@pytest.mark.parametrize("name", TINY)
def test_tiny_configs_load_fit_and_run(name):
    torch.manual_seed(0)
    hp = load(name, {"speaker_mode": "table", "num_speakers": 4})
    _check_structure(hp, name)
    v2a, a2a = hp["v2a_model"], hp["a2a_model"]
    assert n_params(v2a) <= MAX_TINY_PARAMS, n_params(v2a)
    assert v2a.speaker.mode == "table" and v2a.speaker.num_speakers == 4

    frames, lens = 5, torch.tensor([1.0, 0.6])
    v2a.train()
    out, out_lens = v2a(
        torch.randn(2, frames, 1, 88, 88), lens, speaker=torch.tensor([0, 3])
    )
    per_frame = 4 if "mel" in name else 960
    assert out.shape[:2] == (2, frames * per_frame) and torch.equal(out_lens, lens)
    out.abs().mean().backward()  # trainable end to end

    a2a_in = (
        torch.randn(2, frames * 4, 80)
        if "mel" in name
        else torch.randn(2, frames * 960) * 0.1
    )
    with torch.no_grad():
        out, _ = a2a.eval()(a2a_in, lens)
    assert out.shape[:2] == (2, frames * per_frame)
    if "mel" in name:
        with torch.no_grad():
            wave = hp["vocoder"](out.transpose(1, 2))
        assert wave.shape == (2, 1, frames * 960)


def test_included_as_a_sub_node_with_overrides(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "speaker_mode: embedding\n"
        "cross_modal: False\n"
        f"arch: !include:{os.path.join(HPARAMS, 'tiny_wave.yaml')}\n"
        "    speaker_mode: !ref <speaker_mode>\n"
        "    cross_modal: !ref <cross_modal>\n"
        "model: !ref <arch[v2a_model]>\n"
        "a2a_model: !ref <arch[a2a_model]>\n"
    )
    with open(recipe, encoding="utf-8") as f:
        hp = load_hyperpyyaml(f)
    assert hp["model"] is hp["arch"]["v2a_model"]
    assert hp["model"].speaker.mode == "embedding"
    from speechbrain_v2s.nnet.normalization import cross_modal_layers

    layers = cross_modal_layers(hp["model"].decoder)
    assert layers and not any(layer.cross_modal for _, layer in layers)


@pytest.mark.slow
@pytest.mark.parametrize("name", PAPER)
def test_paper_configs_load(name):
    hp = load(name, {"speaker_mode": "table", "num_speakers": 34})
    _check_structure(hp, name)
    assert hp["feat_dim"] == 512
    video = hp["video_encoder"]
    # ResNet-18 layout at full width: 64-channel 3-D front end, 512-d trunk.
    assert video.frontend.out_channels == 64 and video.frontend.kernel_size[0] == 5
    assert n_params(video.trunk) > 11_000_000
    with torch.no_grad():
        out, _ = hp["v2a_model"].eval()(torch.randn(1, 2, 1, 88, 88))
    assert out.shape[1] == 2 * (4 if "mel" in name else 960)
