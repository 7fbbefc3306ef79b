"""Model kinds are declared by the parts and read by training, never guessed
from class names or tensor ranks."""

import pytest
import torch

from speechbrain_v2s.audio.features import compute_mel
from speechbrain_v2s.nnet import (
    AudioEncoder,
    MelDecoder,
    MelEncoder,
    TemporalModule,
    V2SModel,
    VideoEncoder,
    WaveDecoder,
)
from speechbrain_v2s.training.strategies import TrainingModel
from speechbrain_v2s.training.vocoder import VocoderModel

torch.set_num_threads(1)
C = 8


def _wave_decoder():
    return WaveDecoder(C, channels=8, upsample_factors=(8, 6, 5, 4))


def _mel_model():
    torch.manual_seed(0)
    return V2SModel(
        MelEncoder(out_channels=C, channels=8),
        TemporalModule(C, hidden_size=4, upsample=4, output_size=C),
        MelDecoder(C, d_model=8, num_layers=1, nhead=2, d_ffn=16),
    ).eval()


@pytest.mark.parametrize(
    "encoder, kind",
    [
        (AudioEncoder(out_channels=C, channels=(4, 4, 4, 4, C)), "wave"),
        (MelEncoder(out_channels=C, channels=8), "mel"),
        (VideoEncoder(out_channels=C, frontend_channels=4, resnet_width=4), "video"),
    ],
)
def test_model_takes_its_parts_declared_kinds(encoder, kind):
    model = V2SModel(encoder, TemporalModule(C, hidden_size=4), _wave_decoder())
    assert (model.input_kind, model.output_kind) == (kind, "wave")


class _Undeclared(torch.nn.Module):
    def forward(self, x, lens=None):
        return x


def test_a_part_that_declares_nothing_is_refused():
    temporal = TemporalModule(C, hidden_size=4)
    with pytest.raises(ValueError, match="input_kind None .*_Undeclared"):
        V2SModel(_Undeclared(), temporal, _wave_decoder())
    with pytest.raises(ValueError, match="output_kind None .*_Undeclared"):
        V2SModel(MelEncoder(out_channels=C, channels=8), temporal, _Undeclared())
    given = V2SModel(
        _Undeclared(), temporal, _Undeclared(), None, "audio", "mel", "mel"
    )
    assert (given.input_kind, given.output_kind) == ("mel", "mel")
    with pytest.raises(ValueError, match="output_kind 'spectrum'"):
        V2SModel(
            _Undeclared(), temporal, _wave_decoder(), None, "audio", "spectrum", "mel"
        )


def test_training_feeds_a_mel_model_the_mel_of_the_audio():
    model = _mel_model()
    wav = torch.randn(2, 4 * 960, generator=torch.Generator().manual_seed(1)) * 0.1
    lens = torch.ones(2)
    with torch.no_grad():
        out = TrainingModel(model)(wav, lens)["out"]
        expected, _ = model(compute_mel(wav), lens)
    assert torch.equal(out, expected)


def test_vocoder_declares_waveform_in_and_out():
    class Upsample(torch.nn.Module):
        def forward(self, mel):
            return mel.mean(1, keepdim=True).repeat_interleave(240, -1)

    model = VocoderModel(Upsample())
    assert (model.input_kind, model.output_kind) == ("wave", "wave")
    wav = torch.randn(1, 4800, generator=torch.Generator().manual_seed(2)) * 0.1
    out = TrainingModel(model)(wav, torch.ones(1))["out"]
    assert torch.equal(out, model(wav)[0])  # the waveform, not a mel, went in
