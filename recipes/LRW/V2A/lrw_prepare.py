#!/usr/bin/env python3
"""Manifests for LRW (Lip Reading in the Wild), splits as released.

Layout: ``<root>/[lipread_mp4/]<WORD>/{train,val,test}/<WORD>_<00001>.mp4``,
each with a ``.txt`` beside it (``Word: ABOUT`` and ``Duration: 0.53 seconds``
lines: the word's own duration inside the 1.16 s clip). The audio is inside
the mp4 (``wav`` is the mp4, ``audio_in_video: true``). ``val`` becomes
``valid.json``. The test speakers are effectively unseen; LRW has no speaker
ids (``spk_id`` is empty).

Entries: ``video``, ``wav``, ``audio_in_video``, ``duration`` (video),
``frames``, ``fps``, ``sr``, ``spk_id``, ``text`` (the word),
``word_duration`` (seconds, ``null`` if the ``.txt`` has none).

    python lrw_prepare.py /data/LRW save/ --words ABOUT ABSOLUTELY --max_per_word 50
"""

import logging
import os
import sys

from speechbrain_v2s.prepare import (
    find_files,
    list_dirs,
    prepare_main,
    probe_entries,
    probe_settings,
    read_key_values,
    require_folder,
    run_preparation,
    strip_extension,
)

logger = logging.getLogger(__name__)

EXPECTED = "<root>/[lipread_mp4/]<WORD>/{train,val,test}/<WORD>_<00001>.mp4 + .txt"
RELEASE_SPLITS = {"train": "train", "val": "valid", "test": "test"}


def read_lrw_txt(path):
    """``(word, duration)`` from an LRW ``.txt`` (``None`` for what it lacks).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "ABOUT_00001.txt")
    >>> _ = open(path, "w").write("Word: ABOUT\\nDuration: 0.53 seconds\\n")
    >>> read_lrw_txt(path), read_lrw_txt(path + ".missing")
    (('ABOUT', 0.53), (None, None))
    """
    if not os.path.isfile(path):
        return None, None
    fields = read_key_values(path)
    duration = fields.get("duration", "").split()
    try:
        seconds = float(duration[0]) if duration else None
    except ValueError:
        seconds = None
    return fields.get("word") or None, seconds


def lrw_root(folder):
    """The folder holding the word folders (``folder`` or ``folder/lipread_mp4``).

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "lipread_mp4"))
    >>> os.path.basename(lrw_root(root))
    'lipread_mp4'
    """
    inner = os.path.join(folder, "lipread_mp4")
    return inner if os.path.isdir(inner) else folder


def lrw_candidates(root, words=None, max_per_word=None):
    """Candidate entries per split (``{split: [entry, ...]}``).

    ``max_per_word`` keeps the first clips (by number) of each word in each
    split.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> for split in ("train", "val"):
    ...     os.makedirs(os.path.join(root, "ABOUT", split))
    ...     for name in ("ABOUT_00001.mp4", "ABOUT_00002.mp4"):
    ...         open(os.path.join(root, "ABOUT", split, name), "w").close()
    >>> parts = lrw_candidates(root, max_per_word=1)
    >>> [(s, [e["id"] for e in parts[s]]) for s in parts]
    [('train', ['train_ABOUT_00001']), ('valid', ['valid_ABOUT_00001']), ('test', [])]
    """
    available = list_dirs(root)
    if words:
        wanted = {w.upper() for w in words}
        missing = sorted(wanted - set(available))
        if len(missing) == len(wanted):
            raise FileNotFoundError(
                f"none of the words {sorted(wanted)} found in {root} "
                f"(expected layout: {EXPECTED})"
            )
        if missing:
            logger.warning("LRW words not found in %s: %s", root, missing)
        available = [w for w in available if w in wanted]
    parts = {name: [] for name in RELEASE_SPLITS.values()}
    for word in available:
        for release, name in RELEASE_SPLITS.items():
            clips = find_files(os.path.join(root, word, release), (".mp4",))
            for clip in clips[:max_per_word] if max_per_word else clips:
                text, word_duration = read_lrw_txt(os.path.splitext(clip)[0] + ".txt")
                parts[name].append(
                    {
                        "id": f"{name}_{strip_extension(clip)}",
                        "video": clip,
                        "wav": clip,
                        "audio_in_video": True,
                        "spk_id": "",
                        "text": text or word,
                        "word_duration": word_duration,
                    }
                )
    return parts


def prepare_lrw(
    data_folder,
    save_folder,
    words=None,
    max_per_word=None,
    min_duration=None,
    max_duration=None,
    num_workers=None,
    progress=True,
):
    """Write LRW ``train.json``, ``valid.json`` and ``test.json`` (release splits).

    Arguments
    ---------
    data_folder : str
        LRW root (``lipread_mp4`` or its parent).
    save_folder : str
        Where the manifests, ``prepare_report.csv`` and
        ``prepare_options.json`` go.
    words : list of str, optional
        Only these words (default: all 500).
    max_per_word : int, optional
        At most this many clips per word in each split (the first by number).
    min_duration, max_duration : float, optional
        Seconds of video; outside: skipped and reported.
    num_workers : int, optional
        Probing processes (default: cores, at most 8).
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        ``{"train": path, "valid": path, "test": path}``.

    Raises
    ------
    FileNotFoundError
        The data folder (or a folder its layout needs) is missing.
    speechbrain_v2s.prepare.NothingPreparedError
        No usable video at all (every split would be empty): the report is
        written, the manifests not.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> prepare_lrw(root, os.path.join(root, "save"), progress=False)
    Traceback (most recent call last):
    ...
    speechbrain_v2s.prepare.running.NothingPreparedError: LRW: no usable files \
found in /... (0 skipped, see .../prepare_report.csv); no manifests written
    """
    root = lrw_root(require_folder(data_folder, EXPECTED))
    options = {
        "prepare": "lrw",
        "data_folder": root,
        "words": sorted(w.upper() for w in words) if words else None,
        "max_per_word": max_per_word,
        "min_duration": min_duration,
        "max_duration": max_duration,
    }

    def build(report):
        parts = lrw_candidates(root, words, max_per_word)
        split_of = {e["id"]: name for name, entries in parts.items() for e in entries}
        settings = probe_settings(min_duration, max_duration, check_silence=False)
        candidates = [e for entries in parts.values() for e in entries]
        probed = probe_entries(candidates, report, settings, num_workers, progress)
        return {
            name: [e for e in probed if split_of[e["id"]] == name] for name in parts
        }

    # No usable video at all is a wrong folder or layout, not a corpus.
    return run_preparation(
        save_folder,
        options,
        tuple(RELEASE_SPLITS.values()),
        build,
        "LRW",
        require_entries=True,
    )


def main(argv=None):
    """Command line: ``lrw_prepare.py DATA_ROOT SAVE_FOLDER [--words ...]``.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> main([root, os.path.join(root, "save")])  # nothing usable in root
    Traceback (most recent call last):
    ...
    SystemExit: 2
    >>> sorted(os.listdir(os.path.join(root, "save")))  # why, not manifests
    ['prepare_report.csv']
    """

    def add_arguments(parser):
        parser.add_argument("--words", nargs="+", default=None)
        parser.add_argument("--max_per_word", type=int, default=None)

    prepare_main(
        prepare_lrw,
        argv,
        __doc__,
        "LRW root (lipread_mp4 or its parent)",
        add_arguments,
        {"seed": None},  # release splits: nothing random
    )


if __name__ == "__main__":
    sys.exit(main())
