"""The reference side of an evaluation: which generated file goes with which
reference (a folder or a SpeechBrain JSON manifest), the reference files by id,
and the reference texts WER is computed against (manifest fields, ``.txt`` or
GRID ``.align`` files).
"""

import json
import logging
import os
from pathlib import Path

from speechbrain_v2s.audio import AUDIO_EXTENSIONS
from speechbrain_v2s.evaluation.errors import EvaluationError
from speechbrain_v2s.manifest_paths import DATA_ROOT_PLACEHOLDERS, fill_data_root
from speechbrain_v2s.prepare.files import read_align

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- pairing


def _audio_files(root):
    root = Path(root)
    files = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file():
            files[path.relative_to(root).with_suffix("").as_posix()] = path
    return files


def _require_dir(path, what):
    if path is None or not os.path.isdir(path):
        raise EvaluationError(f"{what} folder not found: {path}")


def find_pairs(ref_dir, gen_dir):
    """Pair reference and generated audio files of two folders.

    A reference ``<ref_dir>/s1/bbaf2n.wav`` is matched with the generated
    file of the same relative path without extension
    (``<gen_dir>/s1/bbaf2n.flac`` is fine), or else with the only generated
    file of the same stem anywhere in ``gen_dir``. Files on either side
    without a partner are left out and counted in the log.

    Arguments
    ---------
    ref_dir : str
        Reference audio folder (searched recursively).
    gen_dir : str
        Generated audio folder (searched recursively).

    Returns
    -------
    list of dict
        ``{"id", "ref", "gen"}`` with ``id`` the reference's relative path
        without extension, sorted by id.

    Raises
    ------
    EvaluationError
        A missing folder.

    Example
    -------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for f in ("r/s1/a.wav", "r/s1/b.wav", "g/a.wav"):
    ...     (root / f).parent.mkdir(parents=True, exist_ok=True)
    ...     (root / f).touch()
    >>> [p["id"] for p in find_pairs(root / "r", root / "g")]
    ['s1/a']
    """
    _require_dir(ref_dir, "reference")
    _require_dir(gen_dir, "generated")
    refs, gens = _audio_files(ref_dir), _audio_files(gen_dir)
    by_stem = {}
    for key, path in gens.items():
        by_stem.setdefault(path.stem, []).append(key)
    pairs, used = [], set()
    for key, ref in refs.items():
        match = key if key in gens else None
        if match is None and len(by_stem.get(ref.stem, ())) == 1:
            match = by_stem[ref.stem][0]
        if match is not None and match not in used:
            used.add(match)
            pairs.append({"id": key, "ref": str(ref), "gen": str(gens[match])})
    if len(pairs) < len(refs) or len(used) < len(gens):
        logger.warning(
            "%s: %d references and %d generated files have no partner",
            gen_dir,
            len(refs) - len(pairs),
            len(gens) - len(used),
        )
    return pairs


def _read_manifest(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError as err:
        raise EvaluationError(f"manifest not found: {path}") from err
    except (OSError, json.JSONDecodeError) as err:
        raise EvaluationError(f"cannot read manifest {path}: {err}") from err
    if not isinstance(data, dict) or not all(
        isinstance(v, dict) for v in data.values()
    ):
        raise EvaluationError(
            f"manifest {path} is not a SpeechBrain JSON manifest "
            "({id: {field: value}})"
        )
    return data


def _fill_root(value, data_root, manifest=None, key=None):
    value = str(value)
    if data_root is None and any(p in value for p in DATA_ROOT_PLACEHOLDERS):
        raise EvaluationError(
            f"manifest {manifest}: entry {key} has {{data_root}} in its paths: "
            "give --data-root"
        )
    return fill_data_root(value, data_root)


def pairs_from_manifest(manifest, gen_dir, data_root=None):
    """Pairs from a SpeechBrain JSON manifest and a folder of generated audio.

    The manifest's ``wav`` field is the reference (``{data_root}`` and the
    other :data:`~speechbrain_v2s.manifest_paths.DATA_ROOT_PLACEHOLDERS` are
    filled with ``data_root``); the generated
    file is looked up in ``gen_dir`` as ``<id>.<ext>``, then
    ``<speaker folder>/<stem>.<ext>``, then ``<stem>.<ext>``. Every manifest
    entry is part of the test set: one without a generated file is kept, with
    ``gen`` empty, and reported as an error row by
    :func:`~speechbrain_v2s.evaluation.evaluate_pairs`.
    Texts in ``text``, ``wrd`` or ``words`` are returned as ``ref_text``.

    Arguments
    ---------
    manifest : str
        JSON manifest path.
    gen_dir : str
        Generated audio folder.
    data_root : str, optional
        Value of the ``data_root`` placeholder.

    Returns
    -------
    list of dict
        ``{"id", "ref", "gen"}`` (plus ``"ref_text"`` when the entry has one).

    Example
    -------
    >>> import json, os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> m = os.path.join(root, "test.json")
    >>> entry = {"wav": "{data_root}/s1/a.wav", "text": "Bin blue"}
    >>> json.dump({"s1_a": entry}, open(m, "w"))
    >>> pairs_from_manifest(m, root, data_root="/d")[0]["ref_text"]
    'Bin blue'
    """
    _require_dir(gen_dir, "generated")
    data = _read_manifest(manifest)
    gens = _audio_files(gen_dir)
    pairs = []
    for key, entry in data.items():
        if "wav" not in entry:
            raise EvaluationError(f"manifest {manifest}: entry {key} has no 'wav'")
        ref = Path(_fill_root(entry["wav"], data_root, manifest, key))
        candidates = (str(key), f"{ref.parent.name}/{ref.stem}", ref.stem)
        gen = next((gens[c] for c in candidates if c in gens), None)
        pair = {"id": str(key), "ref": str(ref), "gen": str(gen) if gen else ""}
        text = _entry_text(entry)
        if text is not None:
            pair["ref_text"] = text
        pairs.append(pair)
    return pairs


def _entry_text(entry):
    for field in ("text", "wrd", "words", "transcript"):
        if entry.get(field) is not None:
            return str(entry[field])
    return None


def reference_files(manifest=None, ref_dir=None, data_root=None):
    """Reference audio files by the ids evaluation pairs them with.

    Arguments
    ---------
    manifest : str, optional
        SpeechBrain JSON manifest: ids are its keys, files its ``wav`` field
        (placeholders filled with ``data_root``).
    ref_dir : str, optional
        Reference folder (when there is no manifest): ids are the files'
        relative paths without extension, as in :func:`find_pairs`.
    data_root : str, optional
        Value of the ``data_root`` placeholder.

    Returns
    -------
    dict
        ``{id: path}``.

    Example
    -------
    >>> import json, os, tempfile
    >>> m = os.path.join(tempfile.mkdtemp(), "test.json")
    >>> json.dump({"s1_a": {"wav": "{data_root}/s1/a.wav"}}, open(m, "w"))
    >>> reference_files(manifest=m, data_root="/d")
    {'s1_a': '/d/s1/a.wav'}
    """
    if manifest is not None:
        files = {}
        for key, entry in _read_manifest(manifest).items():
            if "wav" not in entry:
                raise EvaluationError(f"manifest {manifest}: entry {key} has no 'wav'")
            files[str(key)] = _fill_root(entry["wav"], data_root, manifest, key)
        return files
    _require_dir(ref_dir, "reference")
    return {key: str(path) for key, path in _audio_files(ref_dir).items()}


# ---------------------------------------------------------------- transcripts


def load_transcripts(manifest):
    """Reference texts from a JSON manifest, keyed several ways for matching.

    Each entry's text (``text``, ``wrd``, ``words`` or ``transcript``) is
    stored under its id, the stem of its ``wav`` and ``<speaker>/<stem>``.

    Example
    -------
    >>> import json, os, tempfile
    >>> m = os.path.join(tempfile.mkdtemp(), "t.json")
    >>> json.dump({"s1_a": {"wav": "/x/s1/a.wav", "wrd": "BIN BLUE"}}, open(m, "w"))
    >>> sorted(load_transcripts(m))
    ['a', 's1/a', 's1_a']
    """
    texts = {}
    for key, entry in _read_manifest(manifest).items():
        text = _entry_text(entry)
        if text is None:
            continue
        texts[str(key)] = text
        if "wav" in entry:
            wav = Path(str(entry["wav"]))
            texts.setdefault(f"{wav.parent.name}/{wav.stem}", text)
            texts.setdefault(wav.stem, text)
    return texts


def find_transcript(ref_path):
    """Reference text stored next to a reference audio file, or ``None``.

    Looks for ``<stem>.txt`` and ``<stem>.align`` beside the file, then for a
    GRID ``align`` folder beside one of its parent folders
    (``<corpus>/audio_25k/s1/x.wav`` -> ``<corpus>/align/s1/x.align``).

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "align", "s1"))
    >>> p = os.path.join(root, "align", "s1", "x.align")
    >>> _ = open(p, "w").write("0 5 sil\\n5 9 bin\\n")
    >>> find_transcript(os.path.join(root, "audio_25k", "s1", "x.wav"))
    'bin'
    """
    ref = Path(ref_path)
    txt = ref.with_suffix(".txt")
    if txt.is_file():
        return txt.read_text(encoding="utf-8").strip()
    candidates = [ref.with_suffix(".align")]
    tail = [ref.stem + ".align"]
    for parent in list(ref.parents)[:3]:
        candidates.append(parent.parent / "align" / Path(*tail))
        tail.insert(0, parent.name)
    for path in candidates:
        if path.is_file():
            return read_align(path)
    return None


def attach_transcripts(pairs, transcripts=None):
    """Give each pair a ``ref_text`` (manifest first, then files beside it).

    Arguments
    ---------
    pairs : list of dict
        From :func:`find_pairs` or :func:`pairs_from_manifest`.
    transcripts : dict, optional
        From :func:`load_transcripts`; matched by id, ``<speaker>/<stem>``,
        stem.

    Returns
    -------
    int
        How many pairs have a reference text.

    Example
    -------
    >>> pairs = [{"id": "s1/a", "ref": "/nowhere/s1/a.wav", "gen": ""}]
    >>> attach_transcripts(pairs, {"a": "bin blue"}), pairs[0]["ref_text"]
    (1, 'bin blue')
    """
    found = 0
    for pair in pairs:
        if pair.get("ref_text") is None and transcripts:
            ref = Path(pair["ref"])
            for key in (pair["id"], f"{ref.parent.name}/{ref.stem}", ref.stem):
                if key in transcripts:
                    pair["ref_text"] = transcripts[key]
                    break
        if pair.get("ref_text") is None:
            pair["ref_text"] = find_transcript(pair["ref"])
        found += pair["ref_text"] is not None
    return found
