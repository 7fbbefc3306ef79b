#!/usr/bin/env python3
"""A tiny CTC GRID-word recogniser for the synthetic corpus: its offline WER judge.

pocketsphinx's HMMs, trained on real speech, get 37.5 % WER on clean espeak-ng
GRID sentences; a small model trained on the synthetic corpus's own audio is
the fairer judge for speech generated for that corpus. The audio-only corpus
(espeak-ng voices speaking GRID and free sentences) is generated on first use,
with a second corpus of new voices as the test set; only GRID sentences are
used (the vocabulary is GRID's 51 words). The best epoch (lowest validation
WER) is exported to a folder that ``EncoderASR.from_hparams`` loads:

    python train.py hparams/tiny_ctc.yaml
    python train.py hparams/tiny_ctc.yaml --number_of_epochs 5
    v2s-evaluate ... --asr synthetic:results/synthetic_asr_tiny_ctc/1234/asr_model

From Python (e.g. a demo): ``train_and_export("hparams/tiny_ctc.yaml",
["--output_folder", "out/asr"])`` returns the export folder and the WERs.
Measured numbers: README.md.
"""

import functools
import os
import shutil
import sys

import speechbrain as sb
import torch
from speechbrain.dataio.encoder import CTCTextEncoder

from speechbrain_v2s.asr import GRID_CTC_WORDS, grid_ctc_decode, grid_ctc_token_ids
from speechbrain_v2s.audio.io import load_audio
from speechbrain_v2s.data.grid_grammar import SLOTS as GRID_SLOTS
from speechbrain_v2s.training.recipe import load_recipe

HERE = os.path.dirname(os.path.abspath(__file__))

SPLITS = ("train", "valid", "test")

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


def prepare_synthetic_asr(
    unseen_folder,
    unseen_speakers,
    unseen_utterances_per_speaker,
    unseen_seed,
    **corpus,
):
    """Generate both corpora if missing, then write the three manifests.

    ``corpus``: the arguments of the synthetic A2A recipe's
    ``prepare_synthetic_audio`` (``data_folder``, ``save_folder``,
    ``speakers``, ...). ``train.json``/``valid.json`` split the utterances of
    the training voices; ``unseen/train.json`` (the test set) is every
    utterance of the second corpus, whose voice profiles come from another
    seed.
    """
    a2a = _synthetic_a2a_recipe()
    a2a.prepare_synthetic_audio(**corpus)
    a2a.prepare_synthetic_audio(
        **{
            **corpus,
            "data_folder": unseen_folder,
            "save_folder": os.path.join(corpus["save_folder"], "unseen"),
            "speakers": unseen_speakers,
            "utterances_per_speaker": unseen_utterances_per_speaker,
            "valid_ratio": 0.0,
            "seed": unseen_seed,
        }
    )


def prepare_kwargs(hparams):
    """Arguments of :func:`prepare_synthetic_asr` from the YAML."""
    return {
        **_synthetic_a2a_recipe().prepare_kwargs(hparams),
        "unseen_folder": hparams["unseen_folder"],
        "unseen_speakers": hparams["unseen_speakers"],
        "unseen_utterances_per_speaker": hparams["unseen_utterances_per_speaker"],
        "unseen_seed": hparams["unseen_seed"],
    }


@functools.cache
def _synthetic_a2a_recipe():
    """The synthetic A2A recipe's ``train.py`` (its corpus preparation is shared):
    loaded by path, since every recipe's file is called ``train.py``."""
    import importlib.util

    path = os.path.join(HERE, "..", "A2A", "train.py")
    spec = importlib.util.spec_from_file_location("synthetic_a2a_train", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def datasets_for(hparams, encoder):
    """DynamicItemDatasets (GRID sentences only) with ``sig`` (16 kHz),
    ``words`` and ``tokens``."""
    rate = hparams["sample_rate"]

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio(wav):
        return load_audio(wav, rate)

    @sb.utils.data_pipeline.takes("text")
    @sb.utils.data_pipeline.provides("words", "tokens")
    def text(transcript):
        words = transcript.lower().split()
        yield words
        yield encoder.encode_sequence_torch([word_token(w) for w in words])

    datasets = {}
    for split in SPLITS:
        path = hparams.get(f"{split}_json")
        if not path or not os.path.isfile(path):
            continue
        data = sb.dataio.dataset.DynamicItemDataset.from_json(path)
        data = data.filtered_sorted(
            key_test={"text": lambda t: is_grid_sentence(t.lower().split())}
        )
        if len(data) == 0:
            raise ValueError(f"{path}: no GRID sentences")
        data.add_dynamic_item(audio)
        data.add_dynamic_item(text)
        data.set_output_keys(["id", "sig", "words", "tokens"])
        datasets[split] = data
    return datasets


class CTCBrain(sb.Brain):
    """Features, convolutions, CTC loss; outside training the WER of
    GRID-constrained decoding (``WER``, used to keep the best epoch) and of
    plain greedy decoding (``WER_greedy``)."""

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

    def compute_objectives(self, predictions, batch, stage):
        """CTC loss; outside training also the transcripts' WERs."""
        log_probs, lens = predictions
        tokens, token_lens = batch.tokens
        loss = self.hparams.ctc_cost(log_probs, tokens, lens, token_lens)
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
            # Linear decay by epoch: at a constant rate the validation WER
            # kept jumping by 10 points from epoch to epoch.
            old_lr, new_lr = self.hparams.lr_annealing(epoch)
            sb.nnet.schedulers.update_learning_rate(self.optimizer, new_lr)
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": old_lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(meta=stats, min_keys=["WER"])
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"Epoch loaded": self.hparams.epoch_counter.current},
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


def train_and_export(hparams_file, overrides=()):
    """Prepare data, train, test on the unseen voices and export the best epoch.

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
        ``export_folder``, ``valid_wer`` (held-out utterances of the
        training voices) and ``test_wer`` (unseen voices), in percent.
    """
    hparams, run_opts, _ = load_recipe([hparams_file, *overrides])
    sb.utils.distributed.run_on_main(
        prepare_synthetic_asr, kwargs=prepare_kwargs(hparams)
    )
    encoder = grid_label_encoder(hparams)
    datasets = datasets_for(hparams, encoder)
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
    results = {}
    for split in ("valid", "test"):
        # evaluate() loads the checkpoint of the lowest validation WER.
        brain.eval_split = split
        brain.evaluate(
            datasets[split],
            min_key="WER",
            test_loader_kwargs=hparams["test_dataloader_opts"],
        )
        results[f"{split}_wer"] = float(brain.last_stats["WER"])
    results["export_folder"] = export_asr(hparams, encoder, hparams["export_folder"])
    return results


if __name__ == "__main__":
    print(train_and_export(sys.argv[1], sys.argv[2:]))
