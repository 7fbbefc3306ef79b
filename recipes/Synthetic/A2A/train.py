#!/usr/bin/env python3
"""A2A pre-training on the built-in synthetic audio-only corpus (CPU-sized).

The corpus (espeak-ng voices speaking GRID sentences) is generated on first use,
then the run is the same as ``recipes/AudioOnly/A2A`` on a real corpus:

    python train.py hparams/tiny_wave.yaml
    python train.py hparams/tiny_mel.yaml --number_of_epochs 5
"""

import os
import sys

from speechbrain_v2s.synthetic import ensure_corpus
from speechbrain_v2s.training.recipe import hparams_kwargs, run_a2a

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "AudioOnly", "A2A"))
from audio_prepare import prepare_audio  # noqa: E402


def prepare_synthetic_audio(
    data_folder,
    save_folder,
    synth_speakers,
    synth_utterances_per_speaker,
    synth_grid_fraction,
    valid_ratio,
    seed,
):
    """Generate the audio-only corpus if it is not there, then write manifests."""
    ensure_corpus(
        data_folder,
        speakers=synth_speakers,
        utterances_per_speaker=synth_utterances_per_speaker,
        seed=seed,
        audio_only=True,
        grid_fraction=synth_grid_fraction,
    )
    prepare_audio(
        [data_folder], save_folder, valid_ratio=valid_ratio, seed=seed, progress=False
    )


# The YAML keys are prepare_synthetic_audio's argument names.
prepare_kwargs = hparams_kwargs(
    "data_folder",
    "save_folder",
    "synth_speakers",
    "synth_utterances_per_speaker",
    "synth_grid_fraction",
    "valid_ratio",
    "seed",
)


if __name__ == "__main__":
    run_a2a(prepare_synthetic_audio, prepare_kwargs)
