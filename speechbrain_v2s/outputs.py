"""Where batch tools write: one output name per input, never two inputs to one.

``v2s-preprocess`` and ``v2s-synthesize`` both name their outputs here. An
input found in a folder keeps its path relative to that folder; an input named
on the command line or in a list is named from its base name. When two inputs
would still share an output (``a/x.mp4`` and ``b/x.mp4`` named directly, or
``x.mp4`` and ``x.avi`` side by side), the colliding ones are named from their
path relative to their common parent folder, then with the input's extension
kept (``x.mp4.wav``), then with a counter; inputs that do not collide keep the
name they would have alone, so adding a file never renames other outputs
unless it collides with them.

This module imports nothing from the package: every layer may use it.

Example
-------
>>> name_outputs([("/d/a/x.mp4", "x.mp4"), ("/d/b/x.mp4", "x.mp4"),
...               ("/d/y.avi", "y.avi")], ".wav")
['a/x.wav', 'b/x.wav', 'y.wav']
"""

import os

# Exit statuses shared by the batch tools: all done, some failed, nothing done
# (or a usage error), interrupted (as a shell reports a SIGINT).
EXIT_OK, EXIT_SOME_FAILED, EXIT_NOTHING_DONE, EXIT_INTERRUPTED = 0, 1, 2, 130


def batch_exit_code(done, skipped, failed):
    """The exit status of a batch run from its counts.

    0 when nothing failed (files already made count as done), 1 when some
    failed and some were made, 2 when nothing was made or skipped.

    Example
    -------
    >>> batch_exit_code(3, 0, 0), batch_exit_code(0, 3, 0)
    (0, 0)
    >>> batch_exit_code(2, 0, 1), batch_exit_code(0, 0, 3), batch_exit_code(0, 0, 0)
    (1, 2, 2)
    """
    if failed == 0 and done + skipped > 0:
        return EXIT_OK
    return EXIT_SOME_FAILED if done + skipped > 0 else EXIT_NOTHING_DONE


def summary_line(tool, done, skipped, failed, total=None):
    """The last line a batch tool prints: its counts.

    Example
    -------
    >>> summary_line("v2s-synthesize", 2, 1, 0)
    'v2s-synthesize: done 2, skipped 1 existing, failed 0 of 3'
    """
    total = done + skipped + failed if total is None else total
    return (
        f"{tool}: done {done}, skipped {skipped} existing, failed {failed} of {total}"
    )


def _common_parent(paths):
    folders = [os.path.dirname(os.path.abspath(p)) for p in paths]
    return os.path.commonpath(folders) if folders else os.getcwd()


def _renamings(sources, rels, suffix):
    """Candidate names of one colliding group, best first, per input."""
    parent = _common_parent(sources)
    from_parent = [os.path.relpath(os.path.abspath(s), parent) for s in sources]
    for names in (from_parent, rels):
        yield [os.path.splitext(n)[0] + suffix for n in names]
        yield [n + suffix for n in names]  # x.mp4 and x.avi side by side


def name_outputs(entries, suffix):
    """Unique output names, relative to the output folder, one per input.

    Arguments
    ---------
    entries : list of (str, str)
        ``(input path, name relative to where it was found)``; the input paths
        must be distinct (drop repeated inputs first).
    suffix : str
        Replaces the input's extension (``".wav"``, ``".npz"``).

    Returns
    -------
    list of str
        In the order of ``entries``; no two equal.

    Example
    -------
    >>> name_outputs([("in/x.mp4", "x.mp4"), ("in/x.avi", "x.avi")], ".npz")
    ['x.mp4.npz', 'x.avi.npz']
    >>> name_outputs([("s1/x.mp4", "x.mp4"), ("s2/x.mp4", "x.mp4"),
    ...               ("s1/y.mp4", "y.mp4")], ".wav")
    ['s1/x.wav', 's2/x.wav', 'y.wav']
    """
    names = [os.path.normpath(os.path.splitext(rel)[0] + suffix) for _, rel in entries]
    groups = {}
    for index, name in enumerate(names):
        groups.setdefault(name, []).append(index)
    taken = {name for name, members in groups.items() if len(members) == 1}
    for members in (m for m in groups.values() if len(m) > 1):
        sources = [entries[i][0] for i in members]
        rels = [entries[i][1] for i in members]
        chosen = None
        for candidate in _renamings(sources, rels, suffix):
            candidate = [os.path.normpath(c) for c in candidate]
            if len(set(candidate)) == len(candidate) and not taken & set(candidate):
                chosen = candidate
                break
        if chosen is None:  # the same relative path under different roots
            chosen, base = [], os.path.splitext(names[members[0]])[0]
            count = 1
            for _ in members:
                while f"{base}-{count}{suffix}" in taken:
                    count += 1
                chosen.append(f"{base}-{count}{suffix}")
                taken.add(chosen[-1])
        for index, name in zip(members, chosen):
            names[index] = name
        taken |= set(chosen)
    return names


def check_output_folder(path):
    """Create ``path`` if needed; raise ``OSError`` with one line if it cannot
    hold outputs (a file, under a file, not writable).

    Example
    -------
    >>> import tempfile
    >>> check_output_folder(os.path.join(tempfile.mkdtemp(), "new"))
    >>> f = tempfile.mkstemp()[1]
    >>> check_output_folder(f)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    NotADirectoryError: ...: output folder is a file
    """
    path = str(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(f"{path}: output folder is a file")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        reason = f"cannot create the output folder ({err.strerror})"
        raise type(err)(f"{path}: {reason}") from None
    # A probe, not os.access: it meets what the writes will (ACLs, mounts).
    probe = os.path.join(path, f".write-test-{os.getpid()}")
    try:
        open(probe, "w").close()
        os.remove(probe)
    except OSError as err:
        reason = f"output folder is not writable ({err.strerror})"
        raise PermissionError(f"{path}: {reason}") from None


def printable(path):
    """``path`` as it can be printed: bytes that are not UTF-8 as ``\\xNN``.

    A name that is not valid UTF-8 (legal on Linux) reaches Python as a
    surrogate-escaped str, which a UTF-8 stream refuses to write.

    Example
    -------
    >>> printable(os.fsdecode(b"caf\\xe9.mp4"))
    'caf\\\\xe9.mp4'
    """
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
