#!/usr/bin/env python3
"""A2A pre-training on audio-only speech (the paper's first stage).

Trains an audio-to-audio encoder-decoder on any mix of audio corpora (a folder
of audio files, LibriTTS, LibriSpeech, VCTK, LJSpeech) and writes the
temporal+decoder weights (``a2a_decoder.ckpt``) that V2A recipes start from.

    python train.py hparams/wave.yaml --data_folders "[/data/LibriTTS, /data/VCTK]"
    torchrun --nproc_per_node=4 train.py hparams/mel.yaml --data_folders "[...]"
"""

import os
import sys

from speechbrain.utils.distributed import run_on_main

from speechbrain_v2s.training.recipe import (
    audio_datasets,
    build_brain,
    fit_and_test,
    load_recipe,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from audio_prepare import prepare_audio  # noqa: E402

if __name__ == "__main__":
    hparams, run_opts, _ = load_recipe()
    if not hparams.get("skip_prep", False):
        run_on_main(
            prepare_audio,
            kwargs={
                "data_folders": hparams["data_folders"],
                "save_folder": hparams["save_folder"],
                "layout": hparams.get("layout", "auto"),
                "valid_ratio": hparams.get("valid_ratio", 0.02),
                "min_duration": hparams.get("min_duration", 0.5),
                "max_duration": hparams.get("max_duration", 30.0),
                "seed": hparams["seed"],
            },
        )
    datasets = audio_datasets(hparams, splits=("train", "valid"))
    brain = build_brain(hparams, run_opts)
    fit_and_test(brain, hparams, datasets)
