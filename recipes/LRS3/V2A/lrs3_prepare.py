#!/usr/bin/env python3
"""Manifests for LRS3 (TED talks).

Layout: ``<root>/{pretrain,trainval,test}/<speaker-id>/<00001>.mp4``, each with
a ``<00001>.txt`` beside it (``Text:  ...``, ``Conf:  ...``, then a word-timing
table ``WORD START END ASDSCORE``). The audio is inside the mp4 (``wav`` is
the mp4, ``audio_in_video: true``).

* ``train.json``: ``trainval`` minus the validation speakers (plus ``pretrain``
  with ``include_pretrain=True``, again without the validation speakers);
* ``valid.json``: a held-out, deterministic share of the ``trainval``
  speakers (``valid_ratio``), so validation speakers are unseen in training;
* ``test.json``: ``test`` (speakers unseen in training, as released).

Entries: ``video``, ``wav``, ``audio_in_video``, ``duration`` (video),
``frames``, ``fps``, ``sr``, ``spk_id`` (the speaker folder), ``subset``,
``text`` (the ``Text:`` line).

    python lrs3_prepare.py /data/LRS3 save/ --include_pretrain --max_duration 20
"""

import logging
import os
import sys

from speechbrain_v2s.prepare import (
    SPLITS,
    fill_missing,
    find_files,
    list_dirs,
    prepare_main,
    probe_entries,
    probe_settings,
    read_key_values,
    require_folder,
    run_preparation,
    split_speakers,
    strip_extension,
)

logger = logging.getLogger(__name__)

EXPECTED = "<root>/{pretrain,trainval,test}/<speaker-id>/<00001>.mp4 + <00001>.txt"
SUBSETS = ("pretrain", "trainval", "test")


def read_lrs3_text(path):
    """The ``Text:`` line of an LRS3 ``.txt`` (``None`` if missing).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "00001.txt")
    >>> _ = open(path, "w").write(
    ...     "Text:  AND SO WE WENT\\nConf:  4\\n\\nWORD START END ASDSCORE\\n"
    ...     "AND 0.26 0.41 5.4\\n"
    ... )
    >>> read_lrs3_text(path)
    'AND SO WE WENT'
    """
    if not os.path.isfile(path):
        return None
    return read_key_values(path).get("text")


def lrs3_candidates(root, subset):
    """Candidate entries of one LRS3 subset folder (``text`` ``None`` without .txt).

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "test", "0Fi83BHQsMA"))
    >>> open(os.path.join(root, "test", "0Fi83BHQsMA", "00002.mp4"), "w").close()
    >>> [(e["id"], e["text"]) for e in lrs3_candidates(root, "test")]
    [('test_0Fi83BHQsMA_00002', None)]
    """
    entries = []
    for speaker in list_dirs(os.path.join(root, subset)):
        for clip in find_files(os.path.join(root, subset, speaker), (".mp4",)):
            text = read_lrs3_text(os.path.splitext(clip)[0] + ".txt")
            entries.append(
                {
                    "id": f"{subset}_{speaker}_{strip_extension(clip)}",
                    "video": clip,
                    "wav": clip,
                    "audio_in_video": True,
                    "spk_id": speaker,
                    "subset": subset,
                    "text": text,
                }
            )
    return entries


def prepare_lrs3(
    data_folder,
    save_folder,
    include_pretrain=False,
    valid_ratio=0.02,
    min_duration=None,
    max_duration=None,
    seed=1234,
    num_workers=None,
    progress=True,
):
    """Write LRS3 ``train.json``, ``valid.json`` and ``test.json``.

    Arguments
    ---------
    data_folder : str
        LRS3 root (holding ``trainval/``, ``test/`` and optionally
        ``pretrain/``).
    save_folder : str
        Where the manifests, ``prepare_report.csv`` and
        ``prepare_options.json`` go.
    include_pretrain : bool
        Add the ``pretrain`` clips to training (long clips: consider
        ``max_duration``).
    valid_ratio : float
        Share of the ``trainval`` speakers held out for validation.
    min_duration, max_duration : float, optional
        Seconds of video; outside: skipped and reported.
    seed : int
        Validation-speaker seed.
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
    >>> prepare_lrs3(root, os.path.join(root, "save"))
    Traceback (most recent call last):
    ...
    FileNotFoundError: no LRS3 subset folder (pretrain, trainval, test) in /... \
(expected layout: ...)
    """
    root = require_folder(data_folder, EXPECTED)
    present = [s for s in SUBSETS if os.path.isdir(os.path.join(root, s))]
    if not present:
        raise FileNotFoundError(
            f"no LRS3 subset folder ({', '.join(SUBSETS)}) in {root} "
            f"(expected layout: {EXPECTED})"
        )
    for subset in SUBSETS:
        if subset not in present and (subset != "pretrain" or include_pretrain):
            logger.warning("LRS3: no %s folder in %s", subset, root)
    options = {
        "prepare": "lrs3",
        "data_folder": root,
        "include_pretrain": include_pretrain,
        "valid_ratio": valid_ratio,
        "min_duration": min_duration,
        "max_duration": max_duration,
        "seed": seed,
    }

    def build(report):
        subsets = [s for s in SUBSETS if s in present]
        if not include_pretrain and "pretrain" in subsets:
            subsets.remove("pretrain")
        candidates = [e for s in subsets for e in lrs3_candidates(root, s)]
        settings = probe_settings(min_duration, max_duration, check_silence=False)
        entries = probe_entries(candidates, report, settings, num_workers, progress)
        fill_missing(entries, report, "text", "", "no transcript (.txt, Text: line)")
        trainval = [e for e in entries if e["subset"] == "trainval"]
        held_out = split_speakers(
            trainval, (1.0 - valid_ratio, valid_ratio), seed, ("train", "valid")
        )
        valid_speakers = {e["spk_id"] for e in held_out["valid"]}
        pretrain = [e for e in entries if e["subset"] == "pretrain"]
        kept = [e for e in pretrain if e["spk_id"] not in valid_speakers]
        if len(kept) < len(pretrain):
            logger.info(
                "LRS3: %d pretrain clips of validation speakers left out of train",
                len(pretrain) - len(kept),
            )
        return {
            "train": held_out["train"] + kept,
            "valid": held_out["valid"],
            "test": [e for e in entries if e["subset"] == "test"],
        }

    # No usable video at all is a wrong folder or layout, not a corpus.
    return run_preparation(
        save_folder, options, SPLITS, build, "LRS3", require_entries=True
    )


def main(argv=None):
    """Command line: ``lrs3_prepare.py DATA_ROOT SAVE_FOLDER [--include_pretrain]``.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "test"))
    >>> main([root, os.path.join(root, "save")])  # nothing usable in root
    Traceback (most recent call last):
    ...
    SystemExit: 2
    >>> sorted(os.listdir(os.path.join(root, "save")))  # why, not manifests
    ['prepare_report.csv']
    """

    def add_arguments(parser):
        parser.add_argument("--include_pretrain", action="store_true")
        parser.add_argument("--valid_ratio", type=float, default=0.02)

    prepare_main(prepare_lrs3, argv, __doc__, "LRS3 root", add_arguments)


if __name__ == "__main__":
    sys.exit(main())
