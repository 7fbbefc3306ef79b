"""``v2s-app``: the web demo on one or more models, in a browser.

Example
-------
>>> import contextlib, io
>>> err = io.StringIO()
>>> with contextlib.redirect_stderr(err):
...     main(["--model", "/no/such/model"])
2
>>> print(err.getvalue(), end="")  # doctest: +ELLIPSIS
error: cannot load model '/no/such/model': ...
"""

import argparse
import logging
import sys
import threading

from speechbrain_v2s.app.core import MAX_SECONDS
from speechbrain_v2s.cli_common import HelpFormatter, add_version
from speechbrain_v2s.outputs import EXIT_INTERRUPTED, EXIT_NOTHING_DONE, EXIT_OK


def build_parser():
    """The ``v2s-app`` command line (built without running anything).

    Example
    -------
    >>> args = build_parser().parse_args(["--model", "a", "--model", "user/b"])
    >>> args.model, args.port, args.host
    (['a', 'user/b'], 7860, '127.0.0.1')
    """
    parser = argparse.ArgumentParser(
        prog="v2s-app",
        description="Serve the web demo (upload or record a video, hear the "
        "speech) on exported models.",
        formatter_class=HelpFormatter,
    )
    add_version(parser)
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        help="model folder or Hugging Face Hub id; repeat it for a model chooser",
    )
    parser.add_argument("--port", type=int, default=7860, help="port to serve on")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (0.0.0.0: reachable from other machines)",
    )
    parser.add_argument(
        "--cropped",
        action="store_true",
        help="start with 'already a mouth crop' ticked (the synthetic corpus)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=MAX_SECONDS,
        help="longest video accepted",
    )
    parser.add_argument(
        "--savedir", help="where Hub models are cached (default: a temporary folder)"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    return parser


def main(argv=None):
    """``v2s-app --model SOURCE [--model ...] [--port N]``: serve until
    Ctrl-C (exit 130); 2 with one line when a model does not load or Gradio
    is missing. Every model is loaded before the page starts."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.disable(logging.INFO)  # SpeechBrain sets its loggers to INFO
    from speechbrain_v2s.app.ui import build_demo

    try:
        import gradio  # noqa: F401
    except ImportError:
        print(
            "error: gradio is not installed: pip install 'speechbrain-v2s[app]'",
            file=sys.stderr,
        )
        return EXIT_NOTHING_DONE
    demo = None
    try:
        # Ctrl-C ends the command with 130 wherever it lands: while models
        # load, inside Gradio's launch() (the page may answer before launch()
        # returns) or in our own wait; Gradio's blocking launch() would
        # swallow it and return normally.
        demo = build_demo(
            args.model, args.cropped, args.savedir, args.device, args.max_seconds
        )
        if not _load_all(demo.v2s_shelf):
            return EXIT_NOTHING_DONE
        try:
            demo.launch(
                server_name=args.host, server_port=args.port, prevent_thread_lock=True
            )
        except OSError as err:  # port taken
            print(
                f"error: cannot serve on {args.host}:{args.port}: {err}",
                file=sys.stderr,
            )
            return EXIT_NOTHING_DONE
        sources = ", ".join(demo.v2s_shelf.sources.values())
        print(f"serving {sources} (Ctrl-C stops)", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        if demo is not None:
            demo.close()
        return EXIT_INTERRUPTED
    return EXIT_OK


def _load_all(shelf):
    """Load every model of ``shelf`` before the page starts; False after one
    line naming a model that does not load."""
    for name, source in shelf.sources.items():
        try:
            shelf.get(name)
        except Exception as err:  # any loading problem is one line
            print(f"error: cannot load model {source!r}: {err}", file=sys.stderr)
            return False
    return True


def run():
    """Console entry point."""
    sys.exit(main())
