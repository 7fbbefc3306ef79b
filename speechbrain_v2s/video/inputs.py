"""The inputs of ``v2s-preprocess``: folders, list files, JSON manifests, videos.

Each input becomes one work item with a unique output name
(:func:`speechbrain_v2s.outputs.name_outputs`); an argument that cannot be
used (missing, an unknown kind of file, a broken list or manifest) raises
:class:`InputError`, one line naming the file and the problem.

Example
-------
>>> import tempfile
>>> root = tempfile.mkdtemp()
>>> for name in ["a/x.mp4", "b/x.mp4", "x.avi"]:
...     os.makedirs(os.path.join(root, os.path.dirname(name)), exist_ok=True)
...     open(os.path.join(root, name), "w").close()
>>> [item["rel"] for item in collect_inputs(root)]
['a/x.npz', 'b/x.npz', 'x.npz']
"""

import json
import os

from speechbrain_v2s.manifest_paths import fill_data_root
from speechbrain_v2s.outputs import name_outputs
from speechbrain_v2s.video.io import VIDEO_EXTENSIONS

_AUDIO_KEYS = ("wav", "audio", "audio_path", "wav_path")
_VIDEO_KEYS = ("video", "video_path", "mp4")


class InputError(ValueError):
    """An input argument that cannot be used, with the file and the reason.

    Example
    -------
    >>> str(InputError("list.json", "not valid JSON"))
    'list.json: not valid JSON'
    """

    def __init__(self, path, reason):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


def _common_root(paths):
    folders = [os.path.dirname(os.path.abspath(p)) for p in paths]
    return os.path.commonpath(folders) if folders else os.getcwd()


def _resolve(path, data_root, base):
    path = fill_data_root(path, data_root)
    if not os.path.isabs(path):
        path = os.path.join(base, path)
    return os.path.normpath(path)


def _read_text(path):
    """The text of a list or manifest; InputError when it is not UTF-8 text."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise InputError(path, f"cannot read ({err.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        known = ", ".join(VIDEO_EXTENSIONS)
        raise InputError(
            path,
            "not a video type this tool reads (" + known + ") and not a text list",
        )
    return text


def _filled(path, value, key, data_root):
    """``value`` with the ``data_root`` placeholder filled; InputError when it
    is there and no ``data_root`` was given (the path would not exist)."""
    value = str(value)
    if data_root is None and ("{data_root}" in value or "$data_root" in value):
        raise InputError(
            path, f"entry {key!r} has {{data_root}} in its paths: give --data-root"
        )
    return value


def read_manifest(path, data_root=None):
    """The videos of a SpeechBrain JSON manifest, as the recipes write them.

    Arguments
    ---------
    path : str
        ``{id: {"video": path, "wav": path, "roi_path": path, ...}}`` (the
        ``<split>.json`` of a ``*_prepare.py``, or a ``<split>_v2a.json``
        naming cached mouth ROIs); a list of entries is also accepted (ids
        are then their positions). Entries without a video field are left
        out. Relative paths are relative to the manifest's folder.
    data_root : str, optional
        Replaces ``{data_root}`` / ``$data_root`` in the paths.

    Returns
    -------
    list of dict
        In the manifest's order: ``id``, ``video`` (or None when the entry
        names only its ROI cache), ``wav`` and ``roi`` (or None).

    Raises
    ------
    InputError
        Not JSON, not a mapping of ids to entries, no entry with a video or
        ROI field, or a ``{data_root}`` placeholder without ``data_root``.

    Example
    -------
    >>> import json, tempfile
    >>> m = os.path.join(tempfile.mkdtemp(), "test.json")
    >>> json.dump({"s1_a": {"video": "{data_root}/s1/a.mpg", "wav": "a.wav"}},
    ...           open(m, "w"))
    >>> item = read_manifest(m, data_root="/d")[0]
    >>> item["id"], item["video"], item["roi"]
    ('s1_a', '/d/s1/a.mpg', None)
    >>> read_manifest(m)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    speechbrain_v2s.video.inputs.InputError: ...: entry 's1_a' has {data_root} ...
    """
    try:
        entries = json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise InputError(path, f"not valid JSON ({err})") from None
    if isinstance(entries, list):  # also accept a list of entries
        entries = {str(i): e for i, e in enumerate(entries)}
    if not isinstance(entries, dict):
        raise InputError(path, "a manifest must map ids to entries")
    base = os.path.dirname(os.path.abspath(path))
    items = []
    for key, entry in entries.items():
        if not isinstance(entry, dict):
            continue
        found = {}
        for field, keys in (("video", _VIDEO_KEYS), ("wav", _AUDIO_KEYS)):
            found[field] = next((entry[k] for k in keys if entry.get(k)), None)
        found["roi"] = entry.get("roi_path") or None
        if found["video"] is None and found["roi"] is None:
            continue
        item = {"id": str(key)}
        for field, value in found.items():
            value = value and _filled(path, value, key, data_root)
            item[field] = _resolve(value, data_root, base) if value else None
        items.append(item)
    if entries and not items:
        raise InputError(path, "no entry has a 'video' (or 'roi_path') field")
    return items


def _read_manifest(path, data_root):
    return [
        (item["video"], item["wav"], item["id"])
        for item in read_manifest(path, data_root)
        if item["video"] is not None  # preprocessing needs the video itself
    ]


def _read_list(path, data_root):
    base = os.path.dirname(os.path.abspath(path))
    items = []
    for line in _read_text(path).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")  # tab-separated, so paths may contain spaces
        video = _resolve(parts[0].strip(), data_root, base)
        wav = _resolve(parts[1].strip(), data_root, base) if len(parts) > 1 else None
        items.append((video, wav, None))
    return items


def _scan(folder, extensions):
    root = os.path.abspath(folder)
    for parent, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if os.path.splitext(name)[1].lower() in extensions:
                video = os.path.join(parent, name)
                yield video, None, None, os.path.relpath(video, root)


def collect_inputs(inputs, data_root=None, extensions=VIDEO_EXTENSIONS):
    """Expand folders, list files and manifests into sorted work items.

    Arguments
    ---------
    inputs : str, os.PathLike or list of them
        Folders (recursive search for ``extensions``, in any case),
        ``.json`` SpeechBrain manifests (entries with a ``video`` key and
        optionally ``wav``), list files (any other extension, UTF-8 text:
        ``video[<TAB>wav]`` per line, ``#`` comments), or video files.
    data_root : str, optional
        Replaces ``{data_root}`` in manifest/list paths
        (:func:`~speechbrain_v2s.manifest_paths.fill_data_root`); also the root
        that output paths are made relative to for manifest and list entries.
    extensions : tuple of str
        Video file extensions.

    Returns
    -------
    list of dict
        Sorted by ``rel``; keys ``video``, ``wav`` (or None), ``rel`` (output path
        relative to the output folder, ending in ``.npz``; unique), ``id``.

    Raises
    ------
    InputError
        An argument is missing, neither a video nor a text list, or a
        manifest that is not JSON.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> for name in ["b/x.mp4", "a/y.MPG", "a/notes.txt", "a/z.NPZ"]:
    ...     os.makedirs(os.path.join(root, os.path.dirname(name)), exist_ok=True)
    ...     open(os.path.join(root, name), "w").close()
    >>> [item["rel"] for item in collect_inputs(root)]
    ['a/y.npz', 'b/x.npz']
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    extensions = tuple(e.lower() for e in extensions)
    items = []
    for entry in map(os.fspath, inputs):
        if os.path.isdir(entry):
            items.extend(_scan(entry, extensions))
            continue
        if not os.path.exists(entry):
            raise InputError(entry, "no such file or folder")
        ext = os.path.splitext(entry)[1].lower()
        if ext in extensions:
            found = [(os.path.abspath(entry), None, None)]
        elif ext == ".json":
            found = _read_manifest(entry, data_root)
        else:
            found = _read_list(entry, data_root)
        root = data_root or _common_root([video for video, _, _ in found])
        for video, wav, key in found:
            rel = os.path.relpath(video, root)
            if rel.startswith(".."):  # outside data_root: fall back to the id/name
                rel = key or os.path.basename(video)
            items.append((video, wav, key, rel))
    unique, seen = [], set()
    for video, wav, key, rel in items:
        if os.path.abspath(video) not in seen:  # one video listed twice
            seen.add(os.path.abspath(video))
            unique.append((video, wav, key, rel))
    names = name_outputs([(item[0], item[3]) for item in unique], ".npz")
    out = [
        {"video": video, "wav": wav, "rel": name, "id": key}
        for (video, wav, key, _), name in zip(unique, names)
    ]
    out.sort(key=lambda item: item["rel"])
    return out
