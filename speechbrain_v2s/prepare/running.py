"""Running a preparation: :func:`run_preparation` skips a ``save_folder``
already prepared with the same options, otherwise builds the entries and
writes the manifests, the report and, last, the options file.
"""

import json
import logging
import os
import tempfile

from speechbrain_v2s.atomic import write_json_atomic
from speechbrain_v2s.prepare.reports import PrepareReport
from speechbrain_v2s.prepare.splits import SPLITS

logger = logging.getLogger(__name__)

OPTIONS_NAME = "prepare_options.json"
MANIFEST_VERSION = 1


def write_manifest(path, entries):
    """Write entries (dicts with ``id``) as a SpeechBrain JSON manifest.

    The file maps each id to the entry's other fields: ``{id: {field: value}}``.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> path = os.path.join(tempfile.mkdtemp(), "train.json")
    >>> write_manifest(path, [{"id": "u1", "wav": "/a.wav", "duration": 1.5}])
    >>> DynamicItemDataset.from_json(path).data
    {'u1': {'wav': '/a.wav', 'duration': 1.5}}
    """
    data = {}
    for entry in sorted(entries, key=lambda e: e["id"]):
        fields = dict(entry)
        data[fields.pop("id")] = fields
    write_json_atomic(path, data)


def merge_split_manifests(save_folder, out_path, split_names=SPLITS, prefix=""):
    """One manifest holding every utterance of a preparation's split manifests.

    Used to test on a whole other corpus (e.g. unseen speakers). ``prefix`` is
    put before every id and ``spk_id``, so that ``s1`` of another corpus (another
    person) does not collide with a training speaker ``s1``.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for split, key, spk in [("train", "a", "s1"), ("test", "b", "s2")]:
    ...     path = os.path.join(folder, f"{split}.json")
    ...     write_manifest(path, [{"id": key, "spk_id": spk}])
    >>> out = merge_split_manifests(folder, os.path.join(folder, "all.json"),
    ...                             ["train", "test"], prefix="unseen_")
    >>> with open(out) as f:
    ...     json.load(f)
    {'unseen_a': {'spk_id': 'unseen_s1'}, 'unseen_b': {'spk_id': 'unseen_s2'}}
    """
    entries = {}
    for path in manifest_paths(save_folder, split_names).values():
        with open(path, encoding="utf-8") as handle:
            for key, entry in json.load(handle).items():
                if prefix and "spk_id" in entry:
                    entry["spk_id"] = f"{prefix}{entry['spk_id']}"
                entries[f"{prefix}{key}"] = entry
    write_json_atomic(out_path, entries)
    return out_path


def manifest_paths(save_folder, split_names):
    """``{split: <save_folder>/<split>.json}``.

    Example
    -------
    >>> manifest_paths("out", ["train"])
    {'train': 'out/train.json'}
    """
    return {name: os.path.join(save_folder, f"{name}.json") for name in split_names}


def normalise_options(options):
    """Options as they read back from JSON (tuples become lists, etc.).

    Example
    -------
    >>> normalise_options({"ratios": (0.9, 0.1), "seed": 1})
    {'ratios': [0.9, 0.1], 'seed': 1}
    """
    return json.loads(json.dumps(options, sort_keys=True, default=str))


def is_prepared(save_folder, split_names, options):
    """Whether ``save_folder`` holds every manifest, prepared with ``options``.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> is_prepared(folder, ["train"], {"seed": 1})
    False
    >>> write_manifest(os.path.join(folder, "train.json"), [])
    >>> write_json_atomic(os.path.join(folder, OPTIONS_NAME), {"seed": 1})
    >>> is_prepared(folder, ["train"], {"seed": 1})
    True
    >>> is_prepared(folder, ["train"], {"seed": 2})
    False
    """
    path = os.path.join(save_folder, OPTIONS_NAME)
    if not os.path.isfile(path):
        return False
    if not all(
        os.path.isfile(p) for p in manifest_paths(save_folder, split_names).values()
    ):
        return False
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return False
    return saved == normalise_options(options)


class NothingPreparedError(ValueError):
    """No usable file was found: every manifest would be empty."""


def require_writable_folder(folder):
    """Create ``folder`` if needed and check that files can be written in it,
    so that a preparation fails before probing a corpus, not after.

    Raises
    ------
    OSError
        One line naming the folder and why.

    Example
    -------
    >>> import tempfile
    >>> afile = tempfile.NamedTemporaryFile(delete=False).name
    >>> require_writable_folder(os.path.join(afile, "save"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    NotADirectoryError: cannot create save folder .../save: Not a directory
    """
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise type(err)(
            f"cannot create save folder {folder}: {err.strerror or err}"
        ) from err
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        raise type(err)(
            f"save folder {folder} is not writable: {err.strerror or err}"
        ) from err


def _data_folders(options):
    """The data folder(s) named in a preparation's ``options``, for messages.

    Example
    -------
    >>> _data_folders({"data_folder": "/data/GRID"})
    '/data/GRID'
    >>> _data_folders({"data_folders": ["/a", "/b"]}), _data_folders({})
    ('/a, /b', '')
    """
    folders = options.get("data_folders") or [options.get("data_folder") or ""]
    if isinstance(folders, str):
        folders = [folders]
    return ", ".join(str(f) for f in folders if f)


def run_preparation(
    save_folder, options, split_names, build, log_name=None, require_entries=False
):
    """Skip if already prepared with ``options``; otherwise build and write everything.

    Arguments
    ---------
    save_folder : str
        Where ``<split>.json``, ``prepare_report.csv`` and
        ``prepare_options.json`` go.
    options : dict
        Everything that changes the manifests (JSON-serialisable); saved
        last, so an interrupted run is redone.
    split_names : sequence of str
        Manifests to write.
    build : callable
        ``build(report) -> {split: [entry, ...]}`` (entries are dicts with
        ``id``); records bad files in ``report`` (a :class:`PrepareReport`).
    log_name : str, optional
        Dataset name for log messages.
    require_entries : bool
        Raise :class:`NothingPreparedError` when every split comes out empty
        (otherwise empty manifests are written, with a warning each).

    Returns
    -------
    dict
        ``{split: manifest path}``.

    Raises
    ------
    NothingPreparedError
        With ``require_entries``, every split came out empty (the report is
        written, the manifests not).
    OSError
        ``save_folder`` cannot be created or written (checked first).

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> def build(report):
    ...     return {"train": [{"id": "u1", "wav": "/a.wav", "duration": 1.0}]}
    >>> path = run_preparation(folder, {"seed": 1}, ["train"], build)["train"]
    >>> mtime = os.stat(path).st_mtime_ns
    >>> _ = run_preparation(folder, {"seed": 1}, ["train"], build)
    >>> os.stat(path).st_mtime_ns == mtime
    True
    """
    name = log_name or options.get("prepare", "data")
    paths = manifest_paths(save_folder, split_names)
    options = dict(options, manifest_version=MANIFEST_VERSION)
    if is_prepared(save_folder, split_names, options):
        logger.info(
            "%s manifests in %s already prepared with these options, skipping",
            name,
            save_folder,
        )
        return paths
    require_writable_folder(save_folder)
    options_path = os.path.join(save_folder, OPTIONS_NAME)
    if os.path.exists(options_path):
        os.remove(options_path)  # the manifests about to change no longer match it
    report = PrepareReport()
    parts = build(report)
    if require_entries and not any(parts.get(split) for split in split_names):
        # Empty manifests would only fail later, in training, far from the cause.
        report_path = report.write(save_folder)
        where = _data_folders(options)
        raise NothingPreparedError(
            f"{name}: no usable files found{' in ' + where if where else ''} "
            f"({len(report.skipped_files())} skipped, see {report_path}); "
            "no manifests written"
        )
    for split in split_names:
        entries = parts.get(split, [])
        if not entries:
            logger.warning("%s: the %s split is empty", name, split)
        write_manifest(paths[split], entries)
    report_path = report.write(save_folder)
    write_json_atomic(options_path, normalise_options(options))
    sizes = ", ".join(f"{s} {len(parts.get(s, []))}" for s in split_names)
    skipped = len(report.skipped_files())
    logger.info(
        "%s manifests written to %s (%s); %d file(s) skipped, %d warning(s): see %s",
        name,
        save_folder,
        sizes,
        skipped,
        len(report) - skipped,
        report_path,
    )
    return paths
