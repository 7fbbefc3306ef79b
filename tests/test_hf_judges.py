"""Whisper and WavLM judges through ``transformers``, offline: tiny randomly
initialised models built from a config, ``save_pretrained`` to a folder and
loaded back by the same ``from_pretrained`` path a Hub id takes."""

import csv
import json
import math
import time

import pytest
import torch

from speechbrain_v2s.audio.io import write_audio
from speechbrain_v2s.evaluation import EvaluationError, main, make_speaker_model
from speechbrain_v2s.evaluation.judges import make_transcriber
from speechbrain_v2s.judges_hf import (
    HFModelError,
    WavLMSpeakerEmbedder,
    WhisperTranscriber,
    load_pretrained,
    snap_to_grid,
)
from speechbrain_v2s.synthetic.grid_grammar import SLOTS
from speechbrain_v2s.transcriber import TranscriberError

SPECIALS = (
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|en|>",
    "<|transcribe|>",
    "<|translate|>",
    "<|notimestamps|>",
)


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory):
    """A 2-layer, 16-wide random Whisper with a byte-level tokenizer."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )

    folder = tmp_path_factory.mktemp("whisper")
    # No merges: every byte is a token, so no vocabulary files are needed.
    vocab = {c: i for i, c in enumerate(sorted(ByteLevel.alphabet()))}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    try:  # transformers 5 builds it from the vocabulary itself
        tokenizer = WhisperTokenizer(vocab=vocab, merges=[])
    except TypeError:  # transformers 4 reads the files
        tokenizer = WhisperTokenizer(folder / "vocab.json", folder / "merges.txt")
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIALS[1:])})
    eot, sot, en, transcribe, translate, no_ts = tokenizer.convert_tokens_to_ids(
        list(SPECIALS)
    )
    processor = WhisperProcessor(WhisperFeatureExtractor(), tokenizer)
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_target_positions=32,
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=sot,
    )
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config)
    # What multilingual Hub checkpoints carry, so language/task are exercised.
    model.generation_config = GenerationConfig(
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        decoder_start_token_id=sot,
        lang_to_id={"<|en|>": en},
        task_to_id={"transcribe": transcribe, "translate": translate},
        no_timestamps_token_id=no_ts,
        is_multilingual=True,
        max_length=16,
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_wavlm(tmp_path_factory):
    """A 1-layer random WavLM x-vector model with its feature extractor."""
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMForXVector

    folder = tmp_path_factory.mktemp("wavlm")
    config = WavLMConfig(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(16, 16),
        conv_stride=(5, 4),
        conv_kernel=(10, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        num_buckets=16,
        max_bucket_distance=32,
        tdnn_dim=(16, 16),
        tdnn_kernel=(3, 1),
        tdnn_dilation=(1, 1),
        xvector_output_dim=8,
        feat_extract_norm="layer",
    )
    torch.manual_seed(0)
    WavLMForXVector(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(
        sampling_rate=16000, do_normalize=True, return_attention_mask=True
    ).save_pretrained(folder)
    return folder


def tone(seconds, f0, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * 24000)) / 24000
    wav = sum(torch.sin(2 * math.pi * k * f0 * t) / k for k in range(1, 8))
    wav = wav * (torch.sin(2 * math.pi * 3 * t) > 0).float()
    return 0.3 * wav / wav.abs().max() + 0.003 * torch.randn(t.shape, generator=g)


class Spy:
    """Records the rate and lengths a feature extractor is called with."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []
        self.sampling_rate = inner.sampling_rate

    def __call__(self, clips, sampling_rate=None, **kwargs):
        self.calls.append((sampling_rate, [len(c) for c in clips]))
        return self.inner(clips, sampling_rate=sampling_rate, **kwargs)


# ---------------------------------------------------------------- Whisper


def test_whisper_batch_at_24k_is_resampled_and_deterministic(tiny_whisper):
    asr = make_transcriber(f"whisper:{tiny_whisper}")
    assert isinstance(asr, WhisperTranscriber) and asr.grammar is None
    assert asr.generate_options["language"] == "en"
    spy = asr.feature_extractor = Spy(asr.feature_extractor)
    wavs = [tone(1.0, 120), tone(0.5, 220, seed=1), torch.zeros(6000)]
    first = asr.transcribe_batch(wavs)
    assert spy.calls == [(16000, [16000, 8000, 4000])]
    assert len(first) == 3 and all(isinstance(t, str) for t in first)
    assert asr.transcribe_batch(wavs) == first
    assert asr.transcribe(wavs[1]) == first[1]  # same alone as in a batch
    assert asr.transcribe(tone(0.5, 220, seed=1).double(), 24000) == first[1]


def test_whisper_text_is_normalised_like_the_other_judges(tiny_whisper, monkeypatch):
    heard = ["Bin blew at F2 now, please.", "", "Set RED by 7 again"]
    free = make_transcriber(f"whisper:{tiny_whisper}")
    grid = make_transcriber(f"whisper:{tiny_whisper}:grid")
    assert grid.grammar == "grid" and "grid" in repr(grid)
    for asr in (free, grid):
        monkeypatch.setattr(asr.processor, "batch_decode", lambda ids, **kw: heard)
    wavs = [tone(0.3, 150)] * 3
    assert free.transcribe_batch(wavs) == [
        "bin blew at f two now please",
        "",
        "set red by seven again",
    ]
    assert grid.transcribe_batch(wavs) == [
        "bin blue at f two now",
        "",
        "set red by a seven again",
    ]


def test_whisper_grid_output_is_a_grid_sentence_or_nothing(tiny_whisper):
    asr = make_transcriber(f"whisper:{tiny_whisper}:grid")
    for text in asr.transcribe_batch([tone(0.8, 100 + 40 * i) for i in range(3)]):
        words = text.split()
        assert len(words) in (0, 6)
        for word, (_, choices) in zip(words, SLOTS):
            assert word in choices


@pytest.mark.parametrize(
    "text, expected",
    [
        ("place white with z 9 soon", "place white with z nine soon"),
        ("Lay green in why zero again.", "lay green in y zero again"),
        ("um bin blue at f two now", "bin blue at f two now"),
        ("set blue at", "set blue at a zero again"),
        ("", ""),
    ],
)
def test_snap_to_grid(text, expected):
    assert snap_to_grid(text) == expected


def test_whisper_bad_sources_are_one_clear_line(tmp_path, monkeypatch):
    with pytest.raises(TranscriberError, match="Whisper model folder not found"):
        make_transcriber(f"whisper:{tmp_path / 'missing'}")
    with pytest.raises(TranscriberError) as err:
        make_transcriber(f"whisper:{tmp_path}")  # a folder with no model
    assert str(err.value).startswith("cannot load Whisper model")
    assert "\n" not in str(err.value)
    with pytest.raises(TranscriberError, match="whisper needs a model"):
        make_transcriber("whisper")
    with pytest.raises(TranscriberError, match="grammar must be"):
        WhisperTranscriber(str(tmp_path), grammar="jsgf")


def test_uncached_hub_id_fails_fast_offline(monkeypatch):
    """No download retries: the cache, then HF_HUB_OFFLINE or a probe."""
    import speechbrain_v2s.judges_hf as judges_hf

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(TranscriberError, match="HF_HUB_OFFLINE is set"):
        make_transcriber("whisper:no-such-org/no-such-whisper")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(judges_hf, "_hub_reachable", lambda: False)
    with pytest.raises(HFModelError, match="the Hub cannot be reached"):
        WavLMSpeakerEmbedder("no-such-org/no-such-wavlm")
    assert time.monotonic() - start < 10


def test_load_pretrained_passes_local_files_only_for_folders(tmp_path):
    seen = []
    out = load_pretrained(
        [lambda s, **kw: seen.append(kw) or s], str(tmp_path), "thing"
    )
    assert out == [str(tmp_path)] and seen == [{"local_files_only": True}]


# ---------------------------------------------------------------- WavLM


def test_wavlm_embeddings_resampled_and_batched(tiny_wavlm):
    embed = make_speaker_model(f"wavlm:{tiny_wavlm}")
    assert isinstance(embed, WavLMSpeakerEmbedder)
    spy = embed.feature_extractor = Spy(embed.feature_extractor)
    wavs = torch.stack([tone(1.0, 120), tone(1.0, 300, seed=3)])
    emb = embed(wavs)
    assert emb.shape == (2, 8) and torch.isfinite(emb).all()
    assert spy.calls == [(16000, [16000, 16000])]
    # A random x-vector head gives tiny vectors: compare directions.
    cos = torch.nn.functional.cosine_similarity
    assert float(cos(embed(wavs[0]), emb[:1])) == pytest.approx(1.0, abs=1e-5)
    assert float(cos(emb[:1], emb[1:])) < 0.999


def test_wavlm_bad_sources(tmp_path):
    with pytest.raises(EvaluationError, match="speaker model folder not found"):
        make_speaker_model(f"wavlm:{tmp_path / 'missing'}")
    with pytest.raises(EvaluationError, match="cannot load speaker model"):
        make_speaker_model(f"wavlm:{tmp_path}")
    with pytest.raises(EvaluationError, match="wavlm needs a model"):
        make_speaker_model("wavlm:")


# ---------------------------------------------------------------- v2s-evaluate


@pytest.fixture(scope="module")
def tiny_manifest(tmp_path_factory):
    """3 references in a JSON manifest; Copy = the same audio, Other = others."""
    root = tmp_path_factory.mktemp("hf_eval")
    manifest = {}
    for i in range(3):
        wav = tone(1.0, 110 + 30 * i, seed=i)
        write_audio(root / "ref" / "s1" / f"u{i}.wav", wav)
        write_audio(root / "copy" / f"s1_u{i}.wav", wav)
        write_audio(root / "other" / f"s1_u{i}.wav", tone(1.0, 280 + 25 * i, 9 + i))
        manifest[f"s1_u{i}"] = {
            "wav": f"{{data_root}}/ref/s1/u{i}.wav",
            "text": "bin blue at f two now",
        }
    (root / "test.json").write_text(json.dumps(manifest))
    return root


def test_cli_rows_with_whisper_and_wavlm(
    tiny_manifest, tiny_whisper, tiny_wavlm, tmp_path, capsys
):
    out = tmp_path / "results"
    code = main(
        ["--manifest", str(tiny_manifest / "test.json"),
         "--data-root", str(tiny_manifest),
         "--gen-dir", str(tiny_manifest / "copy"), "--system", "Copy",
         "--gen-dir", str(tiny_manifest / "other"), "--system", "Other",
         "--asr", f"whisper:{tiny_whisper}:grid",
         "--speaker-model", f"wavlm:{tiny_wavlm}",
         "--out", str(out), "--no-progress"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    with open(out / "per_utterance.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and not any(r["error"] for r in rows)
    for row in rows:
        assert row["ref_text"] == "bin blue at f two now"
        assert 0 <= float(row["wer"]) and int(row["ref_words"]) == 6
        assert len(row["hyp"].split()) in (0, 6)  # the GRID grammar
    copy = [float(r["speaker_sim"]) for r in rows if r["system"] == "Copy"]
    other = [float(r["speaker_sim"]) for r in rows if r["system"] == "Other"]
    assert copy == pytest.approx([1.0] * 3, abs=1e-4)  # identical audio
    assert max(other) < 1.0 - 1e-4
    summary = json.loads((out / "summary.json").read_text())
    assert summary["speaker_model"] == f"wavlm:{tiny_wavlm}"
    assert summary["asr"].startswith("WhisperTranscriber(")
    assert summary["systems"]["Copy"]["speaker_sim"]["n"] == 3
    assert math.isfinite(summary["systems"]["Other"]["wer"]["mean"])
    md = (out / "summary.md").read_text().splitlines()
    assert "WER (%)" in md[0] and md[0].endswith("| SpkSim ↑ |")
    assert md[2].startswith("| Copy |") and md[3].startswith("| Other |")


@pytest.mark.parametrize(
    "option, message",
    [
        (["--asr", "whisper:/no/such/whisper"], "Whisper model folder not found"),
        (["--speaker-model", "wavlm:/no/such/wavlm"], "speaker model folder not"),
    ],
)
def test_cli_bad_hf_judge_is_one_error_line(
    tiny_manifest, tmp_path, capsys, option, message
):
    code = main(
        ["--ref-dir", str(tiny_manifest / "ref"), "--gen-dir",
         str(tiny_manifest / "ref"), "--out", str(tmp_path), "--no-progress"]
        + option
    )  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("v2s-evaluate: error:") and message in err[0]
