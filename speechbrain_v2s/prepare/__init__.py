"""Manifest preparation shared by every ``<dataset>_prepare.py`` recipe script.

A prepare script does only the dataset-specific part: it finds the files of
one corpus layout and turns them into *candidate entries*, plain dicts with an
``id``, a ``wav`` and/or ``video`` path, a speaker and a transcript. This
package does everything else, the same way for every dataset:

* :func:`require_folder` fails clearly when the dataset folder is missing;
* :func:`probe_entries` probes every file in parallel (tqdm progress bar):
  audio info (``soundfile``, falling back to PyAV/``torchaudio`` for formats
  libsndfile cannot read), silence (peak/RMS of the decoded audio), video frame
  count and rate (OpenCV), audio stream inside a video (PyAV, when installed),
  audio/video length agreement and duration filters. A bad file is written to
  the report and skipped, never fatal;
* :func:`split_items`, :func:`split_seen`, :func:`split_speakers` and
  :func:`split_by_lists` make deterministic splits (hash order of the ids, so
  a split does not depend on the order files were found in);
* :func:`run_preparation` skips the work when ``save_folder`` was already
  prepared with the same options (``prepare_options.json``), and otherwise
  writes the SpeechBrain JSON manifests ``{id: {field: value}}`` (read by
  ``DynamicItemDataset.from_json``), the bad-file report
  ``prepare_report.csv`` (columns ``file,reason,action``; ``action`` is
  ``skipped`` or ``kept``) and, last, the options file. Every file is written
  to a temporary file first and renamed, so an interrupted run never leaves a
  half-written manifest that a later run would trust.

The package, one concern a module (everything below is importable from
``speechbrain_v2s.prepare`` itself; ``speechbrain_v2s.data.manifests``, its
former single module, re-exports it all):

- :mod:`~speechbrain_v2s.prepare.reports`: :class:`BadFileError`,
  :class:`PrepareReport`;
- :mod:`~speechbrain_v2s.prepare.files`: the dataset folder, finding files,
  reading list, header and ``.align`` files;
- atomic writes (:func:`write_text_atomic`, :func:`write_json_atomic`) come
  from :mod:`speechbrain_v2s.atomic`, which every writer of the package uses;
- :mod:`~speechbrain_v2s.prepare.media`: reading and checking one audio or
  video file;
- :mod:`~speechbrain_v2s.prepare.parallel`: :func:`parallel_map`;
- :mod:`~speechbrain_v2s.prepare.probing`: probing candidate entries;
- :mod:`~speechbrain_v2s.prepare.splits`: deterministic splits;
- :mod:`~speechbrain_v2s.prepare.running`: :func:`run_preparation` and the
  manifest files;
- :mod:`~speechbrain_v2s.prepare.cli`: the prepare scripts' command line.

Example
-------
>>> import json, os, tempfile
>>> import numpy as np, soundfile
>>> root = tempfile.mkdtemp()
>>> for name in ("a", "b", "c"):
...     t = np.arange(16000) / 16000
...     soundfile.write(os.path.join(root, name + ".wav"), 0.5 * np.sin(900 * t), 16000)
>>> soundfile.write(os.path.join(root, "quiet.wav"), np.zeros(16000), 16000)
>>> def build(report):
...     files = find_files(root, AUDIO_EXTENSIONS)
...     entries = [{"id": os.path.basename(f)[:-4], "wav": f} for f in files]
...     entries = probe_entries(entries, report, progress=False)
...     return split_items(entries, (0.6, 0.4), names=("train", "valid"))
>>> save = os.path.join(root, "manifests")
>>> paths = run_preparation(save, {"prepare": "demo"}, ("train", "valid"), build)
>>> with open(paths["train"]) as f:
...     train = json.load(f)
>>> with open(paths["valid"]) as f:
...     valid = json.load(f)
>>> sorted(train), sorted(valid)
(['b', 'c'], ['a'])
>>> train["b"]["duration"], train["b"]["sr"]
(1.0, 16000)
>>> print(open(os.path.join(save, REPORT_NAME)).read().splitlines()[1])
/...quiet.wav,silent audio (peak 0 < 0.001),skipped
"""

from speechbrain_v2s.atomic import write_json_atomic, write_text_atomic
from speechbrain_v2s.prepare.cli import (
    add_common_arguments,
    prepare_main,
    ratios_arg,
    setup_cli_logging,
)
from speechbrain_v2s.prepare.files import (
    SILENCE_WORDS,
    find_files,
    list_dirs,
    read_align,
    read_key_values,
    read_list_file,
    read_text_file,
    require_folder,
    strip_extension,
)
from speechbrain_v2s.prepare.media import (
    AUDIO_EXTENSIONS,
    SILENCE_PEAK,
    SILENCE_RMS,
    VIDEO_EXTENSIONS,
    audio_info,
    pyav_available,
    silence_reason,
    video_audio_info,
    video_info,
)
from speechbrain_v2s.prepare.parallel import (
    MAX_WORKERS,
    MIN_PARALLEL_ITEMS,
    default_workers,
    parallel_map,
)
from speechbrain_v2s.prepare.probing import (
    CODEC_PADDING_SAMPLES,
    av_mismatch,
    drop_duplicates,
    duration_reason,
    fill_missing,
    probe_entries,
    probe_entry,
    probe_settings,
)
from speechbrain_v2s.prepare.reports import (
    REPORT_FIELDS,
    REPORT_NAME,
    BadFileError,
    PrepareReport,
)
from speechbrain_v2s.prepare.running import (
    MANIFEST_VERSION,
    OPTIONS_NAME,
    NothingPreparedError,
    is_prepared,
    manifest_paths,
    merge_split_manifests,
    normalise_options,
    require_writable_folder,
    run_preparation,
    write_manifest,
)
from speechbrain_v2s.prepare.splits import (
    SPLITS,
    natural_sorted,
    split_by_lists,
    split_counts,
    split_items,
    split_seen,
    split_speakers,
    stable_order,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "CODEC_PADDING_SAMPLES",
    "MANIFEST_VERSION",
    "MAX_WORKERS",
    "MIN_PARALLEL_ITEMS",
    "OPTIONS_NAME",
    "REPORT_FIELDS",
    "REPORT_NAME",
    "SILENCE_PEAK",
    "SILENCE_RMS",
    "SILENCE_WORDS",
    "SPLITS",
    "VIDEO_EXTENSIONS",
    "BadFileError",
    "NothingPreparedError",
    "PrepareReport",
    "add_common_arguments",
    "audio_info",
    "av_mismatch",
    "default_workers",
    "drop_duplicates",
    "duration_reason",
    "fill_missing",
    "find_files",
    "is_prepared",
    "list_dirs",
    "manifest_paths",
    "merge_split_manifests",
    "natural_sorted",
    "normalise_options",
    "parallel_map",
    "prepare_main",
    "probe_entries",
    "probe_entry",
    "probe_settings",
    "pyav_available",
    "ratios_arg",
    "read_align",
    "read_key_values",
    "read_list_file",
    "read_text_file",
    "require_folder",
    "require_writable_folder",
    "run_preparation",
    "setup_cli_logging",
    "silence_reason",
    "split_by_lists",
    "split_counts",
    "split_items",
    "split_seen",
    "split_speakers",
    "stable_order",
    "strip_extension",
    "video_audio_info",
    "video_info",
    "write_json_atomic",
    "write_manifest",
    "write_text_atomic",
]
