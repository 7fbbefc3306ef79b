#!/usr/bin/env python3
"""V2A fine-tuning on GRID: mouth-ROI video in, speech out.

Manifests by :func:`grid_prepare.prepare_grid` (the YAML's ``split``:
``seen`` speakers or ``unseen``, from ``splits/``), then the rest of
:func:`speechbrain_v2s.training.recipe.run_v2a`.

    python train.py hparams/wave.yaml --data_folder /data/GRID --split unseen \
        --pretrained_a2a results/a2a_wave/1234/a2a_model.ckpt
    torchrun --nproc_per_node=4 train.py hparams/mel.yaml --data_folder /data/GRID \
        --pretrained_a2a ...
"""

import os
import sys

from speechbrain_v2s.training.recipe import hparams_kwargs, run_v2a

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grid_prepare import prepare_grid  # noqa: E402

prepare_kwargs = hparams_kwargs("data_folder", "save_folder", "seed", "split")

if __name__ == "__main__":
    run_v2a(prepare_grid, prepare_kwargs)
