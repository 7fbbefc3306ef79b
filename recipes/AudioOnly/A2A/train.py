#!/usr/bin/env python3
"""A2A pre-training on audio-only speech (the paper's first stage).

Trains an audio-to-audio encoder-decoder on any mix of audio corpora (a folder
of audio files, LibriTTS, LibriSpeech, VCTK, LJSpeech) and writes the model
(``a2a_model.ckpt``) whose temporal module and decoder V2A recipes start from.

    python train.py hparams/wave.yaml --data_folders "[/data/LibriTTS, /data/VCTK]"
    torchrun --nproc_per_node=4 train.py hparams/mel.yaml --data_folders "[...]"
"""

import os
import sys

from speechbrain_v2s.training.recipe import hparams_kwargs, run_a2a

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from audio_prepare import prepare_audio  # noqa: E402

# The Vocoder recipe imports this: it prepares the same data.
prepare_kwargs = hparams_kwargs(
    "data_folders",
    "save_folder",
    "seed",
    "layout",
    "valid_ratio",
    "min_duration",
    "max_duration",
)

if __name__ == "__main__":
    run_a2a(prepare_audio, prepare_kwargs)
