#!/usr/bin/env python3
"""A GRID-word recogniser for the synthetic corpus: its offline WER judge.

pocketsphinx's HMMs, trained on real speech, get 37.5 % WER on clean espeak-ng
GRID sentences; a small model trained on the synthetic corpus's own audio is
the fairer judge for speech generated for that corpus. It trains on an
audio-only corpus of GRID sentences spoken by many espeak-ng voices (240 by
default, generated on first use), with a cross-entropy loss on every output
frame against the word timings espeak reports (the corpus's meta JSON): the
word's label on its frames, blank elsewhere. That converges in a few CPU
epochs where CTC alone spends its first ones emitting blanks, and the outputs
still decode as CTC (collapse repeats, drop blanks: GRID never says a word twice
in a row), freely or restricted to GRID sentences
(:func:`speechbrain_v2s.asr.grid_ctc_decode`). After training it scores held-out
voices of the training corpus (validation: keeps the best epoch), a second
audio-only corpus of other voices, and the real audio of the audio-visual
corpora the demo and the benchmarks score, and exports the best epoch to a
folder that ``EncoderASR.from_hparams`` loads:

    python train.py hparams/tiny_ctc.yaml
    v2s-evaluate ... --asr synthetic:results/synthetic_asr_tiny_ctc/1234/asr_model

The package ships this default run's export (``make_transcriber("synthetic")``,
``v2s-evaluate --asr synthetic``). From Python (e.g. a demo):
``train_and_export("hparams/tiny_ctc.yaml", ["--output_folder", "out/asr"])``
returns the export folder and the WERs. Measured numbers: README.md.
"""

import json
import os
import shutil
import sys

import speechbrain as sb
import torch
from speechbrain.dataio.encoder import CTCTextEncoder

from speechbrain_v2s.asr import GRID_CTC_WORDS, grid_ctc_decode, grid_ctc_token_ids
from speechbrain_v2s.audio.io import load_audio
from speechbrain_v2s.prepare import write_json_atomic
from speechbrain_v2s.synthetic import AUDIO_DIR, META_DIR, ensure_corpus
from speechbrain_v2s.synthetic.grid_grammar import SLOTS as GRID_SLOTS
from speechbrain_v2s.training.recipe import load_recipe

HERE = os.path.dirname(os.path.abspath(__file__))

MODEL_YAML = os.path.join(HERE, "..", "..", "..", "hparams", "tiny_ctc_asr.yaml")
WEIGHTS = ("model", "ctc_lin")  # state dicts; normalize has its own saver


def word_token(word):
    """The CTC label of a word: the word and a space.

    SpeechBrain's ``EncoderASR`` joins greedy CTC labels with no separator,
    so word labels carry their own space.

    Example
    -------
    >>> "".join(word_token(w) for w in "bin blue".split()).strip()
    'bin blue'
    """
    return f"{word} "


def is_grid_sentence(words):
    """Whether ``words`` is a GRID sentence (one word of each slot, in order).

    Example
    -------
    >>> is_grid_sentence("bin blue at f two now".split())
    True
    >>> is_grid_sentence("the old man found a red box".split())
    False
    """
    return len(words) == len(GRID_SLOTS) and all(
        word in options for word, (_, options) in zip(words, GRID_SLOTS)
    )


def grid_label_encoder(hparams):
    """GRID's words as CTC labels (blank first, then sorted), saved once.

    The layout :func:`speechbrain_v2s.asr.grid_ctc_token_ids` describes.

    Example
    -------
    >>> import os, tempfile
    >>> hp = {"label_encoder_file": os.path.join(tempfile.mkdtemp(), "l.txt"),
    ...       "blank_index": 0, "output_neurons": 52}
    >>> enc = grid_label_encoder(hp)
    >>> len(enc), enc.decode_ndim([enc.lab2ind["bin "], enc.lab2ind["now "]])
    (52, ['bin ', 'now '])
    """
    encoder = CTCTextEncoder()
    path = hparams["label_encoder_file"]
    if not encoder.load_if_possible(path):
        encoder.insert_blank(index=hparams["blank_index"])
        encoder.update_from_iterable(
            [word_token(w) for w in GRID_CTC_WORDS], sequence_input=False
        )
        encoder.save(path)
    # grid_ctc_decode (the exported model's decoder) relies on this layout.
    expected = grid_ctc_token_ids(hparams["blank_index"])
    if any(encoder.lab2ind.get(word_token(w)) != i for w, i in expected.items()):
        raise ValueError(f"{path}: labels are not in grid_ctc_token_ids order")
    if len(encoder) != hparams["output_neurons"]:
        raise ValueError(
            f"{path}: {len(encoder)} labels but output_neurons is "
            f"{hparams['output_neurons']} (hparams/tiny_ctc_asr.yaml)"
        )
    return encoder


def synthetic_manifest(folder):
    """The GRID sentences of a generated synthetic corpus, as manifest entries.

    Works for both layouts of :mod:`speechbrain_v2s.synthetic`
    (audio-only ``<spk>/<utt>.wav``, audio-visual ``audio_25k/<spk>/<utt>.wav``);
    every utterance has a ``meta/<spk>/<utt>.json`` with its word timings,
    which the frame-level loss reads.

    Arguments
    ---------
    folder : str
        Corpus root (with ``corpus.json``).

    Returns
    -------
    dict
        ``"<spk>_<utt>"`` -> ``{"wav", "meta", "text", "spk_id", "duration"}``,
        in speaker and utterance order.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_v2s.synthetic import generate_corpus
    >>> out = tempfile.mkdtemp()
    >>> _ = generate_corpus(out, 1, 2, audio_only=True, jobs=1, progress=False,
    ...                     grid_fraction=1.0)
    >>> entries = synthetic_manifest(out)
    >>> sorted(entries), sorted(entries["a1_u0001"])
    (['a1_u0001', 'a1_u0002'], ['duration', 'meta', 'spk_id', 'text', 'wav'])
    """
    with open(os.path.join(folder, "corpus.json"), encoding="utf-8") as handle:
        summary = json.load(handle)
    audio_root = (
        folder if summary["layout"] == "folder" else os.path.join(folder, AUDIO_DIR)
    )
    entries = {}
    for spk in summary["speakers"]:
        meta_dir = os.path.join(folder, META_DIR, spk)
        for name in sorted(os.listdir(meta_dir)):
            utt = name[: -len(".json")]
            meta_path = os.path.join(meta_dir, name)
            with open(meta_path, encoding="utf-8") as handle:
                meta = json.load(handle)
            if not is_grid_sentence(meta["text"].split()):
                continue
            entries[f"{spk}_{utt}"] = {
                "wav": os.path.join(audio_root, spk, utt + ".wav"),
                "meta": meta_path,
                "text": meta["text"],
                "spk_id": spk,
                "duration": meta["duration"],
            }
    return entries


def split_by_voice(entries, valid_ratio):
    """Hold out the last ``valid_ratio`` of the voices (at least one if > 0).

    Validation on voices the model never heard picks the epoch that
    generalises to new voices, which is what the judge is for.

    Example
    -------
    >>> e = {f"a{s}_u{u}": {"spk_id": f"a{s}"} for s in range(1, 5) for u in (1, 2)}
    >>> train, valid = split_by_voice(e, 0.25)
    >>> len(train), sorted({v["spk_id"] for v in valid.values()})
    (6, ['a4'])
    """
    voices = list(dict.fromkeys(e["spk_id"] for e in entries.values()))
    held = int(round(len(voices) * valid_ratio))
    if valid_ratio > 0:
        held = min(max(held, 1), len(voices) - 1)
    valid_voices = set(voices[len(voices) - held :]) if held else set()
    train = {k: e for k, e in entries.items() if e["spk_id"] not in valid_voices}
    valid = {k: e for k, e in entries.items() if e["spk_id"] in valid_voices}
    return train, valid


def prepare_synthetic_asr(
    data_folder,
    save_folder,
    speakers,
    utterances_per_speaker,
    valid_ratio,
    seed,
    unseen_folder,
    unseen_speakers,
    unseen_utterances_per_speaker,
    unseen_seed,
    av_test_folder=None,
    av_test_sets=None,
    av_test_utterances_per_speaker=15,
    jobs=None,
    train_json=None,
    valid_json=None,
    test_json=None,
):
    """Generate the corpora that are missing, then write the manifests
    (``train_json``/``valid_json``/``test_json``: their paths, by default
    ``<save_folder>/<split>.json``).

    ``train.json``/``valid.json``: the audio-only training corpus (GRID
    sentences only, ``speakers`` voices of ``seed``), split by voice.
    ``test.json``: a second audio-only corpus of other voices (``unseen_*``).
    ``av_<name>.json``: the real audio of each audio-visual corpus in
    ``av_test_sets`` (``{name: {"seed", "speakers"}}``: the voices the demo
    and the benchmarks score; audio-visual voices come from another seed
    stream than audio-only ones, so the judge never trains on them).

    Returns
    -------
    dict
        Split name -> manifest path.
    """
    # GRID sentences only: the judge's words are GRID's.
    options = {"grid_fraction": 1.0, "jobs": jobs, "progress": False}
    ensure_corpus(
        data_folder,
        speakers=speakers,
        utterances_per_speaker=utterances_per_speaker,
        seed=seed,
        audio_only=True,
        **options,
    )
    train, valid = split_by_voice(synthetic_manifest(data_folder), valid_ratio)
    given = {"train": train_json, "valid": valid_json, "test": test_json}
    paths = {
        split: path or os.path.join(save_folder, f"{split}.json")
        for split, path in given.items()
    }
    write_json_atomic(paths["train"], train)
    write_json_atomic(paths["valid"], valid)
    ensure_corpus(
        unseen_folder,
        speakers=unseen_speakers,
        utterances_per_speaker=unseen_utterances_per_speaker,
        seed=unseen_seed,
        audio_only=True,
        **options,
    )
    write_json_atomic(paths["test"], synthetic_manifest(unseen_folder))
    for name, spec in (av_test_sets or {}).items():
        folder = os.path.join(av_test_folder, f"{name}_seed{spec['seed']}")
        ensure_corpus(
            folder,
            speakers=spec["speakers"],
            utterances_per_speaker=av_test_utterances_per_speaker,
            seed=spec["seed"],
            **options,
        )
        paths[f"av_{name}"] = os.path.join(save_folder, f"av_{name}.json")
        write_json_atomic(paths[f"av_{name}"], synthetic_manifest(folder))
    return paths


def prepare_kwargs(hparams):
    """Arguments of :func:`prepare_synthetic_asr` from the YAML."""
    return {
        "data_folder": hparams["data_folder"],
        "save_folder": hparams["save_folder"],
        "speakers": hparams["synth_speakers"],
        "utterances_per_speaker": hparams["synth_utterances_per_speaker"],
        "valid_ratio": hparams["valid_ratio"],
        "seed": hparams["synth_seed"],
        "unseen_folder": hparams["unseen_folder"],
        "unseen_speakers": hparams["unseen_speakers"],
        "unseen_utterances_per_speaker": hparams["unseen_utterances_per_speaker"],
        "unseen_seed": hparams["unseen_seed"],
        "av_test_folder": hparams["av_test_folder"],
        "av_test_sets": hparams["av_test_sets"],
        "av_test_utterances_per_speaker": hparams["av_test_utterances_per_speaker"],
        "jobs": hparams["synth_jobs"],
        "train_json": hparams["train_json"],
        "valid_json": hparams["valid_json"],
        "test_json": hparams["test_json"],
    }


def datasets_for(hparams, encoder, paths):
    """DynamicItemDatasets with ``sig`` (16 kHz), ``words``, ``tokens`` and
    ``spans`` (``[words, 3]``: token id, start and end in seconds, from the
    utterance's meta JSON), one per manifest in ``paths``."""
    rate = hparams["sample_rate"]

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio(wav):
        return load_audio(wav, rate)

    @sb.utils.data_pipeline.takes("meta")
    @sb.utils.data_pipeline.provides("words", "tokens", "spans")
    def text(meta_path):
        with open(meta_path, encoding="utf-8") as handle:
            meta = json.load(handle)
        words = [w.lower() for w, _, _ in meta["words"]]
        yield words
        tokens = encoder.encode_sequence_torch([word_token(w) for w in words])
        yield tokens
        times = torch.tensor([[s, e] for _, s, e in meta["words"]])
        yield torch.cat([tokens.float().unsqueeze(1), times], dim=1)

    datasets = {}
    for split, path in paths.items():
        data = sb.dataio.dataset.DynamicItemDataset.from_json(path)
        if len(data) == 0:
            raise ValueError(f"{path}: no GRID sentences")
        data.add_dynamic_item(audio)
        data.add_dynamic_item(text)
        data.set_output_keys(["id", "sig", "words", "tokens", "spans"])
        datasets[split] = data
    return datasets


def frame_targets(spans, frames, frame_seconds, blank_index=0):
    """Per-frame word labels from word timings: blank outside the words.

    Output frame ``i`` of the model is centred at ``i * frame_seconds``; a
    word labels the frames whose centres fall inside it, and a word too
    short to hold a centre gets the frame nearest to its middle. GRID never
    says a word twice in a row, so collapsing repeats of these targets (CTC
    greedy decoding) gives back the transcript.

    Arguments
    ---------
    spans : torch.Tensor
        ``[words, 3]``: token id, start and end (s); rows with end <= start
        (padding, words espeak merged away) label nothing.
    frames : int
        Number of output frames.
    frame_seconds : float
        Time between output frames.
    blank_index : int
        Label of frames outside every word.

    Returns
    -------
    torch.Tensor
        ``[frames]`` int64 labels.

    Example
    -------
    >>> spans = torch.tensor([[5.0, 0.1, 0.3], [9.0, 0.3, 0.32]])
    >>> frame_targets(spans, 10, 0.04).tolist()
    [0, 0, 0, 5, 5, 5, 5, 5, 9, 0]
    """
    centres = torch.arange(frames, dtype=torch.float64) * frame_seconds
    target = torch.full((frames,), blank_index, dtype=torch.long)
    for token, start, end in spans.tolist():
        if end <= start:
            continue
        inside = (centres >= start) & (centres < end)
        if inside.any():
            target[inside] = int(token)
        else:
            nearest = int(round((start + end) / 2 / frame_seconds))
            if nearest < frames:
                target[nearest] = int(token)
    return target


class CTCBrain(sb.Brain):
    """Features, convolutions, a frame-level word loss (cross-entropy on the
    labels :func:`frame_targets` makes from the corpus's word timings) plus
    optionally CTC; outside training the WER of GRID-constrained decoding
    (``WER``, used to keep the best epoch) and of plain greedy CTC decoding
    (``WER_greedy``)."""

    def compute_forward(self, batch, stage):
        """Log-probabilities ``[batch, frames, labels]`` and relative lengths."""
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        if stage == sb.Stage.TRAIN and torch.rand(()) < self.hparams.noise_probability:
            wavs = self.hparams.add_noise(wavs, lens)
        feats = self.hparams.compute_features(wavs)
        feats = self.modules.normalize(
            feats, lens, epoch=self.hparams.epoch_counter.current
        )
        logits = self.modules.ctc_lin(self.modules.model(feats))
        return self.hparams.log_softmax(logits), lens

    def frame_loss(self, log_probs, lens, spans):
        """Mean cross-entropy over the real (unpadded) frames."""
        frames = log_probs.shape[1]
        targets = torch.stack(
            [
                frame_targets(
                    s, frames, self.hparams.frame_seconds, self.hparams.blank_index
                )
                for s in spans.cpu()
            ]
        ).to(log_probs.device)
        valid = (
            torch.arange(frames, device=log_probs.device)[None, :]
            < (lens[:, None] * frames).round()
        )
        targets = targets.masked_fill(~valid, -100)
        return torch.nn.functional.nll_loss(
            log_probs.transpose(1, 2), targets, ignore_index=-100
        )

    def compute_objectives(self, predictions, batch, stage):
        """Weighted frame cross-entropy + CTC; outside training also the WERs."""
        log_probs, lens = predictions
        tokens, token_lens = batch.tokens
        spans, _ = batch.spans
        loss = 0.0
        if self.hparams.frame_ce_weight > 0:
            loss = loss + self.hparams.frame_ce_weight * self.frame_loss(
                log_probs, lens, spans
            )
        if self.hparams.ctc_weight > 0:
            loss = loss + self.hparams.ctc_weight * self.hparams.ctc_cost(
                log_probs, tokens, lens, token_lens
            )
        if stage != sb.Stage.TRAIN:
            blank = self.hparams.blank_index
            for stats, decode in (
                (self.wer_stats, grid_ctc_decode),  # what the export uses
                (self.greedy_stats, sb.decoders.ctc_greedy_decode),
            ):
                hyps = decode(log_probs, lens, blank_id=blank)
                words = [
                    "".join(self.label_encoder.decode_ndim(h)).split() for h in hyps
                ]
                stats.append(batch.id, words, batch.words)
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Fresh WER statistics for each validation/test pass."""
        if stage != sb.Stage.TRAIN:
            self.wer_stats = self.hparams.error_stats()
            self.greedy_stats = self.hparams.error_stats()

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log; keep the checkpoint of the best validation WER."""
        stats = {"loss": stage_loss}
        if stage != sb.Stage.TRAIN:
            stats["WER"] = self.wer_stats.summarize("error_rate")
            stats["WER_greedy"] = self.greedy_stats.summarize("error_rate")
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
        elif stage == sb.Stage.VALID:
            old_lr, new_lr = self.hparams.lr_annealing(epoch)
            sb.nnet.schedulers.update_learning_rate(self.optimizer, new_lr)
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": old_lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            # Ties (e.g. 0 % WER) go to the lower validation loss.
            self.checkpointer.save_and_keep_only(
                meta={**stats, "WER_loss": stats["WER"] + 1e-3 * stage_loss},
                min_keys=["WER_loss"],
            )
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={
                    "Epoch loaded": self.hparams.epoch_counter.current,
                    "set": self.eval_split,
                },
                test_stats=stats,
            )
            path = os.path.join(
                self.hparams.output_folder, f"wer_{self.eval_split}.txt"
            )
            with open(path, "w", encoding="utf-8") as handle:
                self.wer_stats.write_stats(handle)
        self.last_stats = stats


def export_asr(hparams, label_encoder, export_folder):
    """Write the model in its current state as an ``EncoderASR`` folder.

    ``hyperparams.yaml`` (a copy of ``hparams/tiny_ctc_asr.yaml``),
    ``normalize.ckpt`` (the feature statistics), ``model.ckpt``,
    ``ctc_lin.ckpt`` and ``tokenizer.ckpt`` (the word labels).

    Returns
    -------
    str
        ``export_folder``.
    """
    os.makedirs(export_folder, exist_ok=True)
    shutil.copyfile(MODEL_YAML, os.path.join(export_folder, "hyperparams.yaml"))
    hparams["normalize"]._save(os.path.join(export_folder, "normalize.ckpt"))
    for name in WEIGHTS:
        torch.save(
            hparams[name].state_dict(), os.path.join(export_folder, f"{name}.ckpt")
        )
    label_encoder.save(os.path.join(export_folder, "tokenizer.ckpt"))
    return export_folder


def accuracy_table(results):
    """Markdown table of the evaluated sets (see :func:`train_and_export`).

    Example
    -------
    >>> print(accuracy_table({"valid": {"voices": 2, "utterances": 10,
    ...     "wer": 1.0, "wer_greedy": 2.5}}))
    | set | voices | utterances | WER grammar (%) | WER free (%) |
    |---|---|---|---|---|
    | valid | 2 | 10 | 1.0 | 2.5 |
    """
    lines = [
        "| set | voices | utterances | WER grammar (%) | WER free (%) |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['voices']} | {r['utterances']} | {r['wer']:.1f} | "
            f"{r['wer_greedy']:.1f} |"
        )
    return "\n".join(lines)


def train_and_export(hparams_file, overrides=()):
    """Prepare data, train, score every held-out set and export the best epoch.

    Arguments
    ---------
    hparams_file : str
        The recipe YAML (e.g. ``hparams/tiny_ctc.yaml``).
    overrides : sequence of str
        Command-line style overrides and run options
        (``["--number_of_epochs", "5", "--device", "cpu"]``).

    Returns
    -------
    dict
        ``export_folder``; ``valid_wer`` (held-out voices of the training
        corpus) and ``test_wer`` (the unseen-voice corpus), in percent
        (GRID-grammar decoding); ``sets``: per set (``valid``, ``test``,
        ``av_<name>``) its voices, utterances, ``wer`` and ``wer_greedy``
        (free decoding), also written to ``<output_folder>/accuracy.json``
        and, as a table, ``accuracy.md``.
    """
    hparams, run_opts, _ = load_recipe([hparams_file, *overrides])
    paths = sb.utils.distributed.run_on_main(
        prepare_synthetic_asr, kwargs=prepare_kwargs(hparams)
    )
    encoder = grid_label_encoder(hparams)
    datasets = datasets_for(hparams, encoder, paths)
    brain = CTCBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.label_encoder = encoder
    brain.fit(
        hparams["epoch_counter"],
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=hparams["train_dataloader_opts"],
        valid_loader_kwargs=hparams["valid_dataloader_opts"],
    )
    sets = {}
    for split, data in datasets.items():
        if split == "train":
            continue
        # evaluate() loads the checkpoint of the lowest validation WER.
        brain.eval_split = split
        brain.evaluate(
            data,
            min_key="WER_loss",
            test_loader_kwargs=hparams["test_dataloader_opts"],
        )
        with open(paths[split], encoding="utf-8") as handle:
            entries = json.load(handle)
        sets[split] = {
            "voices": len({e["spk_id"] for e in entries.values()}),
            "utterances": len(entries),
            "wer": float(brain.last_stats["WER"]),
            "wer_greedy": float(brain.last_stats["WER_greedy"]),
        }
    folder = hparams["output_folder"]
    with open(os.path.join(folder, "accuracy.json"), "w", encoding="utf-8") as f:
        json.dump(sets, f, indent=2)
    with open(os.path.join(folder, "accuracy.md"), "w", encoding="utf-8") as f:
        f.write(accuracy_table(sets) + "\n")
    return {
        "export_folder": export_asr(hparams, encoder, hparams["export_folder"]),
        "valid_wer": sets["valid"]["wer"],
        "test_wer": sets["test"]["wer"],
        "sets": sets,
    }


if __name__ == "__main__":
    summary = train_and_export(sys.argv[1], sys.argv[2:])
    print(accuracy_table(summary.pop("sets")))
    print(summary)
