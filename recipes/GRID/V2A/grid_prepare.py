#!/usr/bin/env python3
"""Manifests for GRID (and the project's synthetic corpus in the GRID layout).

Layout (any of these, mixed freely):

* videos: ``<root>/<spk>/<utt>.mpg``, ``<root>/video/<spk>/<utt>.mpg`` or
  ``<root>/<spk>/video/mpg_6000/<utt>.mpg`` (``.mp4`` too);
* audio: ``<root>/audio*/<spk>/<utt>.wav`` (``audio_25k`` before
  ``audio_50k``; ``audio_dir=`` picks one), ``<root>/<spk>/audio/<utt>.wav``,
  or a ``<utt>.wav`` beside the video;
* alignments: ``<root>/align/<spk>/<utt>.align``,
  ``<root>/alignments/<spk>/<utt>.align`` or ``<root>/<spk>/align/<utt>.align``
  (``start end word`` lines in 1/25,000 s, read by
  :func:`speechbrain_v2s.prepare.read_align` as evaluation reads them:
  silences such as ``sil`` and ``sp`` are dropped from the transcript).

Splits: ``seen`` (every speaker with video; each speaker's utterances split
train/valid/test, 90/5/5 by default) or ``unseen`` (speaker-disjoint, from
``splits/unseen_{train,valid,test}.txt``; speakers present in no list go to
train). Speaker ``s21`` has no video and is absent from both.

Entries: ``video``, ``wav``, ``audio_in_video`` (false), ``duration`` (of the
video: ``frames / fps``), ``frames``, ``fps``, ``sr``, ``spk_id``, ``text``.

    python grid_prepare.py /data/GRID save/ --split unseen
"""

import logging
import os
import re
import sys

from speechbrain_v2s.prepare import (
    SPLITS,
    VIDEO_EXTENSIONS,
    fill_missing,
    find_files,
    list_dirs,
    natural_sorted,
    prepare_main,
    probe_entries,
    probe_settings,
    ratios_arg,
    read_align,
    read_list_file,
    require_folder,
    run_preparation,
    split_by_lists,
    split_seen,
    strip_extension,
)

logger = logging.getLogger(__name__)

EXPECTED = (
    "<root>/[video/]<spk>/[video/mpg_6000/]<utt>.mpg|.mp4, "
    "<root>/audio_25k/<spk>/<utt>.wav, <root>/align/<spk>/<utt>.align"
)
SPLITS_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "splits")
SPEAKER = re.compile(r"^s\d+$")
VIDEO_PARENTS = ("", "video", "videos")
ALIGN_PARENTS = ("align", "alignments")


def _speaker_dirs(root, parents):
    """``(speaker, folder)`` for every ``s<N>`` folder in ``root/<parent>``."""
    found = []
    for parent in parents:
        base = os.path.join(root, parent)
        found += [
            (d, os.path.join(base, d)) for d in list_dirs(base) if SPEAKER.match(d)
        ]
    return found


def _index(pairs, extensions, exclude_dirs=()):
    """``{(speaker, utt): path}``, first found wins."""
    index = {}
    for speaker, folder in pairs:
        for path in find_files(folder, extensions, exclude_dirs):
            index.setdefault((speaker, strip_extension(path)), path)
    return index


def find_videos(root, report):
    """``{(speaker, utt): video}``; duplicates are reported and skipped.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_v2s.prepare import PrepareReport
    >>> root = tempfile.mkdtemp()
    >>> for name in ("s1/video/mpg_6000/bbaf2n.mpg", "video/s1/bbaf2n.mp4"):
    ...     os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
    ...     open(os.path.join(root, name), "w").close()
    >>> report = PrepareReport()
    >>> videos = find_videos(root, report)
    >>> [os.path.relpath(v, root) for v in videos.values()], len(report)
    (['s1/video/mpg_6000/bbaf2n.mpg'], 1)
    """
    videos = {}
    excluded = ("audio", "align", "alignments")
    for speaker, folder in _speaker_dirs(root, VIDEO_PARENTS):
        for path in find_files(folder, VIDEO_EXTENSIONS, excluded):
            key = (speaker, strip_extension(path))
            if key in videos:
                report.skip(path, f"duplicate video for {key[0]}/{key[1]}")
                continue
            videos[key] = path
    return videos


def find_audio(root, videos, audio_dir=None):
    """``{(speaker, utt): wav}`` for the videos, from the first place that has it.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> for name in ("audio_50k/s1/a.wav", "audio_25k/s1/a.wav", "s1/audio/b.wav"):
    ...     os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
    ...     open(os.path.join(root, name), "w").close()
    >>> videos = {("s1", "a"): root + "/s1/a.mpg", ("s1", "b"): root + "/s1/b.mpg"}
    >>> [os.path.relpath(p, root) for p in find_audio(root, videos).values()]
    ['audio_25k/s1/a.wav', 's1/audio/b.wav']
    >>> list(find_audio(root, videos, audio_dir="audio_50k").values())
    ['/.../audio_50k/s1/a.wav']
    """
    if audio_dir is not None:
        parents = [audio_dir]
    else:
        parents = [d for d in list_dirs(root) if d.lower().startswith("audio")]
    index = _index(_speaker_dirs(root, parents), (".wav",))
    if audio_dir is None:
        own = [(s, os.path.join(f, "audio")) for s, f in _speaker_dirs(root, [""])]
        for key, path in _index(own, (".wav",)).items():
            index.setdefault(key, path)
    found = {}
    for key, video in videos.items():
        beside = os.path.splitext(video)[0] + ".wav"
        if key in index:
            found[key] = index[key]
        elif audio_dir is None and os.path.isfile(beside):
            found[key] = beside
    return found


def find_alignments(root):
    """``{(speaker, utt): path}`` of ``align/``, ``alignments/``, ``<spk>/align/``.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "s2", "align"))
    >>> open(os.path.join(root, "s2", "align", "x.align"), "w").close()
    >>> list(find_alignments(root))
    [('s2', 'x')]
    """
    pairs = _speaker_dirs(root, ALIGN_PARENTS)
    pairs += [(s, os.path.join(f, "align")) for s, f in _speaker_dirs(root, [""])]
    return _index(pairs, (".align",))


def load_speaker_lists(splits_folder=SPLITS_FOLDER):
    """Unseen-speaker lists: ``unseen_{train,valid,test}.txt`` in ``splits_folder``.

    Example
    -------
    >>> lists = load_speaker_lists()
    >>> lists["test"], len(lists["train"] + lists["valid"] + lists["test"])
    (['s1', 's2', 's20', 's22'], 33)
    """
    return {
        name: read_list_file(os.path.join(splits_folder, f"unseen_{name}.txt"))
        for name in SPLITS
    }


def grid_candidates(root, report, audio_dir=None):
    """Candidate entries (``video``, ``wav``, ``spk_id``, ``text``) of a GRID tree.

    Videos without audio are reported and skipped; ``text`` is ``None`` for
    videos without an alignment.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_v2s.prepare import PrepareReport
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "s3"))
    >>> open(os.path.join(root, "s3", "x.mpg"), "w").close()
    >>> report = PrepareReport()
    >>> grid_candidates(root, report), report.rows[0]["reason"]
    ([], 'no audio file for s3/x')
    """
    videos = find_videos(root, report)
    audio = find_audio(root, videos, audio_dir)
    alignments = find_alignments(root)
    with_video = {speaker for speaker, _ in videos}
    others = {s for s, _ in _speaker_dirs(root, list_dirs(root))} - with_video
    if others:
        logger.info("speakers without video, left out: %s", natural_sorted(others))
    entries = []
    for (speaker, utt), video in sorted(videos.items()):
        if (speaker, utt) not in audio:
            report.skip(video, f"no audio file for {speaker}/{utt}")
            continue
        text = None  # no alignment: filled in after probing
        if (speaker, utt) in alignments:
            text = read_align(alignments[(speaker, utt)])
        entries.append(
            {
                "id": f"{speaker}_{utt}",
                "video": video,
                "wav": audio[(speaker, utt)],
                "audio_in_video": False,
                "spk_id": speaker,
                "text": text,
            }
        )
    return entries


def prepare_grid(
    data_folder,
    save_folder,
    split="seen",
    ratios=(0.9, 0.05, 0.05),
    splits_folder=None,
    unseen_fallback_ratios=None,
    restrict_lists=True,
    audio_dir=None,
    min_duration=None,
    max_duration=None,
    av_tolerance=0.2,
    check_silence=True,
    seed=1234,
    num_workers=None,
    progress=True,
):
    """Write GRID ``train.json``, ``valid.json`` and ``test.json``.

    Arguments
    ---------
    data_folder : str
        GRID root (see the module docstring for the layouts accepted).
    save_folder : str
        Where the manifests, ``prepare_report.csv`` and
        ``prepare_options.json`` go.
    split : str
        ``"seen"`` (per-speaker utterance split) or ``"unseen"``
        (speaker-disjoint, from the speaker lists).
    ratios : sequence of float
        Train/valid/test shares of each speaker's utterances (``seen``).
    splits_folder : str, optional
        Folder with ``unseen_{train,valid,test}.txt`` (default: this recipe's
        ``splits/``).
    unseen_fallback_ratios : sequence of float, optional
        Speaker shares used when listed speakers are missing and the lists
        cannot be used (default: proportional to the list sizes).
    restrict_lists : bool
        With listed speakers missing, keep using the lists for the speakers
        present while every split keeps one (``True``), or always fall back to
        the proportional split (``False``). Missing speakers are always logged.
    audio_dir : str, optional
        Audio folder under the root to use (e.g. ``"audio_50k"``); default
        the first ``audio*`` folder that has the file, then ``<spk>/audio/``,
        then a wav beside the video.
    min_duration, max_duration : float, optional
        Seconds of video; outside: skipped and reported.
    av_tolerance : float
        Audio/video length difference (s) above which an utterance is skipped;
        between one frame and this it is kept and reported.
    check_silence : bool
        Decode the audio and skip silent files.
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
    >>> root = tempfile.mkdtemp()
    >>> prepare_grid(root, os.path.join(root, "save"), progress=False)
    Traceback (most recent call last):
    ...
    speechbrain_v2s.prepare.running.NothingPreparedError: GRID: no usable files \
found in /... (0 skipped, see .../prepare_report.csv); no manifests written
    """
    if split not in ("seen", "unseen"):
        raise ValueError(f"split must be 'seen' or 'unseen', got {split!r}")
    root = require_folder(data_folder, EXPECTED)
    lists = (
        load_speaker_lists(splits_folder or SPLITS_FOLDER)
        if split == "unseen"
        else None
    )
    options = {
        "prepare": "grid",
        "data_folder": root,
        "split": split,
        "ratios": list(ratios) if split == "seen" else None,
        "speaker_lists": lists,
        "unseen_fallback_ratios": unseen_fallback_ratios,
        "restrict_lists": restrict_lists,
        "audio_dir": audio_dir,
        "min_duration": min_duration,
        "max_duration": max_duration,
        "av_tolerance": av_tolerance,
        "check_silence": check_silence,
        "seed": seed,
    }

    def build(report):
        candidates = grid_candidates(root, report, audio_dir)
        settings = probe_settings(
            min_duration, max_duration, check_silence, av_tolerance=av_tolerance
        )
        entries = probe_entries(candidates, report, settings, num_workers, progress)
        fill_missing(entries, report, "text", "", "no alignment file: text left empty")
        if split == "seen":
            return split_seen(entries, ratios, seed)
        parts, missing, fell_back = split_by_lists(
            entries,
            lists,
            rest="train",
            fallback_ratios=unseen_fallback_ratios,
            seed=seed,
            restrict=restrict_lists,
        )
        if missing:
            logger.warning(
                "GRID unseen split: listed speakers missing from %s: %s; %s",
                root,
                " ".join(missing),
                (
                    "speakers split by proportion instead"
                    if fell_back
                    else "using the lists for the speakers present"
                ),
            )
        return parts

    # No usable video at all is a wrong folder or layout, not a corpus.
    return run_preparation(
        save_folder, options, SPLITS, build, "GRID", require_entries=True
    )


def main(argv=None):
    """Command line: ``grid_prepare.py DATA_ROOT SAVE_FOLDER [--split unseen]``.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> main([root, os.path.join(root, "save"), "--split", "unseen"])  # empty root
    Traceback (most recent call last):
    ...
    SystemExit: 2
    >>> sorted(os.listdir(os.path.join(root, "save")))  # why, not manifests
    ['prepare_report.csv']
    """

    def add_arguments(parser):
        parser.add_argument("--split", choices=("seen", "unseen"), default="seen")
        parser.add_argument(
            "--ratios", type=ratios_arg, default=(0.9, 0.05, 0.05), help="seen split"
        )
        parser.add_argument(
            "--splits_folder", default=None, help="unseen speaker lists"
        )
        parser.add_argument("--audio_dir", default=None, help="e.g. audio_50k")

    prepare_main(
        prepare_grid,
        argv,
        __doc__,
        "GRID root",
        add_arguments,
        {"av_tolerance": 0.2, "silence_check": True},
    )


if __name__ == "__main__":
    sys.exit(main())
