"""Helpers for the tests of the ``<dataset>_prepare.py`` recipe scripts.

They build tiny fake corpora, run a script as a module, from its command line
or imported the way ``train.py`` imports it, and read back what it wrote.
"""

import csv
import doctest
import importlib
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
from recipe_runs import RECIPES

from speechbrain_v2s.data import manifests


def recipe_script(*parts):
    """Path of a file under ``recipes/``."""
    return os.path.join(RECIPES, *parts)


def load_script(path):
    """Execute a recipe script as a fresh module (``<name>_under_test``)."""
    spec = importlib.util.spec_from_file_location(
        os.path.basename(path)[:-3] + "_under_test", path
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def import_like_train_py(path):
    """Import a script by name from its folder, as ``train.py`` does; run its
    doctests. Returns the module."""
    folder = os.path.dirname(path)
    sys.path.insert(0, folder)
    try:
        module = importlib.import_module(os.path.basename(path)[:-3])
    finally:
        sys.path.remove(folder)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
    return module


def run_script(*args):
    """Run ``python <args>``; fail with its stderr unless it exits 0."""
    result = subprocess.run(
        [sys.executable, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


def tone(seconds, sr, amplitude=0.3, freq=220.0):
    """A sine: audio no silence check rejects."""
    t = np.arange(int(round(seconds * sr))) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_text(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def report_rows(save_folder):
    """The rows of ``prepare_report.csv`` in ``save_folder``, in file order."""
    with open(os.path.join(save_folder, manifests.REPORT_NAME)) as f:
        return list(csv.DictReader(f))
