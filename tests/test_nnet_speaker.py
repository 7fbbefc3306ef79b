"""Speaker conditioning modes and the ECAPA-TDNN embedder via ``from_hparams``."""

import pytest
import torch

from speechbrain_v2s.nnet import SpeakerConditioner, SpeakerEmbedder

EMB = 32

# The layout of SpeechBrain's speaker models (e.g. spkrec-ecapa-voxceleb):
# feature extraction, normalisation, ECAPA-TDNN, a classifier; the pretrainer
# fetches the weights from the same source.
HPARAMS = f"""
n_mels: 24
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>
mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False
embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: [16, 16, 16, 16, 48]
    attention_channels: 8
    lin_neurons: {EMB}
classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: {EMB}
    out_neurons: 4
modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    classifier: !ref <classifier>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        classifier: !ref <classifier>
"""


def test_none_mode_is_identity():
    cond = SpeakerConditioner(8, mode="none")
    x = torch.randn(2, 5, 8)
    assert torch.equal(cond(x, torch.tensor([0, 1])), x)
    assert not list(cond.parameters())


def test_table_mode():
    torch.manual_seed(0)
    cond = SpeakerConditioner(8, mode="table", num_speakers=3, emb_dim=4)
    x = torch.zeros(3, 5, 8)
    out = cond(x, torch.tensor([0, 1, 0]))
    assert out.shape == (3, 5, 8)
    torch.testing.assert_close(out[0], out[2])
    assert not torch.allclose(out[0], out[1])
    # Constant over time, zero on padding.
    padded = cond(x, torch.tensor([0, 1, 2]), lens=torch.tensor([1.0, 0.4, 1.0]))
    assert torch.equal(padded[1, 2:], torch.zeros(3, 8))
    # No speaker (or an unknown one, id -1): the table's mean identity.
    neutral = cond(x[:1], None)
    torch.testing.assert_close(cond(x[:1], torch.tensor([-1])), neutral)
    expected = cond.proj(cond.table.weight.mean(0))
    torch.testing.assert_close(neutral[0, 0], expected)
    with pytest.raises(ValueError, match="out of range"):
        cond(x[:1], torch.tensor([3]))
    with pytest.raises(TypeError):
        cond(x[:1], torch.randn(1, 4))
    with pytest.raises(ValueError, match="num_speakers"):
        SpeakerConditioner(8, mode="table")


def test_embedding_mode():
    torch.manual_seed(0)
    cond = SpeakerConditioner(8, mode="embedding", emb_dim=4, momentum=0.5)
    x = torch.zeros(2, 5, 8)
    emb = torch.randn(2, 4)
    out = cond(x, emb)
    # Embeddings are unit-normalised: the scale of the embedder does not matter.
    torch.testing.assert_close(cond(x, emb * 7.0), out)
    assert cond(x, emb.unsqueeze(1)).shape == (2, 5, 8)  # [B, 1, E] from ECAPA
    # The neutral identity follows the training embeddings.
    assert cond.neutral.abs().sum() > 0
    cond.eval()
    before = cond.neutral.clone()
    cond(x, emb)
    assert torch.equal(cond.neutral, before)
    assert cond(x, None).shape == (2, 5, 8)
    with pytest.raises(TypeError):
        cond(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="size 3"):
        cond(x, torch.randn(2, 3))


def test_ecapa_embedder_from_local_folder(ecapa_folder, tmp_path):
    folder, reference = ecapa_folder
    embedder = SpeakerEmbedder(str(folder), savedir=str(tmp_path / "saved"))
    # Copied, not linked: the savedir holds real files.
    assert not (tmp_path / "saved" / "embedding_model.ckpt").is_symlink()
    # The weights are the ones saved (not a fresh random init).
    loaded = embedder.model.mods.embedding_model.state_dict()
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(loaded[name], value)

    torch.manual_seed(0)
    wavs = torch.randn(2, 24000) * 0.1  # 1 s at 24 kHz
    emb = embedder(wavs)
    assert emb.shape == (2, EMB)
    assert torch.isfinite(emb).all()
    embedder.train()
    assert not embedder.model.training  # frozen, always eval
    torch.testing.assert_close(embedder(wavs), emb)

    # The embeddings condition a model directly.
    cond = SpeakerConditioner(8, mode="embedding", emb_dim=EMB)
    assert cond(torch.zeros(2, 3, 8), emb).shape == (2, 3, 8)
