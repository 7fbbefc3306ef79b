#!/usr/bin/env python3
"""V2A fine-tuning on LRW: mouth-ROI video in, speech out.

Manifests by :func:`lrw_prepare.prepare_lrw` (release splits; the
YAML's ``words`` and ``max_per_word`` for a subset), then the rest of
:func:`speechbrain_v2s.training.recipe.run_v2a`.

    python train.py hparams/wave.yaml --data_folder /data/LRW \
        --pretrained_a2a results/a2a_wave/1234/a2a_model.ckpt
    torchrun --nproc_per_node=4 train.py hparams/mel.yaml --data_folder /data/LRW \
        --pretrained_a2a ...
"""

import os
import sys

from speechbrain_v2s.training.recipe import hparams_kwargs, run_v2a

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lrw_prepare import prepare_lrw  # noqa: E402

prepare_kwargs = hparams_kwargs("data_folder", "save_folder", "words", "max_per_word")

if __name__ == "__main__":
    run_v2a(prepare_lrw, prepare_kwargs)
