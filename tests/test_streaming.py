"""Causal models and live synthesis (issue 18, items 1-2).

- A causal model's output up to frame ``t`` ignores inputs after
  ``t + lookahead_frames`` (and the look-ahead is exactly that: frame
  ``t + 1`` does change), for the video and the A2A encoders too.
- The declared receptive field is enough: a causal decoder's output from
  frame ``t`` on ignores inputs before ``t - past``.
- ``VideoToSpeech.stream`` yields, whatever the chunking, the offline causal
  model's waveform (≤ 1e-5), each frame's audio as soon as it is determined.

Why streaming is exact: every causal convolution pads its input on the left
(:func:`speechbrain_v2s.nnet.causal.with_context`). Offline the padding is
zeros; streamed it is the tail of the input the layer saw before, which
starts as those same zeros. Each call so convolves exactly the offline
input windows of its new outputs, and the RNNs carry their states.
"""

import os

import pytest
import torch

from speechbrain_v2s.audio.features import SAMPLES_PER_FRAME as HOP
from speechbrain_v2s.nnet.decoders import WaveDecoder
from speechbrain_v2s.nnet.encoders import AudioEncoder, MelEncoder, VideoEncoder
from speechbrain_v2s.nnet.model import V2SModel
from speechbrain_v2s.nnet.temporal import TemporalModule

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _calibrate(model, *inputs):
    """Eval-mode model whose batch norms hold the statistics of ``inputs``.

    At initialisation the generator's activations shrink layer after layer
    (the running statistics are (0, 1)), so a random model's output barely
    depends on its input and an equality test would prove little; with
    statistics of real activations, as a trained model has, it does.
    """
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # one batch: its own statistics
            module.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(*inputs)
    return model.eval()


def _frames(n, seed, batch=1):
    """Normalised mouth-crop-like frames: a level per frame (what globally
    pooled features see) under pixel noise."""
    gen = torch.Generator().manual_seed(seed)
    levels = torch.rand(batch, n, 1, 1, 1, generator=gen) * 4 - 2
    return levels + 0.3 * torch.randn(batch, n, 1, 88, 88, generator=gen)


def _causal_wave_model(lookahead, causal=True):
    torch.manual_seed(0)
    model = V2SModel(
        VideoEncoder(8, 4, 8, input_scale=2, causal=causal),
        TemporalModule(8, hidden_size=8, output_size=8, causal=causal),
        WaveDecoder(
            8, channels=16, min_channels=4, causal=causal, lookahead_frames=lookahead
        ),
        default_modality="video",
    )
    return _calibrate(model, _frames(12, 5))


def _perturbed(x, start):
    # brighter frames: random pixels alone barely move globally pooled features
    out = x.clone()
    out[:, start:] += 1.0
    return out


@pytest.mark.parametrize("lookahead", [0, 1, 2])
@torch.no_grad()
def test_causal_wave_model_ignores_the_future(lookahead):
    model = _causal_wave_model(lookahead)
    assert model.causal and model.lookahead_frames == lookahead
    x, t = _frames(9, 2), 3
    before = model(x)[0]
    after = model(_perturbed(x, t + lookahead + 1))[0]
    assert before.shape == (1, 9 * HOP)
    cut = (t + 1) * HOP
    torch.testing.assert_close(after[:, :cut], before[:, :cut], rtol=0, atol=1e-6)
    # frame t + 1 waits for exactly the frame that changed
    assert (after[:, cut : cut + HOP] - before[:, cut : cut + HOP]).abs().max() > 1e-4


@torch.no_grad()
def test_the_same_perturbation_reaches_back_in_an_offline_model():
    model = _causal_wave_model(0, causal=False)
    assert not model.causal
    x = _frames(9, 2)
    diff = model(_perturbed(x, 4))[0] - model(x)[0]
    assert diff[:, : 4 * HOP].abs().max() > 1e-4


@torch.no_grad()
def test_causal_mel_model_ignores_the_future():
    from speechbrain_v2s.nnet.decoders import MelDecoder

    torch.manual_seed(0)
    model = V2SModel(
        VideoEncoder(8, 4, 8, input_scale=2, causal=True),
        TemporalModule(
            8, hidden_size=8, rnn_type="lstm", upsample=4, output_size=8, causal=True
        ),
        MelDecoder(
            8, d_model=16, num_layers=2, nhead=2, d_ffn=32, kernel_size=5, causal=True
        ),
        default_modality="video",
    )
    model = _calibrate(model, _frames(12, 5))
    assert model.causal and model.lookahead_frames == 0
    x, t = _frames(6, 2), 2
    before, after = model(x)[0], model(_perturbed(x, t + 1))[0]
    cut = 4 * (t + 1)  # mel frames of video frames up to t
    torch.testing.assert_close(after[:, :cut], before[:, :cut], rtol=0, atol=1e-5)
    assert (after[:, cut] - before[:, cut]).abs().max() > 1e-4
    with pytest.raises(ValueError, match="look-ahead"):
        MelDecoder(8, 16, 1, 2, 32, causal=True, lookahead_frames=1)


@torch.no_grad()
def test_causal_a2a_encoders_ignore_the_future():
    torch.manual_seed(0)
    for enc, x, per_frame in (
        (AudioEncoder(8, (4, 4, 4, 4, 8), causal=True), torch.randn(1, 6 * HOP), HOP),
        (MelEncoder(8, channels=8, causal=True), torch.randn(1, 24, 80), 4),
    ):
        enc = _calibrate(enc, torch.randn_like(x))
        before = enc(x)
        changed = x.clone()
        changed[:, 3 * per_frame :] = torch.randn_like(changed[:, 3 * per_frame :])
        after = enc(changed)
        torch.testing.assert_close(after[:, :3], before[:, :3], rtol=0, atol=1e-6)
        assert (after[:, 3] - before[:, 3]).abs().max() > 1e-4


@pytest.mark.parametrize("lookahead", [0, 2])
@torch.no_grad()
def test_causal_decoder_past_is_its_declared_receptive_field(lookahead):
    torch.manual_seed(0)
    dec = WaveDecoder(
        8, channels=16, min_channels=4, causal=True, lookahead_frames=lookahead
    )
    past, future = dec.context_frames()
    assert future == lookahead and 0 < past < 20
    t = past + 2
    x = torch.randn(1, t + 4, 8)
    dec = _calibrate(dec, torch.randn_like(x))
    changed = x.clone()
    changed[:, : t - past] = torch.randn_like(changed[:, : t - past])
    before, after = dec(x), dec(changed)
    torch.testing.assert_close(
        after[:, t * HOP :], before[:, t * HOP :], rtol=0, atol=1e-6
    )
    assert (after[:, : t * HOP] - before[:, : t * HOP]).abs().max() > 1e-4


@torch.no_grad()
def test_causal_padded_batch_matches_items_alone():
    model = _causal_wave_model(1)
    x = _frames(6, 3, batch=2)
    out, _ = model(x, torch.tensor([1.0, 4 / 6]))
    alone, _ = model(x[1:, :4])
    torch.testing.assert_close(out[1:, : 4 * HOP], alone, rtol=0, atol=1e-5)
    assert out[1, 4 * HOP :].abs().max() == 0


@pytest.fixture(scope="module")
def live_v2s(tmp_path_factory):
    """A tiny random causal waveform model (tiny_wave.yaml, look-ahead 1),
    loaded as a published one is."""
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_v2s.export import export_architecture
    from speechbrain_v2s.inference import VideoToSpeech

    arch = os.path.join(ROOT, "hparams", "tiny_wave.yaml")
    overrides = {"causal": True, "lookahead_frames": 1}
    torch.manual_seed(0)
    with open(arch, encoding="utf-8") as handle:
        model = load_hyperpyyaml(handle, overrides)["v2a_model"]
    state = _calibrate(model, _frames(12, 5)).state_dict()
    folder = str(tmp_path_factory.mktemp("live"))
    export_architecture(arch, folder, overrides=overrides, state=state)
    return VideoToSpeech.from_hparams(source=folder, savedir=folder)


@pytest.fixture(scope="module")
def clip():
    # a level per frame (what pooled features see) under pixel noise
    torch.manual_seed(4)
    levels = torch.randint(30, 220, (15, 1, 1))
    noise = torch.randint(-30, 30, (15, 96, 96))
    return (levels + noise).clamp(0, 255).to(torch.uint8)


@torch.no_grad()
def _offline(v2s, frames):
    return v2s.synthesize_batch(v2s.prepare_frames(frames))[0][0].cpu()


@pytest.mark.parametrize("chunk", [1, 7, 15])
def test_stream_equals_offline_causal_model(live_v2s, clip, chunk):
    v2s = live_v2s
    assert v2s.mods.model.lookahead_frames == 1
    offline = _offline(v2s, clip)
    assert offline.shape == (15 * HOP,) and offline.abs().max() > 1e-3
    items = [clip[i : i + chunk] for i in range(0, len(clip), chunk)]
    if chunk == 7:  # already-normalised crops work the same
        items = [v2s.prepare_frames(item)[0] for item in items]
    pieces = list(v2s.stream(iter(items)))
    assert len(pieces) == len(items) + 1  # one per item, then the look-ahead's
    seen = emitted = 0
    for item, piece in zip(items, pieces):  # every frame but the newest
        seen, emitted = seen + len(item), emitted + piece.shape[0]
        assert emitted == (seen - 1) * HOP
    assert pieces[-1].shape == (HOP,)
    streamed = torch.cat(pieces)
    assert (streamed - offline).abs().max() <= 1e-5


def test_stream_carries_state_between_calls_and_resets(live_v2s, clip):
    v2s = live_v2s
    offline = _offline(v2s, clip)
    other = clip.clone()
    other[9:] //= 2  # the 1e-5 bar is far below what the input changes
    changed = _offline(v2s, other) - offline
    assert changed[: 8 * HOP].abs().max() <= 1e-6 < 1e-3 < changed.abs().max()
    first = list(v2s.stream([clip[:5]], final=False))
    second = list(v2s.stream([clip[5:9], clip[9:]]))
    assert (torch.cat(first + second) - offline).abs().max() <= 1e-5
    # a session left half-way is forgotten by reset()
    list(v2s.stream([clip[:3]], final=False))
    v2s.reset()
    again = torch.cat(list(v2s.stream(clip)))
    assert (again - offline).abs().max() <= 1e-5


def test_stream_refuses_an_offline_model(tmp_path):
    from speechbrain_v2s.export import export_architecture
    from speechbrain_v2s.inference import VideoToSpeech

    export_architecture(os.path.join(ROOT, "hparams", "tiny_wave.yaml"), tmp_path)
    v2s = VideoToSpeech.from_hparams(source=str(tmp_path), savedir=str(tmp_path))
    with pytest.raises(ValueError, match="causal"):
        next(v2s.stream([torch.zeros(96, 96, dtype=torch.uint8)]))


def test_causal_a2a_initialises_causal_v2a(tmp_path):
    from hyperpyyaml import load_hyperpyyaml

    with open(os.path.join(ROOT, "hparams", "tiny_wave.yaml"), encoding="utf-8") as f:
        arch = load_hyperpyyaml(f, {"causal": True, "lookahead_frames": 2})
    a2a, v2a = arch["a2a_model"], arch["v2a_model"]
    assert a2a.causal and v2a.causal and v2a.lookahead_frames == 2
    assert not v2a.temporal.rnn.bidirectional
    a2a.save_pretrained(tmp_path / "a2a.ckpt")
    report = v2a.load_pretrained_a2a(tmp_path / "a2a.ckpt")  # strict
    assert report.loaded and not report.skipped and not report.mismatched


def test_blockwise_video_encoding_of_a_causal_model(live_v2s, clip):
    """Long offline windows encode the video in blocks with the front end's
    context: all of it in the past for a causal encoder (4 frames, not 2)."""
    v2s = live_v2s
    assert max(v2s.mods.model.encoder.context_frames()) == 4
    rois = v2s.prepare_frames(clip)
    v2s.hparams.encode_frames = 5  # not in exported YAMLs (default 125)
    try:
        with torch.no_grad():
            blocks = v2s._window_wave(rois)[0]
    finally:
        del v2s.hparams.encode_frames
    assert (blocks - _offline(v2s, clip)).abs().max() <= 1e-5
