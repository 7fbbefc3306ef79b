#!/usr/bin/env python3
"""V2A fine-tuning on the built-in synthetic audio-visual corpus (CPU-sized).

The corpus is generated on first use in GRID's layout and prepared by the GRID
recipe's own preparation, so this exercises the real pipeline end to end:

    (cd ../A2A && python train.py hparams/tiny_wave.yaml)     # pre-train first
    python train.py hparams/tiny_wave.yaml                      # then fine-tune
    python train.py hparams/tiny_wave.yaml --finetune_strategy scratch

The default ``pretrained_a2a`` is where the A2A run above writes its decoder
(``../A2A/results/...``, relative to this folder); see README.md.
"""

import os
import sys

from speechbrain_v2s.synthetic import ensure_corpus
from speechbrain_v2s.training.recipe import hparams_kwargs, run_v2a

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "GRID", "V2A"))
from grid_prepare import prepare_grid  # noqa: E402


def prepare_synthetic_av(
    data_folder, save_folder, synth_speakers, synth_utterances_per_speaker, split, seed
):
    """Generate the audio-visual corpus if it is not there, then write manifests."""
    ensure_corpus(
        data_folder,
        speakers=synth_speakers,
        utterances_per_speaker=synth_utterances_per_speaker,
        seed=seed,
    )
    prepare_grid(data_folder, save_folder, split=split, seed=seed, progress=False)


# The YAML keys are prepare_synthetic_av's argument names.
prepare_kwargs = hparams_kwargs(
    "data_folder",
    "save_folder",
    "synth_speakers",
    "synth_utterances_per_speaker",
    "split",
    "seed",
)


if __name__ == "__main__":
    run_v2a(prepare_synthetic_av, prepare_kwargs)
