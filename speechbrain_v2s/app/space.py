"""A Hugging Face Space folder serving one model with the web demo.

:func:`write_space` writes ``app.py`` (the ``v2s-app`` page on the model),
``requirements.txt`` (this package's dependencies and Gradio), a README whose
YAML header is the Space's configuration (``sdk: gradio``, ``app_file``), a
copy of the package's code (it is not on PyPI, and the Space then runs the
exact code that exported the model) and, for a model folder, the folder
itself under ``model/``. ``v2s-upload SPACE user/name`` publishes it.

Example
-------
>>> space_readme("My model", "5.0.0").splitlines()[:3]
['---', 'title: My model', 'emoji: 🗣️']
"""

import argparse
import os
import shutil
import sys
from importlib import metadata

from speechbrain_v2s.cli_common import DISTRIBUTION, HelpFormatter, add_version

#: Where a copied model folder goes inside the Space.
MODEL_DIR = "model"
PACKAGE = "speechbrain_v2s"

APP_TEMPLATE = '''"""Hugging Face Space: speech from silent video ({title}).

Written by ``v2s-space``; run it locally with ``python app.py``.
"""

import os

from speechbrain_v2s.app.ui import build_demo

HERE = os.path.dirname(os.path.abspath(__file__))
# A folder inside the Space, or a Hub id.
MODEL = {model}
if os.path.isdir(os.path.join(HERE, MODEL)):
    MODEL = os.path.join(HERE, MODEL)

demo = build_demo([MODEL], cropped={cropped})

if __name__ == "__main__":
    demo.launch()
'''


def space_readme(title, gradio_version, model=MODEL_DIR):
    """The Space's README: its YAML configuration, then a short description.

    Example
    -------
    >>> text = space_readme("Lips", "5.1.0")
    >>> "sdk: gradio" in text and "app_file: app.py" in text
    True
    """
    return (
        "---\n"
        f"title: {title}\n"
        "emoji: 🗣️\n"
        "colorFrom: indigo\n"
        "colorTo: blue\n"
        "sdk: gradio\n"
        f"sdk_version: {gradio_version}\n"
        "python_version: '3.11'\n"
        "app_file: app.py\n"
        "pinned: false\n"
        "license: apache-2.0\n"
        "---\n\n"
        f"# {title}\n\n"
        "Speech from silent talking-face video with speechbrain-v2s "
        f"(model: `{model}`). Upload a video or record one with the webcam: the "
        "page shows the mouth crops the model read, plays the speech and offers "
        "the wav and the video with the speech for download.\n\n"
        "Run it locally: `pip install -r requirements.txt && python app.py`.\n"
    )


def space_requirements():
    """Lines of the Space's ``requirements.txt``: the package's own
    dependencies (from its installed metadata) and those of its ``app``
    extra, torch from the CPU wheel index (a free Space has no GPU, and the
    CUDA wheels are gigabytes).

    Example
    -------
    >>> lines = space_requirements()
    >>> any(line.startswith("gradio") for line in lines)
    True
    >>> any(line.startswith("torch==") for line in lines)
    True
    """
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError as err:
        raise RuntimeError(
            f"{DISTRIBUTION} is not installed (pip install -e .): its "
            "dependencies are read from the installed metadata"
        ) from err
    lines = ["--extra-index-url https://download.pytorch.org/whl/cpu"]
    for requirement in requires:
        spec, _, marker = requirement.partition(";")
        marker = marker.replace(" ", "").replace('"', "'")
        if not marker or marker == "extra=='app'":
            lines.append(spec.strip())
    return lines


def _copy_package(out_dir):
    """The package's code (``.py`` files; no caches, no judge weights)."""
    source = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.path.join(out_dir, PACKAGE)
    shutil.copytree(
        source,
        target,
        ignore=lambda folder, names: [
            n
            for n in names
            if not (n.endswith(".py") or os.path.isdir(os.path.join(folder, n)))
            or n == "__pycache__"
        ],
    )
    # Folders left without code (package data) are not needed by the app.
    for folder, _dirs, files in os.walk(target, topdown=False):
        if not files and not os.listdir(folder):
            os.rmdir(folder)


def write_space(model, out_dir, title=None, cropped=False):
    """Write a Hugging Face Space folder serving ``model`` (an exported
    model folder, copied into the Space, or a Hub id, loaded at start).

    Returns the paths written, relative to ``out_dir``. Raises
    ``FileExistsError`` when ``out_dir`` exists and is not empty,
    ``FileNotFoundError`` for a folder that is not an exported model.

    Example
    -------
    >>> import tempfile
    >>> out = os.path.join(tempfile.mkdtemp(), "space")
    >>> written = write_space("user/v2s-grid", out, title="GRID demo")
    >>> sorted(w for w in written if "/" not in w)
    ['README.md', 'app.py', 'requirements.txt']
    >>> "MODEL = 'user/v2s-grid'" in open(os.path.join(out, "app.py")).read()
    True
    """
    try:
        gradio_version = metadata.version("gradio")
    except metadata.PackageNotFoundError as err:
        raise RuntimeError(
            "gradio is not installed: pip install 'speechbrain-v2s[app]'"
        ) from err
    model = os.fspath(model)
    local = os.path.isdir(model)
    if local and not os.path.isfile(os.path.join(model, "hyperparams.yaml")):
        raise FileNotFoundError(f"{model}: no hyperparams.yaml (export it first)")
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        raise FileExistsError(f"{out_dir}: exists and is not empty")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise FileExistsError(f"{out_dir}: exists and is not a folder")
    name = os.path.basename(os.path.normpath(model)) if local else model
    title = title or f"Video to speech: {name}"
    os.makedirs(out_dir, exist_ok=True)
    if local:
        shutil.copytree(model, os.path.join(out_dir, MODEL_DIR))
    _copy_package(out_dir)
    files = {
        "app.py": APP_TEMPLATE.format(
            title=title, model=repr(MODEL_DIR if local else model), cropped=cropped
        ),
        "requirements.txt": "\n".join(space_requirements()) + "\n",
        "README.md": space_readme(title, gradio_version, name),
    }
    for file, text in files.items():
        with open(os.path.join(out_dir, file), "w", encoding="utf-8") as handle:
            handle.write(text)
    written = []
    for folder, dirs, names in os.walk(out_dir):
        dirs.sort()
        for file in sorted(names):
            written.append(os.path.relpath(os.path.join(folder, file), out_dir))
    return sorted(written)


def build_parser():
    """The ``v2s-space`` command line (built without running anything).

    Example
    -------
    >>> args = build_parser().parse_args(["model", "-o", "space"])
    >>> args.model, args.output, args.cropped
    ('model', 'space', False)
    """
    parser = argparse.ArgumentParser(
        prog="v2s-space",
        description="Write a Hugging Face Space folder serving a model with the "
        "web demo (publish it with v2s-upload).",
        formatter_class=HelpFormatter,
    )
    add_version(parser)
    parser.add_argument("model", help="exported model folder (copied) or Hub id")
    parser.add_argument(
        "-o", "--output", required=True, help="the Space folder to write (new)"
    )
    parser.add_argument("--title", help="the Space's title (default: from the model)")
    parser.add_argument(
        "--cropped",
        action="store_true",
        help="the page starts with 'already a mouth crop' ticked (models of the "
        "built-in synthetic corpus)",
    )
    return parser


def main(argv=None):
    """``v2s-space MODEL -o SPACE_DIR``: 0 when written, 2 (one line) if not.

    Example
    -------
    >>> import contextlib, io, tempfile
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     main([tempfile.mkdtemp(), "-o", tempfile.mkdtemp()])
    2
    >>> print(err.getvalue(), end="")  # doctest: +ELLIPSIS
    error: /...: no hyperparams.yaml (export it first)
    """
    args = build_parser().parse_args(argv)
    try:
        files = write_space(args.model, args.output, args.title, args.cropped)
    except (OSError, RuntimeError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"{args.output}: a Space of {len(files)} files; run it with "
        f"'cd {args.output} && python app.py', publish it with "
        f"'v2s-upload {args.output} USER/NAME'"
    )
    return 0


def run():
    """Console entry point."""
    sys.exit(main())
