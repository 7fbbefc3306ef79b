"""The command line of the ``<dataset>_prepare.py`` scripts: the options they
share and their ``main()``.
"""

import argparse
import logging
import sys

from speechbrain_v2s.prepare.parallel import MAX_WORKERS

# Exit codes of the prepare scripts (as the v2s-* tools): nothing done, Ctrl-C.
EXIT_NOTHING_DONE = 2
EXIT_INTERRUPTED = 130


def ratios_arg(text):
    """Parse ``"0.9,0.05,0.05"`` (argparse ``type=``).

    Example
    -------
    >>> ratios_arg("0.9,0.05,0.05")
    (0.9, 0.05, 0.05)
    """
    return tuple(float(x) for x in text.split(","))


def add_common_arguments(
    parser,
    min_duration=None,
    max_duration=None,
    seed=1234,
    av_tolerance=None,
    silence_check=False,
):
    """Add the options prepare scripts share (``--seed``, durations, workers).

    Always ``--min_duration``, ``--max_duration`` and ``--num_workers``;
    ``--seed`` unless ``seed=None`` (datasets without a random split); before
    them, ``--av_tolerance`` when ``av_tolerance`` (its default) is given and
    ``--no_silence_check`` with ``silence_check=True``.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_common_arguments(parser, max_duration=30.0)
    >>> vars(parser.parse_args(["--seed", "3"]))
    {'seed': 3, 'min_duration': None, 'max_duration': 30.0, 'num_workers': None}
    >>> parser = argparse.ArgumentParser()
    >>> add_common_arguments(parser, seed=None, av_tolerance=0.2, silence_check=True)
    >>> sorted(vars(parser.parse_args(["--no_silence_check"])).items())[:2]
    [('av_tolerance', 0.2), ('max_duration', None)]
    """
    if av_tolerance is not None:
        parser.add_argument(
            "--av_tolerance", type=float, default=av_tolerance, help="seconds"
        )
    if silence_check:
        parser.add_argument("--no_silence_check", action="store_true")
    if seed is not None:
        parser.add_argument("--seed", type=int, default=seed, help="split seed")
    parser.add_argument(
        "--min_duration", type=float, default=min_duration, help="seconds"
    )
    parser.add_argument(
        "--max_duration", type=float, default=max_duration, help="seconds"
    )
    parser.add_argument(
        "--num_workers",
        type=int,
        default=None,
        help=f"probing processes (default: cores, at most {MAX_WORKERS})",
    )


def prepare_main(
    prepare,
    argv,
    doc,
    data_help,
    add_arguments=None,
    common=None,
    convert=None,
    several_folders=False,
):
    """The ``main()`` of a prepare script: parse, log to stderr, call ``prepare``.

    The command line is ``DATA_FOLDER SAVE_FOLDER`` (``DATA_FOLDER
    [DATA_FOLDER ...] SAVE_FOLDER`` with ``several_folders``), the script's own
    options (``add_arguments(parser)``), then :func:`add_common_arguments`
    (``common``: its keyword arguments). ``prepare`` gets the folders by
    position and every option by its name, ``--no_silence_check`` as
    ``check_silence=False``; ``convert(options)`` may rewrite the options
    dict first. What ``prepare`` raises as ``OSError`` or ``ValueError`` (a
    missing data folder, an unwritable save folder, a bad option, no usable
    file) is one line on stderr and exit status 2; Ctrl-C exits 130.

    Arguments
    ---------
    prepare : callable
        ``prepare(data_folder(s), save_folder, **options)``.
    argv : list of str or None
        Arguments (``None``: ``sys.argv[1:]``).
    doc : str
        The script's docstring; its first paragraph describes it in ``--help``.
    data_help : str
        Help of the data folder argument.
    add_arguments : callable, optional
        ``add_arguments(parser)`` adds the script's own options.
    common : dict, optional
        Keyword arguments of :func:`add_common_arguments`.
    convert : callable, optional
        ``convert(options) -> options``, for options whose command-line form
        differs from ``prepare``'s.
    several_folders : bool
        One or more data folders (``data_folders``) instead of one.

    Example
    -------
    >>> def prepare(data_folder, save_folder, seed, **durations):
    ...     print(data_folder, save_folder, seed, sorted(durations))
    >>> prepare_main(prepare, ["/data", "save", "--seed", "7"], "Demo.", "root")
    /data save 7 ['max_duration', 'min_duration', 'num_workers']
    >>> def show(folders, save, words, check_silence, **common):
    ...     print(folders, words, check_silence)
    >>> def options(parser):
    ...     parser.add_argument("--words", nargs="+")
    >>> argv = ["a", "b", "save", "--words", "HI", "--no_silence_check"]
    >>> prepare_main(show, argv, "Demo.", "roots", options, {"silence_check": True},
    ...              several_folders=True)
    ['a', 'b'] ['HI'] False
    >>> import contextlib, io
    >>> def missing(data_folder, save_folder, **options):
    ...     raise FileNotFoundError(f"dataset folder not found: {data_folder}")
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     try:
    ...         prepare_main(missing, ["/no/data", "save"], "Demo.", "root")
    ...     except SystemExit as stop:
    ...         print(stop.code)
    2
    >>> print(err.getvalue().split(": ", 1)[1], end="")  # after the script's name
    error: dataset folder not found: /no/data
    """
    data = "data_folders" if several_folders else "data_folder"
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument(data, nargs="+" if several_folders else None, help=data_help)
    parser.add_argument("save_folder", help="where the manifests go")
    if add_arguments is not None:
        add_arguments(parser)
    add_common_arguments(parser, **(common or {}))
    options = vars(parser.parse_args(argv))
    setup_cli_logging()
    if "no_silence_check" in options:
        options["check_silence"] = not options.pop("no_silence_check")
    if convert is not None:
        options = convert(options)
    try:
        prepare(options.pop(data), options.pop("save_folder"), **options)
    except (OSError, ValueError) as err:
        # A missing or unwritable folder, a bad option, nothing found: one line
        # and exit 2, as argparse does for usage errors.
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        raise SystemExit(EXIT_NOTHING_DONE) from None
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None


def setup_cli_logging():
    """Log INFO messages to stderr (for the prepare scripts run from a shell).

    Example
    -------
    >>> setup_cli_logging()
    """
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
