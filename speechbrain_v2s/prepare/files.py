"""Files and folders of a corpus layout: the dataset folder, finding files,
reading the small text files beside them (transcripts, headers, lists, GRID
``.align`` files). Text and JSON are written by :mod:`speechbrain_v2s.atomic`.
"""

import os

# Words of an ``.align`` file that are silence, not speech.
SILENCE_WORDS = frozenset({"sil", "sp", "<sil>", "sil0"})


def require_folder(path, expected):
    """Absolute path of the dataset folder ``path``, or a clear error.

    Arguments
    ---------
    path : str
        The folder given by the user.
    expected : str
        The layout that was expected there, in words (goes into the error).

    Returns
    -------
    str

    Raises
    ------
    FileNotFoundError
        Naming the path and the expected layout.

    Example
    -------
    >>> require_folder("/no/such/GRID", "<root>/<spk>/<utt>.mpg")
    Traceback (most recent call last):
    ...
    FileNotFoundError: dataset folder not found: /no/such/GRID (expected layout: ...)
    """
    if path is None or not os.path.isdir(path):
        kind = "is not a folder" if path and os.path.exists(path) else "not found"
        raise FileNotFoundError(
            f"dataset folder {kind}: {path} (expected layout: {expected})"
        )
    return os.path.abspath(path)


def list_dirs(path):
    """Sorted names of the sub-folders of ``path`` (empty if it is not a folder).

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "b")); os.makedirs(os.path.join(root, "a"))
    >>> list_dirs(root), list_dirs(os.path.join(root, "missing"))
    (['a', 'b'], [])
    """
    if not os.path.isdir(path):
        return []
    with os.scandir(path) as it:
        return sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))


def find_files(root, extensions, exclude_dirs=()):
    """All files under ``root`` (recursive) whose name ends with one of ``extensions``.

    Arguments
    ---------
    root : str
        Folder to search.
    extensions : sequence of str
        Lower-case endings such as ``(".wav", ".flac")``; the match ignores case.
    exclude_dirs : sequence of str
        Folder names not to descend into.

    Returns
    -------
    list of str
        Sorted paths (deterministic whatever the file system order).

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "spk", "skip"))
    >>> for name in ("spk/b.WAV", "spk/a.flac", "spk/skip/c.wav", "notes.txt"):
    ...     open(os.path.join(root, name), "w").close()
    >>> found = find_files(root, (".wav", ".flac"), exclude_dirs=["skip"])
    >>> [os.path.relpath(f, root) for f in found]
    ['spk/a.flac', 'spk/b.WAV']
    """
    extensions = tuple(e.lower() for e in extensions)
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(
            d for d in dirs if d not in exclude_dirs and not d.startswith(".")
        )
        found.extend(
            os.path.join(folder, f) for f in files if f.lower().endswith(extensions)
        )
    return sorted(found)


def strip_extension(name):
    """File name without folder and extension.

    Example
    -------
    >>> strip_extension("/data/s1/bbaf2n.mpg")
    'bbaf2n'
    """
    return os.path.splitext(os.path.basename(name))[0]


def read_text_file(path, encoding="utf-8"):
    """Whole text of ``path`` stripped, or ``None`` if missing/unreadable.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.txt")
    >>> _ = open(path, "w").write(" hello world\\n")
    >>> read_text_file(path), read_text_file(path + ".missing")
    ('hello world', None)
    """
    try:
        with open(path, encoding=encoding, errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def read_key_values(path):
    """``Key: value`` header lines of a text file, as ``{key (lower case): value}``.

    Reading stops at the first line that is not ``Key: value`` once some were
    read (LRS3 puts a word-timing table after its header; LRW a duration
    line after the word).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "00001.txt")
    >>> _ = open(path, "w").write(
    ...     "Text:  SO WE WENT\\nConf:  4\\n\\n"
    ...     "WORD START END ASDSCORE\\nSO 0.1 0.2 3.5\\n"
    ... )
    >>> read_key_values(path)
    {'text': 'SO WE WENT', 'conf': '4'}
    """
    fields = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            key, sep, value = line.partition(":")
            if not sep or not key.strip() or " " in key.strip():
                if fields:
                    break
                continue
            fields[key.strip().lower()] = value.strip()
    return fields


def read_list_file(path):
    """Non-empty lines of a list file, ``#`` comments removed.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "spk.txt")
    >>> _ = open(path, "w").write("# test speakers\\ns1\\ns2  # male\\n\\n")
    >>> read_list_file(path)
    ['s1', 's2']
    """
    with open(path, encoding="utf-8") as f:
        lines = (line.split("#", 1)[0].strip() for line in f)
        return [line for line in lines if line]


def read_align(path):
    """The words of a GRID ``.align`` file (``start end word``), silences dropped.

    Example
    -------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "bbaf2n.align")
    >>> _ = open(p, "w").write("0 100 sil\\n100 200 bin\\n200 300 blue\\n300 400 sp\\n")
    >>> read_align(p)
    'bin blue'
    """
    words = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2].lower() not in SILENCE_WORDS:
                words.append(parts[2])
            elif len(parts) == 1 and parts[0].lower() not in SILENCE_WORDS:
                words.append(parts[0])
    return " ".join(words)
