#!/usr/bin/env python3
"""V2A fine-tuning on LRS3: mouth-ROI video in, speech out.

Manifests by :func:`lrs3_prepare.prepare_lrs3` (``trainval`` and, with the
YAML's ``include_pretrain``, ``pretrain`` for training; ``test`` as
released), then the rest of :func:`speechbrain_v2s.training.recipe.run_v2a`.

    python train.py hparams/wave.yaml --data_folder /data/LRS3 --include_pretrain True \
        --pretrained_a2a results/a2a_wave/1234/a2a_model.ckpt
    torchrun --nproc_per_node=4 train.py hparams/mel.yaml --data_folder /data/LRS3 \
        --pretrained_a2a ...
"""

import os
import sys

from speechbrain_v2s.training.recipe import hparams_kwargs, run_v2a

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lrs3_prepare import prepare_lrs3  # noqa: E402

prepare_kwargs = hparams_kwargs(
    "data_folder", "save_folder", "seed", "include_pretrain"
)

if __name__ == "__main__":
    run_v2a(prepare_lrs3, prepare_kwargs)
