#!/usr/bin/env python3
"""V2A fine-tuning on TCD-TIMIT: mouth-ROI video in, speech out.

Manifests by :func:`tcd_timit_prepare.prepare_tcd_timit` (seen-speaker
split of the volunteers, plus the lipspeakers with the YAML's
``include_lipspeakers``), then the rest of
:func:`speechbrain_v2s.training.recipe.run_v2a`.

    python train.py hparams/wave.yaml --data_folder /data/TCD-TIMIT \
        --include_lipspeakers True \
        --pretrained_a2a results/a2a_wave/1234/a2a_model.ckpt
    torchrun --nproc_per_node=4 train.py hparams/mel.yaml \
        --data_folder /data/TCD-TIMIT --pretrained_a2a ...
"""

import os
import sys

from speechbrain_v2s.training.recipe import hparams_kwargs, run_v2a

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcd_timit_prepare import prepare_tcd_timit  # noqa: E402

prepare_kwargs = hparams_kwargs(
    "data_folder", "save_folder", "seed", "include_lipspeakers"
)

if __name__ == "__main__":
    run_v2a(prepare_tcd_timit, prepare_kwargs)
