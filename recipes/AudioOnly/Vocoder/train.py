#!/usr/bin/env python3
"""HiFi-GAN vocoder for the mel family, at our mel settings (24 kHz, hop 240).

Trained once on the same audio as A2A pre-training and shipped beside the mel
models (V2A-MelSpec outputs mel; this turns it into a waveform). Same data
preparation and GAN loop as the A2A waveform recipe:

    python train.py hparams/hifigan.yaml --data_folders "[/data/LibriTTS]"
    python train.py hparams/tiny_hifigan.yaml \
        --data_folders "[results/synthetic/corpus_audio]"
"""

import os
import sys

from speechbrain_v2s.training.recipe import run_a2a

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "A2A")
)
from audio_prepare import prepare_audio  # noqa: E402
from train import prepare_kwargs  # noqa: E402

if __name__ == "__main__":
    run_a2a(prepare_audio, prepare_kwargs)
