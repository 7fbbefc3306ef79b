#!/usr/bin/env python3
"""Manifests for TCD-TIMIT (seen-speaker split).

Layout: ``<root>/volunteers/<01M..59F>/Clips/straightcam/<sa1>.mp4`` and, with
``include_lipspeakers=True``, ``<root>/lipspeakers/Lipspkr<1-3>/Clips/
straightcam/<sa1>.mp4``. The audio is the clip's own stream, or a ``<sa1>.wav``
beside the clip when there is one: ``wav`` is that file, else the mp4 itself
with ``audio_in_video: true`` (the pipeline extracts it). Clips are ~30 fps
(``fps`` records the real rate; resampling to 25 fps happens in
preprocessing).

Transcripts: TIMIT sentence texts are not shipped with the clips. ``text`` is
read from a ``<sa1>.txt`` beside the clip (TIMIT format ``0 46797 She had
...`` or plain text) or from ``transcripts=`` (lines ``sa1 She had ...`` or
TIMIT's ``PROMPTS.TXT`` ``She had ... (sa1)``); otherwise it is empty.

Split: each speaker's sentences divided train/valid/test (``ratios``).
Entries: ``video``, ``wav``, ``audio_in_video``, ``duration`` (video),
``frames``, ``fps``, ``sr``, ``spk_id``, ``group`` (volunteers/lipspeakers),
``text``.

    python tcd_timit_prepare.py /data/TCD-TIMIT save/ --include_lipspeakers
"""

import logging
import os
import re
import sys

from speechbrain_v2s.prepare import (
    SPLITS,
    find_files,
    list_dirs,
    prepare_main,
    probe_entries,
    probe_settings,
    ratios_arg,
    read_text_file,
    require_folder,
    run_preparation,
    split_seen,
    strip_extension,
)

logger = logging.getLogger(__name__)

EXPECTED = (
    "<root>/volunteers/<01M..59F>/Clips/straightcam/<utt>.mp4 "
    "(+ <root>/lipspeakers/Lipspkr<1-3>/Clips/straightcam/<utt>.mp4)"
)
GROUPS = ("volunteers", "lipspeakers")
TIMIT_TIMES = re.compile(r"^\d+\s+\d+\s+")
PROMPT_LINE = re.compile(r"^(?P<text>.*\S)\s*\((?P<id>[A-Za-z]{2}\d+)\)\s*$")


def read_transcripts(path):
    """``{sentence id (lower case): text}`` from ``id text`` or PROMPTS.TXT lines.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "prompts.txt")
    >>> _ = open(path, "w").write(
    ...     "; comment\\nShe had your dark suit. (sa1)\\nsx12 Why yell?\\n"
    ... )
    >>> read_transcripts(path)
    {'sa1': 'She had your dark suit.', 'sx12': 'Why yell?'}
    """
    texts = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(";"):
                continue
            match = PROMPT_LINE.match(line)
            if match:
                texts[match["id"].lower()] = match["text"]
                continue
            utt, _, text = line.partition(" ")
            texts[utt.lower()] = text.strip()
    return texts


def clip_text(clip, transcripts):
    """Transcript of a clip: a ``.txt`` beside it, else ``transcripts``, else ``""``.

    Example
    -------
    >>> import tempfile
    >>> clip = os.path.join(tempfile.mkdtemp(), "sa1.mp4")
    >>> clip_text(clip, {"sa1": "From the list."})
    'From the list.'
    >>> _ = open(clip[:-4] + ".txt", "w").write("0 46797 She had your dark suit.")
    >>> clip_text(clip, {})
    'She had your dark suit.'
    """
    text = read_text_file(os.path.splitext(clip)[0] + ".txt")
    if text:
        return TIMIT_TIMES.sub("", text)
    return transcripts.get(strip_extension(clip).lower(), "")


def tcd_candidates(root, groups, camera="straightcam", speakers=None, transcripts=None):
    """Candidate entries of the TCD-TIMIT clips of ``groups``.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> clips = os.path.join(root, "volunteers", "01M", "Clips", "straightcam")
    >>> os.makedirs(clips)
    >>> for name in ("sa1.mp4", "sa2.mp4", "sa2.wav"):
    ...     open(os.path.join(clips, name), "w").close()
    >>> [(e["id"], e["audio_in_video"]) for e in tcd_candidates(root, ["volunteers"])]
    [('01M_sa1', True), ('01M_sa2', False)]
    """
    transcripts = transcripts or {}
    entries = []
    for group in groups:
        for speaker in list_dirs(os.path.join(root, group)):
            if speakers and speaker not in speakers:
                continue
            folder = os.path.join(root, group, speaker, "Clips", camera)
            if not os.path.isdir(folder):
                logger.warning("no %s clips for %s/%s", camera, group, speaker)
                continue
            for clip in find_files(folder, (".mp4",)):
                wav = os.path.splitext(clip)[0] + ".wav"
                beside = os.path.isfile(wav)
                entries.append(
                    {
                        "id": f"{speaker}_{strip_extension(clip)}",
                        "video": clip,
                        "wav": wav if beside else clip,
                        "audio_in_video": not beside,
                        "spk_id": speaker,
                        "group": group,
                        "text": clip_text(clip, transcripts),
                    }
                )
    return entries


def prepare_tcd_timit(
    data_folder,
    save_folder,
    include_lipspeakers=False,
    speakers=None,
    ratios=(0.9, 0.05, 0.05),
    transcripts=None,
    camera="straightcam",
    min_duration=None,
    max_duration=None,
    av_tolerance=0.2,
    check_silence=True,
    seed=1234,
    num_workers=None,
    progress=True,
):
    """Write TCD-TIMIT ``train.json``, ``valid.json`` and ``test.json`` (seen split).

    Arguments
    ---------
    data_folder : str
        TCD-TIMIT root (holding ``volunteers/`` and optionally
        ``lipspeakers/``).
    save_folder : str
        Where the manifests, ``prepare_report.csv`` and
        ``prepare_options.json`` go.
    include_lipspeakers : bool
        Also use the three lipspeakers.
    speakers : list of str, optional
        Only these speaker folders (e.g. ``["01M", "02M"]``).
    ratios : sequence of float
        Train/valid/test shares of each speaker's sentences.
    transcripts : str, optional
        Sentence texts (``sa1 text`` lines or TIMIT ``PROMPTS.TXT``).
    camera : str
        Clip folder under ``Clips/`` (``straightcam`` or ``30degcam``).
    min_duration, max_duration : float, optional
        Seconds of video; outside: skipped and reported.
    av_tolerance : float
        Audio/video length difference (s) above which a clip is skipped.
    check_silence : bool
        Decode separate wav files and skip silent ones (audio inside the mp4
        is only checked to exist).
    seed : int
        Split seed.
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
    >>> prepare_tcd_timit("/no/TCD-TIMIT", tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    FileNotFoundError: dataset folder not found: /no/TCD-TIMIT (expected layout: ...)
    """
    root = require_folder(data_folder, EXPECTED)
    groups = GROUPS if include_lipspeakers else GROUPS[:1]
    for group in groups:
        require_folder(os.path.join(root, group), EXPECTED)
    transcripts = os.path.abspath(transcripts) if transcripts else None
    options = {
        "prepare": "tcd_timit",
        "data_folder": root,
        "groups": list(groups),
        "speakers": sorted(speakers) if speakers else None,
        "ratios": list(ratios),
        "transcripts": transcripts,
        "camera": camera,
        "min_duration": min_duration,
        "max_duration": max_duration,
        "av_tolerance": av_tolerance,
        "check_silence": check_silence,
        "seed": seed,
    }

    def build(report):
        texts = read_transcripts(transcripts) if transcripts else {}
        candidates = tcd_candidates(root, groups, camera, speakers, texts)
        settings = probe_settings(
            min_duration, max_duration, check_silence, av_tolerance=av_tolerance
        )
        entries = probe_entries(candidates, report, settings, num_workers, progress)
        return split_seen(entries, ratios, seed)

    # No usable video at all is a wrong folder or layout, not a corpus.
    return run_preparation(
        save_folder, options, SPLITS, build, "TCD-TIMIT", require_entries=True
    )


def main(argv=None):
    """Command line: ``tcd_timit_prepare.py DATA_ROOT SAVE_FOLDER [options]``.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "volunteers"))
    >>> main([root, os.path.join(root, "save")])  # nothing usable in root
    Traceback (most recent call last):
    ...
    SystemExit: 2
    >>> sorted(os.listdir(os.path.join(root, "save")))  # why, not manifests
    ['prepare_report.csv']
    """

    def add_arguments(parser):
        parser.add_argument("--include_lipspeakers", action="store_true")
        parser.add_argument("--speakers", nargs="+", default=None)
        parser.add_argument("--ratios", type=ratios_arg, default=(0.9, 0.05, 0.05))
        parser.add_argument("--transcripts", default=None, help="sentence texts file")
        parser.add_argument("--camera", default="straightcam")

    prepare_main(
        prepare_tcd_timit,
        argv,
        __doc__,
        "TCD-TIMIT root",
        add_arguments,
        {"av_tolerance": 0.2, "silence_check": True},
    )


if __name__ == "__main__":
    sys.exit(main())
