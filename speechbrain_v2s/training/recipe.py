"""The parts every recipe's ``train.py`` shares, so each stays a few lines long.

A recipe does: parse the command line (SpeechBrain's syntax), load its YAML,
prepare manifests (on the main process only), build datasets with the shared
pipelines, build :class:`V2SBrain` from the YAML, ``fit`` and ``evaluate``.

The experiment is the YAML's, as in SpeechBrain's recipes: it declares the
Brain's ``modules`` and the ``checkpointer`` with its ``recoverables``; the code
here only wires them together. What depends on the run itself stays in code,
reading what the YAML declares: the fine-tuning strategy acts on the YAML's
training wrapper (:func:`build_training_model`), and the Brain registers the
optimizers and schedulers it builds from ``opt_class``/``sch_class`` (they
need the model's parameters, so no YAML can list them).

Example
-------
>>> import tempfile, torch
>>> from speechbrain.utils.epoch_loop import EpochCounter
>>> from speechbrain_v2s.training.checkpoints import SafeCheckpointer
>>> model, counter = torch.nn.Linear(1, 1), EpochCounter(1)
>>> ckpt = SafeCheckpointer(tempfile.mkdtemp(), {"model": model, "counter": counter})
>>> check_recoverables({"model": model}, ckpt, counter)
>>> check_recoverables({"model": model, "disc": torch.nn.Linear(1, 1)}, ckpt, counter)
Traceback (most recent call last):
...
ValueError: the checkpointer's recoverables lack disc: a resumed run ...
"""

import contextlib
import logging
import os
import sys

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_v2s.training.brain import V2SBrain

# Datasets live in their own module; recipes and tests import them from here.
from speechbrain_v2s.training.datasets import (  # noqa: F401
    SPLITS,
    audio_datasets,
    av_datasets,
    prepare_rois,
    roi_stats,
    speaker_encoder_needed,
    speaker_index,
    speaker_pipeline,
)
from speechbrain_v2s.training.strategies import (
    apply_finetune_strategy,
    check_pretrained_a2a,
)

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _speechbrain_logging_kept():
    """Run a recipe entry point in-process (a doctest, a notebook) and keep the
    caller's logging: SpeechBrain's experiment set-up adds stdout and
    ``log.txt`` handlers to the root logger, lowers its level, replaces
    ``sys.excepthook`` and sets ``SB_LOG_LEVEL``; its INFO lines are silenced
    meanwhile and all of that is put back afterwards.

    Example
    -------
    >>> before = logging.getLogger().handlers[:]
    >>> with _speechbrain_logging_kept():
    ...     logging.getLogger().addHandler(logging.NullHandler())
    >>> logging.getLogger().handlers == before
    True
    """
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.root.manager.disable
    hook, sb_level = sys.excepthook, os.environ.get("SB_LOG_LEVEL")
    logging.disable(logging.INFO)  # SpeechBrain logs "Beginning experiment!"
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in saved[0]:
                handler.close()
        root.handlers[:], sys.excepthook = saved[0], hook
        root.setLevel(saved[1])
        logging.disable(saved[2])
        if sb_level is None:
            os.environ.pop("SB_LOG_LEVEL", None)
        else:
            os.environ["SB_LOG_LEVEL"] = sb_level


def load_recipe(argv=None):
    """Parse ``train.py hparams.yaml [--overrides]`` and create the experiment dir.

    Returns
    -------
    (hparams dict, run_opts dict, hparams_file path)

    Example
    -------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> path = os.path.join(d, "hparams.yaml")
    >>> _ = open(path, "w").write(f"output_folder: {d}/run\\nlr: 0.1\\n")
    >>> with _speechbrain_logging_kept():  # SpeechBrain re-routes the logs
    ...     hparams, run_opts, hparams_file = load_recipe([path, "--lr", "0.5"])
    >>> hparams["lr"], hparams["output_folder"] == f"{d}/run", hparams_file == path
    (0.5, True, True)
    >>> sorted(os.listdir(os.path.join(d, "run")))
    ['env.log', 'hyperparams.yaml', 'log.txt', 'recipe.py']
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


def seed_run(hparams):
    """Seed every generator a run draws from with the YAML's ``seed``.

    Torch (the YAML's ``__set_seed`` seeded it before the model was built;
    this reseeds it for what follows: random crops, dataloader workers' seeds),
    NumPy, Python's ``random`` and the training sampler's shuffle order
    (SpeechBrain reads ``SB_GLOBAL_SEED``, a constant whatever the seed
    unless set). With ``deterministic: True`` in the YAML, torch's
    deterministic algorithms too (a warning, not an error, for an op that
    has none). The thread count is the caller's (``OMP_NUM_THREADS``): the
    same seed and thread count give the same run.

    Returns
    -------
    int or None
        The seed (``None``: the YAML's ``seed`` is null, nothing is seeded).

    Example
    -------
    >>> import os, torch
    >>> saved = os.environ.pop("SB_GLOBAL_SEED", None)
    >>> hparams = {"seed": 3, "deterministic": False}
    >>> seed_run(hparams), os.environ["SB_GLOBAL_SEED"]
    (3, '3')
    >>> first = torch.rand(2)
    >>> _ = seed_run(hparams)
    >>> torch.equal(first, torch.rand(2))
    True
    >>> _ = os.environ.pop("SB_GLOBAL_SEED")
    >>> if saved is not None:
    ...     os.environ["SB_GLOBAL_SEED"] = saved
    >>> seed_run({"seed": None}) is None
    True
    """
    seed = hparams["seed"]
    if seed is None:
        return None
    sb.utils.seed_everything(int(seed), verbose=False)
    if hparams["deterministic"]:
        torch.use_deterministic_algorithms(True, warn_only=True)
    return int(seed)


def check_recoverables(modules, checkpointer, epoch_counter):
    """Fail when the YAML's ``checkpointer`` would not save every Brain module
    and the epoch counter: a resumed run would silently start those afresh.

    Arguments
    ---------
    modules : dict
        The YAML's ``modules``.
    checkpointer : speechbrain.utils.checkpoints.Checkpointer or None
        The YAML's ``checkpointer`` (None: no checkpoints, nothing to check).
    epoch_counter : speechbrain.utils.epoch_loop.EpochCounter
        The YAML's ``epoch_counter`` (recoverable ``counter``).

    Raises
    ------
    ValueError
        A module or the counter that is not (the same object as) a recoverable
        of the same name.

    Example
    -------
    >>> import tempfile, torch
    >>> from speechbrain.utils.epoch_loop import EpochCounter
    >>> from speechbrain_v2s.training.checkpoints import SafeCheckpointer
    >>> model, counter = torch.nn.Linear(1, 1), EpochCounter(1)
    >>> ckpt = SafeCheckpointer(tempfile.mkdtemp(), {"model": torch.nn.Linear(1, 1)})
    >>> check_recoverables({"model": model}, ckpt, counter)
    Traceback (most recent call last):
    ...
    ValueError: the checkpointer's recoverables lack model, counter: ...
    >>> check_recoverables({"model": model}, None, counter)  # no checkpoints
    """
    if checkpointer is None:
        return
    wanted = {**modules, "counter": epoch_counter}
    recoverables = checkpointer.recoverables
    missing = [n for n, obj in wanted.items() if recoverables.get(n) is not obj]
    if missing:
        raise ValueError(
            f"the checkpointer's recoverables lack {', '.join(missing)}: a resumed "
            "run would start them afresh; list each of modules, and counter: "
            "!ref <epoch_counter>, under checkpointer: recoverables: in the YAML"
        )


def build_brain(hparams, run_opts):
    """A :class:`V2SBrain` wired from the YAML: its ``modules``, ``opt_class``
    and ``checkpointer`` (whose ``recoverables`` must hold every module and the
    epoch counter: :func:`check_recoverables`). The Brain adds itself and, in
    ``init_optimizers``, the optimizers and schedulers, as SpeechBrain does.

    Example
    -------
    >>> import functools, tempfile, torch
    >>> from speechbrain.utils.epoch_loop import EpochCounter
    >>> from speechbrain_v2s.training.checkpoints import SafeCheckpointer
    >>> from speechbrain_v2s.training.strategies import TrainingModel
    >>> training_model, counter = TrainingModel(torch.nn.Linear(1, 1)), EpochCounter(1)
    >>> hparams = {"modules": {"model": training_model},
    ...            "opt_class": functools.partial(torch.optim.SGD, lr=0.1),
    ...            "epoch_counter": counter,
    ...            "checkpointer": SafeCheckpointer(tempfile.mkdtemp(),
    ...                {"model": training_model, "counter": counter})}
    >>> brain = build_brain(hparams, {"device": "cpu"})
    >>> type(brain).__name__, type(brain.modules.model).__name__, brain.is_gan
    ('V2SBrain', 'TrainingModel', False)
    >>> sorted(hparams["checkpointer"].recoverables)
    ['brain', 'counter', 'model']
    """
    modules = hparams["modules"]
    check_recoverables(modules, hparams["checkpointer"], hparams["epoch_counter"])
    return V2SBrain(
        modules=modules,
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )


def fit_and_test(brain, hparams, datasets):
    """``brain.fit`` on train/valid, then ``brain.evaluate`` on the best checkpoint.

    With ``baseline_validation: True``, a fresh run (no checkpoint yet) first
    scores the untrained (or just initialised) model on the validation set and
    logs it as epoch 0: the reference that training must beat.

    Example
    -------
    A stand-in that records what is asked of the Brain (a real one would train):

    >>> from types import SimpleNamespace
    >>> class Recorder:
    ...     checkpointer = None  # a fresh run
    ...     hparams = SimpleNamespace(epoch_counter="epochs")
    ...     calls = []
    ...     def fit(self, epochs, train, valid, **loader_kwargs):
    ...         self.calls.append(("fit", epochs, train, valid))
    ...     def evaluate(self, data, min_key=None, **loader_kwargs):
    ...         self.calls.append(("evaluate", data, min_key, self.baseline_run))
    >>> hparams = {"baseline_validation": True, "train_dataloader_opts": {},
    ...            "valid_dataloader_opts": {}, "test_dataloader_opts": {}}
    >>> datasets = {"train": "T", "valid": "V", "test": "E"}
    >>> for call in fit_and_test(Recorder(), hparams, datasets).calls:
    ...     print(call)
    ('evaluate', 'V', None, True)
    ('fit', 'epochs', 'T', 'V')
    ('evaluate', 'E', 'mel_l1', False)
    >>> fit_and_test(Recorder(), {"train_json": "/data/trian.json"}, {})
    Traceback (most recent call last):
    ...
    FileNotFoundError: no training manifest: train_json '/data/trian.json' ...
    """
    if "train" not in datasets:
        raise FileNotFoundError(
            f"no training manifest: train_json {hparams['train_json']!r} "
            "does not exist (did the data preparation run, or is the path "
            "misspelled?)"
        )
    valid_kwargs = hparams["valid_dataloader_opts"]
    if (
        hparams["baseline_validation"]
        and "valid" in datasets
        and (brain.checkpointer is None or brain.checkpointer.find_checkpoint() is None)
    ):
        brain.baseline_run = True
        brain.evaluate(datasets["valid"], test_loader_kwargs=dict(valid_kwargs))
        brain.baseline_run = False
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets.get("valid"),
        train_loader_kwargs=dict(hparams["train_dataloader_opts"]),
        valid_loader_kwargs=dict(valid_kwargs),
    )
    if "test" in datasets:
        brain.evaluate(
            datasets["test"],
            min_key="mel_l1",
            test_loader_kwargs=dict(hparams["test_dataloader_opts"]),
        )
    return brain


def build_training_model(hparams):
    """Apply the ``finetune_strategy`` to the YAML's training wrapper
    (``modules["model"]``, the object its checkpointer saves as ``model``).

    The strategy depends on the run (a pre-trained A2A model to load, the A2A
    encoder that ``joint`` adds), so it stays in code: the A2A weights go into
    the wrapped V2A model, the decoder is frozen for ``freeze_decoder``, and
    for ``joint`` the YAML's ``a2a_model`` lends its encoder to the wrapper
    (so ``model.ckpt`` holds it, as the resumed run expects). Done before the
    Brain recovers a checkpoint, so a resumed run ends up with its own
    fine-tuned weights, not the pre-trained ones.

    Returns
    -------
    TrainingModel
        The YAML's wrapper itself.

    Example
    -------
    >>> import torch
    >>> from speechbrain_v2s.training.strategies import TrainingModel
    >>> model = torch.nn.Linear(1, 1)
    >>> hparams = {"modules": {"model": TrainingModel(model)},
    ...            "finetune_strategy": "scratch",
    ...            "pretrained_a2a": None, "strict_transfer": True}
    >>> wrapped = build_training_model(hparams)
    >>> wrapped is hparams["modules"]["model"], wrapped.model is model
    (True, True)
    >>> wrapped.a2a_encoder is None
    True
    >>> build_training_model({**hparams, "finetune_strategy": "init"})
    Traceback (most recent call last):
    ...
    ValueError: finetune_strategy=init needs pretrained_a2a
    """
    training_model = hparams["modules"]["model"]
    strategy = hparams["finetune_strategy"]
    prepared, report = apply_finetune_strategy(
        training_model.model,
        strategy,
        pretrained_a2a=hparams["pretrained_a2a"],
        a2a_model=hparams["a2a_model"] if strategy == "joint" else None,
        strict=hparams["strict_transfer"],
    )
    # The checkpointer holds the YAML's wrapper, not this new one: it takes
    # the joint strategy's A2A encoder (None for the other strategies).
    training_model.a2a_encoder = prepared.a2a_encoder
    if report is not None:
        logger.info("A2A transfer (%s): %s", strategy, report)
    return training_model


def hparams_kwargs(*keys):
    """A ``prepare_kwargs`` for :func:`run_a2a`/:func:`run_v2a`: YAML values by key.

    So a recipe names which YAML keys its prepare function takes instead of
    writing a function that copies them. Every key must be in the YAML (the
    experiment lives there: no value is filled in here).

    Arguments
    ---------
    *keys : str
        YAML keys, also the prepare function's argument names.

    Returns
    -------
    callable
        ``prepare_kwargs(hparams) -> {key: value}``.

    Example
    -------
    >>> prepare_kwargs = hparams_kwargs("data_folder", "seed", "split")
    >>> prepare_kwargs({"data_folder": "/data/GRID", "seed": 1, "split": "seen"})
    {'data_folder': '/data/GRID', 'seed': 1, 'split': 'seen'}
    >>> prepare_kwargs({"data_folder": "/data/GRID", "seed": 1})
    Traceback (most recent call last):
    ...
    KeyError: 'split'
    """

    def prepare_kwargs(hparams):
        return {key: hparams[key] for key in keys}

    return prepare_kwargs


def run_a2a(prepare=None, prepare_kwargs=None, argv=None):
    """Everything an A2A ``train.py`` does: prepare, build, fit, test.

    ``prepare`` (a manifest-writing function) runs on the main process with
    ``prepare_kwargs(hparams)`` unless the YAML sets ``skip_prep: True``.

    Example
    -------
    The whole path with a toy model and ``limit: 0`` (no epoch runs, so the
    manifest's audio is never read); the keys a run reads before its first
    epoch, all of them declared (no defaults in the code):

    >>> import json, os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> path = os.path.join(d, "hparams.yaml")
    >>> _ = open(path, "w").write(f'''
    ... seed: null
    ... skip_prep: False
    ... output_folder: {d}/run
    ... train_json: {d}/train.json
    ... valid_json: null
    ... test_json: null
    ... crop_frames: 20
    ... model: !new:torch.nn.Linear [1, 1]
    ... training_model: !new:speechbrain_v2s.training.strategies.TrainingModel
    ...     model: !ref <model>
    ... modules:
    ...     model: !ref <training_model>
    ... opt_class: !name:torch.optim.SGD {{lr: 0.1}}
    ... decoder_lr_scale: 1.0
    ... sch_class: null
    ... epoch_counter: !new:speechbrain.utils.epoch_loop.EpochCounter {{limit: 0}}
    ... checkpointer: !new:speechbrain_v2s.training.checkpoints.SafeCheckpointer
    ...     checkpoints_dir: {d}/run/save
    ...     recoverables:
    ...         model: !ref <training_model>
    ...         counter: !ref <epoch_counter>
    ... baseline_validation: False
    ... train_dataloader_opts: {{batch_size: 1}}
    ... valid_dataloader_opts: {{batch_size: 1}}
    ... ''')
    >>> def prepare(train_json):
    ...     with open(train_json, "w") as f:
    ...         json.dump({"u1": {"wav": "u1.wav", "duration": 1.0}}, f)
    >>> with _speechbrain_logging_kept():  # SpeechBrain re-routes the logs
    ...     brain = run_a2a(prepare, hparams_kwargs("train_json"), [path])
    >>> type(brain).__name__, os.path.isfile(os.path.join(d, "train.json"))
    ('V2SBrain', True)
    >>> brain.hparams.epoch_counter.current, brain.optimizer.param_groups[0]["lr"]
    (0, 0.1)
    """
    hparams, run_opts, _ = load_recipe(argv)
    seed_run(hparams)
    if prepare is not None and not hparams["skip_prep"]:
        sb.utils.distributed.run_on_main(prepare, kwargs=prepare_kwargs(hparams))
    datasets = audio_datasets(hparams)
    brain = build_brain(hparams, run_opts)
    return fit_and_test(brain, hparams, datasets)


def run_v2a(prepare=None, prepare_kwargs=None, argv=None):
    """Everything a V2A ``train.py`` does: prepare manifests, cache mouth ROIs,
    apply the fine-tuning strategy, fit, test.

    In order: ``prepare`` writes the manifests (main process, with
    ``prepare_kwargs(hparams)``; see :func:`hparams_kwargs`), mouth ROIs are
    cached (face landmarks → aligned 96x96 crops, once per video:
    :func:`prepare_rois`), the decoder is initialised from A2A pre-training as
    ``finetune_strategy`` says (:func:`build_training_model`), the model is
    trained and the test set scored (STOI, ESTOI, PESQ). The YAML's
    ``skip_prep: True`` skips the first two steps. A local ``pretrained_a2a``
    that a strategy other than ``scratch`` needs is checked first: missing, the
    run exits with one line naming the YAML, the path and the fix.

    Example
    -------
    The whole path with a toy model, a mouth ROI already cached (so no face
    detection runs) and ``limit: 0`` (no epoch runs):

    >>> import json, os, tempfile, numpy as np
    >>> from speechbrain_v2s.video.mouth_roi import save_roi
    >>> d = tempfile.mkdtemp()
    >>> save_roi(os.path.join(d, "rois", "u.npz"), np.full((2, 4, 4), 51, np.uint8))
    >>> path = os.path.join(d, "hparams.yaml")
    >>> _ = open(path, "w").write(f'''
    ... seed: null
    ... skip_prep: False
    ... output_folder: {d}/run
    ... save_folder: {d}/run
    ... data_folder: {d}
    ... train_json: {d}/train.json
    ... valid_json: null
    ... test_json: null
    ... roi_folder: {d}/rois
    ... already_cropped: True
    ... roi_detector: auto
    ... preprocess_jobs: 1
    ... progress: False
    ... roi_mean: null
    ... roi_std: null
    ... crop_frames: 2
    ... flip_prob: 0.5
    ... time_mask_frames: 0
    ... speaker_mode: none
    ... finetune_strategy: scratch
    ... pretrained_a2a: null
    ... strict_transfer: True
    ... model: !new:torch.nn.Linear [1, 1]
    ... training_model: !new:speechbrain_v2s.training.strategies.TrainingModel
    ...     model: !ref <model>
    ... modules:
    ...     model: !ref <training_model>
    ... opt_class: !name:torch.optim.SGD {{lr: 0.1}}
    ... decoder_lr_scale: 1.0
    ... sch_class: null
    ... epoch_counter: !new:speechbrain.utils.epoch_loop.EpochCounter {{limit: 0}}
    ... checkpointer: !new:speechbrain_v2s.training.checkpoints.SafeCheckpointer
    ...     checkpoints_dir: {d}/run/save
    ...     recoverables:
    ...         model: !ref <training_model>
    ...         counter: !ref <epoch_counter>
    ... baseline_validation: False
    ... train_dataloader_opts: {{batch_size: 1}}
    ... valid_dataloader_opts: {{batch_size: 1}}
    ... ''')
    >>> def prepare(train_json, data_folder):
    ...     with open(train_json, "w") as f:
    ...         json.dump({"u": {"video": f"{data_folder}/u.mp4", "wav": ""}}, f)
    >>> kwargs = hparams_kwargs("train_json", "data_folder")
    >>> with _speechbrain_logging_kept():  # SpeechBrain re-routes the logs
    ...     brain = run_v2a(prepare, kwargs, [path])
    >>> type(brain).__name__, type(brain.modules.model).__name__
    ('V2SBrain', 'TrainingModel')
    >>> sorted(f for f in os.listdir(os.path.join(d, "run")) if f.endswith(".json"))
    ['roi_stats.json', 'train_v2a.json']
    """
    hparams, run_opts, hparams_file = load_recipe(argv)
    try:  # before the corpus and ROIs are built, not after
        check_pretrained_a2a(hparams["finetune_strategy"], hparams["pretrained_a2a"])
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f"{hparams_file}: {err}")
    seed_run(hparams)
    if not hparams["skip_prep"]:
        if prepare is not None:
            sb.utils.distributed.run_on_main(prepare, kwargs=prepare_kwargs(hparams))
        sb.utils.distributed.run_on_main(prepare_rois, args=[hparams])
    datasets = av_datasets(hparams)
    build_training_model(hparams)
    brain = build_brain(hparams, run_opts)
    return fit_and_test(brain, hparams, datasets)
