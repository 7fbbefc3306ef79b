"""Helpers for tests that run recipes as a user would: ``python train.py ...``."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = os.path.join(ROOT, "recipes")


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
    """Environment for recipe subprocesses: 1 thread each, no progress bars."""
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"})
    env.update(extra or {})
    return env
