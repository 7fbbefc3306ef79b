#!/usr/bin/env python3
"""Manifests for A2A pre-training from audio-only speech corpora.

Any number of corpora at once, each in its own layout (detected from the files
present, or given):

* ``folder``: any folder of audio files (wav/flac/mp3/ogg, recursive); the
  speaker is the first sub-folder (none: the corpus itself); a ``<stem>.txt``
  beside a file is its transcript;
* ``libritts``: ``<subset>/<spk>/<chapter>/<spk>_<chapter>_<p>_<s>.wav`` with
  ``.normalized.txt`` (or ``.original.txt``) beside each file;
* ``librispeech``: ``<subset>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac`` with
  one ``<spk>-<chapter>.trans.txt`` per chapter;
* ``vctk``: 0.92 ``wav48_silence_trimmed/<spk>/<utt>_mic1.flac`` + ``txt/``
  (mic1 by default), or the older ``VCTK-Corpus/wav48/<spk>/<utt>.wav``;
* ``ljspeech``: ``wavs/<id>.wav`` + ``metadata.csv`` (``id|text|normalized``).

Writes ``train.json`` and ``valid.json`` (held-out utterances, deterministic)
in ``save_folder``; entries: ``wav``, ``duration``, ``sr`` (the file's own
rate; resampling to ``target_sample_rate`` happens in the data pipeline),
``spk_id`` and ``corpus`` (speakers prefixed by corpus so corpora never clash),
``text`` (empty when the layout has none). Bad files (unreadable, empty,
silent) and files outside the duration limits are listed in
``prepare_report.csv``.

    python audio_prepare.py /data/LibriTTS /data/VCTK save/ --valid_ratio 0.02
"""

import logging
import os
import re
import sys

from speechbrain_v2s.prepare import (
    AUDIO_EXTENSIONS,
    drop_duplicates,
    find_files,
    list_dirs,
    prepare_main,
    probe_entries,
    probe_settings,
    read_text_file,
    require_folder,
    run_preparation,
    split_items,
    strip_extension,
)

logger = logging.getLogger(__name__)

LAYOUTS = ("folder", "libritts", "librispeech", "vctk", "ljspeech")
EXPECTED = {
    "auto": "a folder of audio files, or a LibriTTS, LibriSpeech, VCTK or "
    "LJSpeech release",
    "folder": "<root>/[<speaker>/...]<utt>.{wav,flac,mp3,ogg}",
    "libritts": "<root>/<subset>/<spk>/<chapter>/<utt>.wav + <utt>.normalized.txt",
    "librispeech": "<root>/<subset>/<spk>/<chapter>/<utt>.flac + "
    "<spk>-<chapter>.trans.txt",
    "vctk": "<root>/wav48_silence_trimmed/<spk>/<utt>_mic1.flac + <root>/txt/ "
    "(0.92) or <root>/[VCTK-Corpus/]wav48/<spk>/<utt>.wav",
    "ljspeech": "<root>/wavs/<id>.wav + <root>/metadata.csv",
}
VCTK_AUDIO_DIRS = ("wav48_silence_trimmed", "wav48")
VCTK_RELEASE_DIRS = ("", "VCTK-Corpus", "VCTK-Corpus-0.92")
LJSPEECH_DIRS = ("", "LJSpeech-1.1")


def _ljspeech_root(folder):
    for sub in LJSPEECH_DIRS:
        root = os.path.join(folder, sub)
        if os.path.isfile(os.path.join(root, "metadata.csv")) and os.path.isdir(
            os.path.join(root, "wavs")
        ):
            return root
    return None


def _vctk_root(folder):
    for sub in VCTK_RELEASE_DIRS:
        for audio in VCTK_AUDIO_DIRS:
            if os.path.isdir(os.path.join(folder, sub, audio)):
                return os.path.join(folder, sub), audio
    return None


def detect_layout(folder, max_dirs=200):
    """Which layout ``folder`` is in, judged from the files present.

    LJSpeech: ``metadata.csv`` + ``wavs/``; VCTK: a ``wav48_silence_trimmed``
    or ``wav48`` folder; LibriSpeech/LibriTTS: ``*.trans.txt`` or
    ``*.normalized.txt`` files within the first ``max_dirs`` folders walked;
    anything else is a plain folder of audio files.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> detect_layout(root)
    'folder'
    >>> os.makedirs(os.path.join(root, "wav48_silence_trimmed"))
    >>> detect_layout(root)
    'vctk'
    """
    if _ljspeech_root(folder):
        return "ljspeech"
    if _vctk_root(folder):
        return "vctk"
    for count, (_, dirs, files) in enumerate(os.walk(folder)):
        dirs.sort()
        if any(f.endswith(".trans.txt") for f in files):
            return "librispeech"
        if any(f.endswith((".normalized.txt", ".original.txt")) for f in files):
            return "libritts"
        if count >= max_dirs:
            break
    return "folder"


def _entry(corpus, utt, wav, speaker, text):
    return {
        "id": f"{corpus}_{utt}",
        "wav": wav,
        "spk_id": f"{corpus}_{speaker}" if speaker else corpus,
        "corpus": corpus,
        "text": text or "",
    }


def scan_folder(root, corpus):
    """Candidates from any folder of audio files (speaker = first sub-folder).

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "anna"))
    >>> open(os.path.join(root, "anna", "x.wav"), "w").close()
    >>> _ = open(os.path.join(root, "anna", "x.txt"), "w").write("hi")
    >>> scan_folder(root, "mine")
    [{'id': 'mine_anna_x', 'wav': '/.../anna/x.wav', 'spk_id': 'mine_anna', \
'corpus': 'mine', 'text': 'hi'}]
    """
    entries = []
    for wav in find_files(root, AUDIO_EXTENSIONS):
        rel = os.path.splitext(os.path.relpath(wav, root))[0]
        parts = rel.split(os.sep)
        speaker = parts[0] if len(parts) > 1 else None
        text = read_text_file(os.path.splitext(wav)[0] + ".txt")
        entries.append(_entry(corpus, "_".join(parts), wav, speaker, text))
    return entries


def _in_subsets(path, root, subsets):
    if not subsets:
        return True
    return bool(set(os.path.relpath(path, root).split(os.sep)[:-1]) & set(subsets))


def _check_subsets(root, files, subsets, layout):
    if not subsets:
        return
    found = {p for f in files for p in os.path.relpath(f, root).split(os.sep)[:-1]}
    missing = [s for s in subsets if s not in found]
    if len(missing) == len(subsets):
        raise FileNotFoundError(
            f"none of the subsets {list(subsets)} found in {root} "
            f"(expected layout: {EXPECTED[layout]})"
        )
    if missing:
        logger.warning("subsets %s not found in %s", missing, root)


def scan_libritts(root, corpus, subsets=None):
    """Candidates from LibriTTS (``.normalized.txt`` text, else ``.original.txt``).

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> chapter = os.path.join(root, "dev-clean", "84", "121123")
    >>> os.makedirs(chapter)
    >>> open(os.path.join(chapter, "84_121123_000007_000001.wav"), "w").close()
    >>> [e["spk_id"] for e in scan_libritts(root, "libritts", ["dev-clean"])]
    ['libritts_84']
    """
    files = [f for f in find_files(root, (".wav",)) if _in_subsets(f, root, subsets)]
    _check_subsets(root, files, subsets, "libritts")
    entries = []
    for wav in files:
        utt = strip_extension(wav)
        base = os.path.splitext(wav)[0]
        text = read_text_file(base + ".normalized.txt")
        if text is None:
            text = read_text_file(base + ".original.txt")
        entries.append(_entry(corpus, utt, wav, utt.split("_")[0], text))
    return entries


def scan_librispeech(root, corpus, subsets=None):
    """Candidates from LibriSpeech (text from each chapter's ``.trans.txt``).

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> chapter = os.path.join(root, "dev-clean", "84", "121123")
    >>> os.makedirs(chapter)
    >>> open(os.path.join(chapter, "84-121123-0000.flac"), "w").close()
    >>> _ = open(os.path.join(chapter, "84-121123.trans.txt"), "w").write(
    ...     "84-121123-0000 GO DO YOU HEAR\\n"
    ... )
    >>> [(e["id"], e["text"]) for e in scan_librispeech(root, "librispeech")]
    [('librispeech_84-121123-0000', 'GO DO YOU HEAR')]
    """
    files = [
        f for f in find_files(root, (".flac", ".wav")) if _in_subsets(f, root, subsets)
    ]
    _check_subsets(root, files, subsets, "librispeech")
    texts = {}
    for trans in find_files(root, (".trans.txt",)):
        with open(trans, encoding="utf-8") as f:
            for line in f:
                utt, _, text = line.strip().partition(" ")
                texts[utt] = text.strip()
    return [
        _entry(corpus, utt, wav, utt.split("-")[0], texts.get(utt))
        for wav in files
        for utt in [strip_extension(wav)]
    ]


def scan_vctk(root, corpus, mic="mic1"):
    """Candidates from VCTK 0.92 (one microphone; ``mic=None``: both) or older.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> for d in ("wav48_silence_trimmed/p225", "txt/p225"):
    ...     os.makedirs(os.path.join(root, d))
    >>> for mic in ("mic1", "mic2"):
    ...     name = f"wav48_silence_trimmed/p225/p225_001_{mic}.flac"
    ...     open(os.path.join(root, name), "w").close()
    >>> _ = open(os.path.join(root, "txt/p225/p225_001.txt"), "w").write("Please.")
    >>> [(e["id"], e["text"]) for e in scan_vctk(root, "vctk")]
    [('vctk_p225_001_mic1', 'Please.')]
    """
    found = _vctk_root(root)
    if found is None:
        raise FileNotFoundError(
            f"no VCTK audio folder in {root} (expected layout: {EXPECTED['vctk']})"
        )
    release, audio_dir = found
    entries = []
    for speaker in list_dirs(os.path.join(release, audio_dir)):
        folder = os.path.join(release, audio_dir, speaker)
        for wav in find_files(folder, AUDIO_EXTENSIONS):
            utt = strip_extension(wav)
            sentence = re.sub(r"_mic\d$", "", utt)
            if mic and sentence != utt and not utt.endswith("_" + mic):
                continue
            text = read_text_file(
                os.path.join(release, "txt", speaker, sentence + ".txt")
            )
            entries.append(_entry(corpus, utt, wav, speaker, text))
    return entries


def scan_ljspeech(root, corpus, report):
    """Candidates from LJSpeech ``metadata.csv`` (normalised text when given).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_v2s.prepare import PrepareReport
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "wavs"))
    >>> open(os.path.join(root, "wavs", "LJ001-0001.wav"), "w").close()
    >>> _ = open(os.path.join(root, "metadata.csv"), "w").write(
    ...     "LJ001-0001|Printing, in 1 sense|Printing, in one sense\\n"
    ...     "LJ001-0002|gone|gone\\n"
    ... )
    >>> report = PrepareReport()
    >>> [e["text"] for e in scan_ljspeech(root, "ljspeech", report)]
    ['Printing, in one sense']
    >>> report.rows[0]["reason"]
    'listed in metadata.csv but missing'
    """
    root = _ljspeech_root(root) or root
    entries = []
    with open(os.path.join(root, "metadata.csv"), encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("|")
            if not fields[0]:
                continue
            wav = os.path.join(root, "wavs", fields[0] + ".wav")
            if not os.path.isfile(wav):
                report.skip(wav, "listed in metadata.csv but missing")
                continue
            raw, normalised = (fields + ["", ""])[1:3]
            text = normalised or raw
            entries.append(_entry(corpus, fields[0], wav, "LJ", text))
    return entries


def _corpus_name(folder, layout, used):
    """Corpus name: the layout for known corpora, else the folder's (made unique)."""
    if layout != "folder":
        return layout
    base = re.sub(r"[^A-Za-z0-9]+", "_", os.path.basename(folder.rstrip(os.sep)))
    name, count = base.strip("_") or "audio", 1
    while (name, "folder") in used and used[(name, "folder")] != folder:
        count += 1
        name = f"{base}_{count}"
    used[(name, "folder")] = folder
    return name


def scan_corpus(folder, layout, corpus, report, subsets=None, vctk_mic="mic1"):
    """Candidate entries of one corpus in ``layout``.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_v2s.prepare import PrepareReport
    >>> scan_corpus(tempfile.mkdtemp(), "folder", "x", PrepareReport())
    []
    """
    if layout == "folder":
        return scan_folder(folder, corpus)
    if layout == "libritts":
        return scan_libritts(folder, corpus, subsets)
    if layout == "librispeech":
        return scan_librispeech(folder, corpus, subsets)
    if layout == "vctk":
        return scan_vctk(folder, corpus, vctk_mic)
    if layout == "ljspeech":
        if _ljspeech_root(folder) is None:
            raise FileNotFoundError(
                f"no metadata.csv + wavs/ in {folder} "
                f"(expected layout: {EXPECTED['ljspeech']})"
            )
        return scan_ljspeech(folder, corpus, report)
    raise ValueError(f"unknown layout {layout!r}: use 'auto' or one of {LAYOUTS}")


def _as_list(value, count, name):
    if isinstance(value, str) or value is None:
        return [value] * count
    value = list(value)
    if len(value) != count:
        raise ValueError(f"{len(value)} {name} for {count} data folders")
    return value


def prepare_audio(
    data_folders,
    save_folder,
    layout="auto",
    subsets=None,
    valid_ratio=0.02,
    min_duration=0.5,
    max_duration=30.0,
    target_sample_rate=24000,
    seed=1234,
    vctk_mic="mic1",
    check_silence=True,
    num_workers=None,
    progress=True,
):
    """Write ``train.json`` and ``valid.json`` for audio-only corpora.

    Arguments
    ---------
    data_folders : str or list of str
        One corpus per folder.
    save_folder : str
        Where the manifests, ``prepare_report.csv`` and
        ``prepare_options.json`` go.
    layout : str or list of str
        ``"auto"`` (detected per folder from the files present) or one of
        ``folder``, ``libritts``, ``librispeech``, ``vctk``, ``ljspeech``; a
        list gives one per folder.
    subsets : list of str, optional
        LibriTTS/LibriSpeech subset folders to use (e.g. ``train-clean-100``);
        default all. Ignored for the other layouts.
    valid_ratio : float
        Share of the utterances (of all corpora together) held out for
        validation, chosen in seeded hash order of their ids.
    min_duration, max_duration : float, optional
        Seconds; files outside are skipped and reported.
    target_sample_rate : int
        Rate the pipeline resamples to; recorded in the options file only
        (``sr`` in each entry is the file's own rate).
    seed : int
        Split seed.
    vctk_mic : str, optional
        VCTK 0.92 microphone (``"mic1"``, ``"mic2"``; ``None`` for both).
    check_silence : bool
        Decode every file and skip silent ones.
    num_workers : int, optional
        Probing processes (default: cores, at most 8).
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        ``{"train": path, "valid": path}``.

    Raises
    ------
    FileNotFoundError
        A data folder is missing or not a folder.
    ValueError
        A bad option, or no usable audio file at all
        (:class:`~speechbrain_v2s.prepare.NothingPreparedError`).

    Example
    -------
    >>> import json, tempfile
    >>> import numpy as np, soundfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "corpus", "spk1"))
    >>> for i in range(4):
    ...     path = os.path.join(root, "corpus", "spk1", f"u{i}.wav")
    ...     soundfile.write(path, np.full(16000, 0.1 * (i + 1)), 16000)
    >>> paths = prepare_audio(
    ...     os.path.join(root, "corpus"), os.path.join(root, "save"),
    ...     valid_ratio=0.25, progress=False,
    ... )
    >>> train = json.load(open(paths["train"]))
    >>> len(train), len(json.load(open(paths["valid"])))
    (3, 1)
    >>> sorted(next(iter(train.values())))
    ['corpus', 'duration', 'spk_id', 'sr', 'text', 'wav']
    """
    folders = [data_folders] if isinstance(data_folders, str) else list(data_folders)
    if not folders:
        raise ValueError("no data folders given")
    layouts = _as_list(layout, len(folders), "layouts")
    for name in layouts:
        if name != "auto" and name not in LAYOUTS:
            raise ValueError(f"unknown layout {name!r}: use 'auto' or one of {LAYOUTS}")
    if not 0 <= valid_ratio < 1:
        raise ValueError(f"valid_ratio must be in [0, 1), got {valid_ratio}")
    folders = [require_folder(f, EXPECTED[name]) for f, name in zip(folders, layouts)]
    options = {
        "prepare": "audio",
        "data_folders": folders,
        "layout": layouts,
        "subsets": sorted(subsets) if subsets else None,
        "valid_ratio": valid_ratio,
        "min_duration": min_duration,
        "max_duration": max_duration,
        "target_sample_rate": target_sample_rate,
        "seed": seed,
        "vctk_mic": vctk_mic,
        "check_silence": check_silence,
    }

    def build(report):
        candidates, used = [], {}
        for folder, name in zip(folders, layouts):
            name = detect_layout(folder) if name == "auto" else name
            corpus = _corpus_name(folder, name, used)
            found = scan_corpus(folder, name, corpus, report, subsets, vctk_mic)
            logger.info("%s: %d audio files (%s layout)", folder, len(found), name)
            candidates.extend(found)
        candidates = drop_duplicates(candidates, report)
        settings = probe_settings(min_duration, max_duration, check_silence)
        entries = probe_entries(candidates, report, settings, num_workers, progress)
        ratios = (1.0 - valid_ratio, valid_ratio)
        return split_items(entries, ratios, seed, names=("train", "valid"))

    # No audio at all is a mistake (a wrong folder or layout), not a corpus.
    return run_preparation(
        save_folder, options, ("train", "valid"), build, require_entries=True
    )


def main(argv=None):
    """Command line: ``python audio_prepare.py FOLDER [FOLDER ...] SAVE_FOLDER``.

    Errors (a missing folder, a bad option, no audio found) are one line on
    stderr and exit status 2.

    Example
    -------
    >>> import tempfile
    >>> import numpy as np, soundfile
    >>> root = tempfile.mkdtemp()
    >>> soundfile.write(os.path.join(root, "a.wav"), np.full(16000, 0.1), 16000)
    >>> main([root, os.path.join(root, "save"), "--valid_ratio", "0"])
    >>> sorted(os.listdir(os.path.join(root, "save")))
    ['prepare_options.json', 'prepare_report.csv', 'train.json', 'valid.json']
    """

    def add_arguments(parser):
        parser.add_argument(
            "--layout",
            nargs="+",
            default=["auto"],
            help="auto or one of " + ", ".join(LAYOUTS) + " (one, or one per folder)",
        )
        parser.add_argument("--subsets", nargs="+", default=None)
        parser.add_argument("--valid_ratio", type=float, default=0.02)
        parser.add_argument("--target_sample_rate", type=int, default=24000)
        parser.add_argument("--vctk_mic", default="mic1", help="mic1, mic2 or both")

    def convert(options):
        # One --layout value is for every folder; "both" VCTK mics is None.
        if len(options["layout"]) == 1:
            options["layout"] = options["layout"][0]
        if options["vctk_mic"] == "both":
            options["vctk_mic"] = None
        return options

    prepare_main(
        prepare_audio,
        argv,
        __doc__,
        "corpus folders",
        add_arguments,
        {"min_duration": 0.5, "max_duration": 30.0, "silence_check": True},
        convert,
        several_folders=True,
    )


if __name__ == "__main__":
    sys.exit(main())
