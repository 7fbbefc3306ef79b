"""Shared fixtures: the tiny synthetic corpora, generated once per test run."""

import pytest

from speechbrain_v2s.synthetic import generate_corpus

CORPUS_SPEAKERS = 3
CORPUS_UTTERANCES = 4
CORPUS_SEED = 1234


@pytest.fixture(scope="session")
def synthetic_corpus(tmp_path_factory):
    """Audio-visual corpus in GRID's layout (3 speakers x 4 utterances)."""
    out = tmp_path_factory.mktemp("synthetic_av")
    generate_corpus(
        out,
        speakers=CORPUS_SPEAKERS,
        utterances_per_speaker=CORPUS_UTTERANCES,
        seed=CORPUS_SEED,
        jobs=1,  # in-process: starting workers would cost more than the work
        progress=False,
    )
    return out


@pytest.fixture(scope="session")
def synthetic_audio_corpus(tmp_path_factory):
    """Audio-only corpus (``<spk>/<utt>.wav`` + ``.txt``, 3 speakers x 4)."""
    out = tmp_path_factory.mktemp("synthetic_audio")
    generate_corpus(
        out,
        speakers=CORPUS_SPEAKERS,
        utterances_per_speaker=CORPUS_UTTERANCES,
        seed=CORPUS_SEED,
        audio_only=True,
        jobs=1,
        progress=False,
    )
    return out


@pytest.fixture(scope="session")
def ecapa_folder(tmp_path_factory):
    """A tiny randomly initialised ECAPA-TDNN saved like a Hub model folder:
    ``(folder, its embedding model)``."""
    import torch
    from hyperpyyaml import load_hyperpyyaml
    from test_nnet_speaker import HPARAMS

    folder = tmp_path_factory.mktemp("ecapa")
    (folder / "hyperparams.yaml").write_text(HPARAMS)
    torch.manual_seed(0)
    hparams = load_hyperpyyaml(HPARAMS)
    torch.save(hparams["embedding_model"].state_dict(), folder / "embedding_model.ckpt")
    torch.save(hparams["classifier"].state_dict(), folder / "classifier.ckpt")
    return folder, hparams["embedding_model"]
