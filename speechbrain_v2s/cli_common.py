"""What every ``v2s-*`` command line shares: ``--version`` and the help format.

It imports nothing of the package, so every tool (``video``'s
``v2s-preprocess``, ``synthetic``'s ``v2s-synth-corpus``, ``evaluation`` and
``cli``) can use it without a new arrow upward.

Example
-------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="v2s-x", formatter_class=HelpFormatter)
>>> add_version(parser)
>>> _ = parser.add_argument("--seed", type=int, default=7, help="random seed")
>>> _ = parser.add_argument("--fast", action="store_true", help="go fast")
>>> help_text = " ".join(parser.format_help().split())
>>> "random seed (default: 7)" in help_text, "go fast (default" in help_text
(True, False)
"""

import argparse
from importlib import metadata

DISTRIBUTION = "speechbrain-v2s"


def package_version():
    """The installed version of the package (``unknown`` when not installed).

    Example
    -------
    >>> package_version().count(".") >= 1 or package_version() == "unknown"
    True
    """
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a bare source tree
        return "unknown"


def add_version(parser):
    """Add ``--version`` to ``parser``: prints ``<prog> <version>``, exits 0.

    Example
    -------
    >>> import argparse, contextlib, io
    >>> parser = argparse.ArgumentParser(prog="v2s-x")
    >>> add_version(parser)
    >>> out = io.StringIO()
    >>> with contextlib.redirect_stdout(out):
    ...     try:
    ...         parser.parse_args(["--version"])
    ...     except SystemExit as stop:
    ...         print(stop.code)
    >>> out.getvalue() == f"v2s-x {package_version()}\\n0\\n"
    True
    """
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {package_version()}",
        help="print the tool's name and the package version, then exit",
    )


class HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default after its help, unless it says nothing.

    Unlike ``argparse.ArgumentDefaultsHelpFormatter``, defaults of ``None``
    and ``False`` (options that are off unless given) are not shown, nor a
    default the help already states with ``%(default)s``.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            action.option_strings
            # ``is``: a default of 0 is worth showing, False (== 0) is not
            and not any(action.default is v for v in (None, False, argparse.SUPPRESS))
            and "%(default)" not in text
        ):
            text += " (default: %(default)s)"
        return text


def check_device(text):
    """``--device`` as SpeechBrain and torch take it, or ``ValueError`` with
    one line when this machine cannot run it.

    ``cuda`` becomes ``cuda:0`` (SpeechBrain warns that it "could not parse"
    a bare ``cuda``); a CUDA device without a GPU, or a GPU index this
    machine does not have, is refused before any model is loaded.

    Arguments
    ---------
    text : str
        ``cpu``, ``cuda``, ``cuda:N``, ``mps``...

    Returns
    -------
    str

    Example
    -------
    >>> check_device("cpu")
    'cpu'
    >>> check_device("gpu")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --device gpu: not a device (cpu, cuda, cuda:N, ...)
    """
    text = str(text).strip()
    if text == "cpu":
        return text
    import torch  # here: the tools' --help and --version stay quick

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise ValueError(
            f"--device {text}: not a device (cpu, cuda, cuda:N, ...)"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"--device {text}: CUDA is not available on this machine "
                "(no GPU or no driver torch can use); use --device cpu"
            )
        count, index = torch.cuda.device_count(), device.index or 0
        if index >= count:
            raise ValueError(
                f"--device {text}: this machine has {count} CUDA device(s) "
                f"(cuda:0 to cuda:{count - 1})"
            )
        return f"cuda:{index}"
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {text}: MPS is not available on this machine")
    return text
