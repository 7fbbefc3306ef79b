"""What a preparation reports: :class:`BadFileError` (a file that cannot go into a
manifest, and why) and :class:`PrepareReport`, the rows of
``prepare_report.csv``.
"""

import csv
import io
import os

from speechbrain_v2s.atomic import write_text_atomic
from speechbrain_v2s.errors import FileError

REPORT_NAME = "prepare_report.csv"
REPORT_FIELDS = ("file", "reason", "action")


class BadFileError(FileError):
    """A file that cannot go into a manifest, with the file and the reason.

    Arguments
    ---------
    path : str
        The offending file.
    reason : str
        Why, in words (goes to the report).

    Example
    -------
    >>> str(BadFileError("x.wav", "empty file (0 bytes)"))
    'x.wav: empty file (0 bytes)'
    """


class PrepareReport:
    """Rows ``(file, reason, action)`` for every file skipped or kept with a warning.

    Example
    -------
    >>> import os, tempfile
    >>> report = PrepareReport()
    >>> report.skip("a.wav", "silent audio")
    >>> report.warn("b.mpg", "audio/video length differ by 0.08 s")
    >>> len(report), report.skipped_files()
    (2, ['a.wav'])
    >>> path = report.write(tempfile.mkdtemp())
    >>> print(open(path).read().strip())
    file,reason,action
    a.wav,silent audio,skipped
    b.mpg,audio/video length differ by 0.08 s,kept
    """

    def __init__(self):
        self.rows = []

    def skip(self, file, reason):
        """Record ``file`` as left out of the manifests because of ``reason``.

        Example
        -------
        >>> report = PrepareReport()
        >>> report.skip("x.wav", "unreadable")
        >>> report.rows
        [{'file': 'x.wav', 'reason': 'unreadable', 'action': 'skipped'}]
        """
        self.rows.append({"file": str(file), "reason": reason, "action": "skipped"})

    def warn(self, file, reason):
        """Record a problem with ``file`` that did not keep it out.

        Example
        -------
        >>> report = PrepareReport()
        >>> report.warn("x.mpg", "no alignment file")
        >>> report.rows[0]["action"]
        'kept'
        """
        self.rows.append({"file": str(file), "reason": reason, "action": "kept"})

    def extend(self, rows):
        """Append rows (dicts with ``file``, ``reason``, ``action``).

        Example
        -------
        >>> report = PrepareReport()
        >>> report.extend([{"file": "a", "reason": "r", "action": "kept"}])
        >>> len(report)
        1
        """
        self.rows.extend(rows)

    def skipped_files(self):
        """Files left out, in report order.

        Example
        -------
        >>> PrepareReport().skipped_files()
        []
        """
        return [row["file"] for row in self.rows if row["action"] == "skipped"]

    def __len__(self):
        return len(self.rows)

    def write(self, save_folder):
        """Write ``<save_folder>/prepare_report.csv`` (header only when empty).

        Example
        -------
        >>> import tempfile
        >>> os.path.basename(PrepareReport().write(tempfile.mkdtemp()))
        'prepare_report.csv'
        """
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=REPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        path = os.path.join(save_folder, REPORT_NAME)
        write_text_atomic(path, buffer.getvalue())
        return path
