"""The parts every recipe's ``train.py`` shares, so each stays a few lines long.

A recipe does: parse the command line (SpeechBrain's syntax), load its YAML,
prepare manifests (on the main process only), build datasets with the shared
pipelines, build :class:`V2SBrain` from the YAML, ``fit`` and ``evaluate``.

Example
-------
>>> hp = {"model": "m", "discriminator": None}
>>> sorted(brain_modules(hp, training_model="tm"))
['model']
"""

import logging
import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

from speechbrain_v2s.data.pipelines import audio_pipeline
from speechbrain_v2s.training.brain import V2SBrain
from speechbrain_v2s.training.strategies import TrainingModel

logger = logging.getLogger(__name__)


def load_recipe(argv=None):
    """Parse ``train.py hparams.yaml [--overrides]`` and create the experiment dir.

    Returns
    -------
    (hparams dict, run_opts dict, hparams_file path)
    """
    argv = sys.argv[1:] if argv is None else argv
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    # DDP: every process joins the group before anything else runs.
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    return hparams, run_opts, hparams_file


def audio_datasets(hparams, splits=("train", "valid", "test")):
    """DynamicItemDatasets with ``sig`` for each manifest ``<split>_json`` in hparams.

    Training items are random crops of ``crop_frames`` video frames; others are
    whole utterances. Missing split files (e.g. no test set) are skipped.

    Example
    -------
    >>> audio_datasets({}, splits=("train",))
    {}
    """
    datasets = {}
    for split in splits:
        path = hparams.get(f"{split}_json")
        if path is None:
            continue
        data = sb.dataio.dataset.DynamicItemDataset.from_json(path)
        max_duration = hparams.get(f"{split}_max_duration")
        if max_duration:
            data = data.filtered_sorted(key_max_value={"duration": max_duration})
        crop = hparams.get("crop_frames") if split == "train" else None
        data.add_dynamic_item(audio_pipeline(crop_frames=crop))
        data.set_output_keys(["id", "sig"])
        datasets[split] = data
    return datasets


def brain_modules(hparams, training_model=None):
    """The Brain's ``modules``: the (wrapped) model and, if any, the discriminator.

    Example
    -------
    >>> sorted(brain_modules({"model": 1, "discriminator": 2}, training_model=1))
    ['discriminator', 'model']
    """
    modules = {"model": training_model or TrainingModel(hparams["model"])}
    if hparams.get("discriminator") is not None:
        modules["discriminator"] = hparams["discriminator"]
    return modules


def build_brain(hparams, run_opts, training_model=None):
    """A :class:`V2SBrain` wired from the YAML, its checkpointer knowing all parts.

    The checkpointer gets the model, the discriminator and the epoch counter
    here (the optimizers and schedulers join in ``init_optimizers``), so recipe
    YAMLs need not repeat the list.
    """
    modules = brain_modules(hparams, training_model)
    checkpointer = hparams.get("checkpointer")
    if checkpointer is not None:
        for name, module in modules.items():
            if name not in checkpointer.recoverables:
                checkpointer.add_recoverable(name, module)
        if "counter" not in checkpointer.recoverables:
            checkpointer.add_recoverable("counter", hparams["epoch_counter"])
    return V2SBrain(
        modules=modules,
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=checkpointer,
    )


def fit_and_test(brain, hparams, datasets):
    """``brain.fit`` on train/valid, then ``brain.evaluate`` on the best checkpoint."""
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets.get("valid"),
        train_loader_kwargs=hparams["train_dataloader_opts"],
        valid_loader_kwargs=hparams.get("valid_dataloader_opts", {"batch_size": 1}),
    )
    if "test" in datasets:
        brain.evaluate(
            datasets["test"],
            min_key="mel_l1",
            test_loader_kwargs=hparams.get("test_dataloader_opts", {"batch_size": 1}),
        )
    return brain
