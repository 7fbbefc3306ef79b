"""Helpers for tests that run recipes as a user would: ``python train.py ...``."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = os.path.join(ROOT, "recipes")
# The recipes' seed in the training tests (the YAMLs' 1234 unless set): runs
# are deterministic, so the tests' margins were measured over seeds with
# V2S_TEST_SEED=<seed> pytest tests/test_train_a2a.py tests/test_train_v2a.py
RUN_SEED = int(os.environ.get("V2S_TEST_SEED", "1234"))


def recipe_command(recipe, hparams, *overrides, python=sys.executable):
    """The command line of ``recipes/<recipe>/train.py <hparams> <overrides>``."""
    folder = os.path.join(RECIPES, recipe)
    return [python, os.path.join(folder, "train.py"), os.path.join(folder, hparams)] + [
        str(o) for o in overrides
    ]


def run_recipe(recipe, hparams, *overrides, cwd, timeout=900, env=None):
    """Run a recipe to completion; fail with its output if it fails."""
    cmd = recipe_command(recipe, hparams, *overrides)
    result = subprocess.run(
        cmd,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(env),
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )
    return result


def subprocess_env(extra=None):
    """Environment for recipe subprocesses: 1 thread each, no progress bars.

    One thread and a fixed hash seed (set iteration order) make a recipe run a
    function of its seed: the recipe seeds every generator (``seed_run``).

    Example
    -------
    >>> env = subprocess_env({"X": "1"})
    >>> env["OMP_NUM_THREADS"], env["PYTHONHASHSEED"], env["X"]
    ('1', '0', '1')
    """
    env = dict(os.environ)
    env.update(
        {
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OMP_WAIT_POLICY": "PASSIVE",
            "PYTHONHASHSEED": "0",
            "TQDM_DISABLE": "1",
        }
    )
    env.update(extra or {})
    return env


def run_recipe_in_process(recipe, hparams, *overrides):
    """Run ``recipes/<recipe>/train.py`` in this process, as ``python train.py``
    would (``__main__``, its folder first on ``sys.path``, the same argv).

    For tests that run many recipes briefly: a subprocess would spend more
    time importing torch and SpeechBrain than training. The caller's argv,
    ``sys.path``, environment and logging are put back afterwards; a recipe
    that exits (``sys.exit``) fails the test with its message.
    """
    import runpy

    from speechbrain_v2s.training.recipe import _speechbrain_logging_kept

    argv = recipe_command(recipe, hparams, *overrides)[1:]
    saved = sys.argv[:], sys.path[:], dict(os.environ)
    # recipes import their neighbours by name (train, <dataset>_prepare)
    sys.modules.pop("train", None)
    try:
        sys.argv[:] = argv
        sys.path.insert(0, os.path.dirname(argv[0]))
        with _speechbrain_logging_kept():
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as stop:
        raise AssertionError(f"{' '.join(argv)} exited: {stop.code}") from None
    finally:
        sys.argv[:], sys.path[:] = saved[0], saved[1]
        os.environ.clear()
        os.environ.update(saved[2])
        sys.modules.pop("train", None)
