#!/usr/bin/env python3
"""V2A fine-tuning on LRS3: mouth-ROI video in, speech out.

Prepares the manifests, caches mouth ROIs (face landmarks → aligned 96x96
crops; once per video), initialises the decoder from A2A pre-training
(``--finetune_strategy``), trains, and scores the test set (STOI, ESTOI, PESQ):

    python train.py hparams/wave.yaml --data_folder /data/LRS3 \
        --pretrained_a2a results/a2a_wave/1234/a2a_decoder.ckpt
    torchrun --nproc_per_node=4 train.py hparams/mel.yaml --data_folder ... \
        --pretrained_a2a ...
"""

import os
import sys

from speechbrain_v2s.training.recipe import run_v2a

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lrs3_prepare import prepare_lrs3  # noqa: E402


def prepare_kwargs(hparams):
    """Arguments of :func:`lrs3_prepare.prepare_lrs3` from the YAML."""
    return {
        "data_folder": hparams["data_folder"],
        "save_folder": hparams["save_folder"],
        "include_pretrain": hparams.get("include_pretrain", False),
        "seed": hparams["seed"],
    }


if __name__ == "__main__":
    run_v2a(prepare_lrs3, prepare_kwargs)
