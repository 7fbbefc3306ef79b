"""Command-line tools: ``v2s-synthesize``, ``v2s-export`` and ``v2s-upload``.

Each prints one clear line per bad input and exits non-zero (2: usage or no
usable input, 1: some items failed); a batch run never stops at a bad file.

Example
-------
>>> synthesize_main(["--model", "/no/such/model", "/no/such/video.mp4"])
2
"""

import argparse
import logging
import os
import sys

EXIT_OK, EXIT_FAILED_ITEMS, EXIT_USAGE = 0, 1, 2
VIDEO_SUFFIXES = (".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".mkv", ".webm", ".npz")


def _error(message):
    print(f"error: {message}", file=sys.stderr)


def expand_inputs(inputs):
    """Video files from files, folders (recursive) and ``.txt``/``.lst`` lists.

    Example
    -------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> for name in ("a.mp4", "b.txt"):
    ...     open(os.path.join(d, name), "w").close()
    >>> [os.path.basename(p) for p in expand_inputs([d])]
    ['a.mp4']
    """
    out = []
    for item in inputs:
        if os.path.isdir(item):
            for folder, dirs, files in os.walk(item):
                dirs.sort()
                out += [
                    os.path.join(folder, f)
                    for f in sorted(files)
                    if f.lower().endswith(VIDEO_SUFFIXES)
                ]
        elif item.lower().endswith((".txt", ".lst")) and os.path.isfile(item):
            with open(item, encoding="utf-8") as handle:
                out += [line.strip() for line in handle if line.strip()]
        else:
            out.append(item)
    return out


def _output_path(video, args, batch):
    if not batch and args.output:
        return args.output
    stem = os.path.splitext(os.path.basename(video))[0] + ".wav"
    folder = args.output if batch and args.output else os.path.dirname(video)
    return os.path.join(folder or ".", stem)


def synthesize_main(argv=None):
    """``v2s-synthesize VIDEO... [-o OUT] [--model SOURCE] [--mux OUT.mp4]``.

    Returns the exit code; inputs are checked before the model is loaded.

    Example
    -------
    >>> import contextlib, io, os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     synthesize_main(["--model", "user/v2s", d])  # a folder without videos
    2
    >>> for name in ("a.mp4", "b.mp4"):
    ...     open(os.path.join(d, name), "w").close()
    >>> with contextlib.redirect_stderr(err):
    ...     synthesize_main(["--model", "user/v2s", d, "--mux", "out.mp4"])
    2
    >>> print(err.getvalue(), end="")
    error: no input videos found
    error: --mux takes a single input video
    """
    parser = argparse.ArgumentParser(
        prog="v2s-synthesize",
        description="Speech from silent talking-face video (24 kHz wav).",
    )
    parser.add_argument("inputs", nargs="+", help="videos, folders or list files")
    parser.add_argument(
        "-o", "--output", help="output wav (one input) or folder (several)"
    )
    parser.add_argument(
        "--model", required=True, help="model folder or Hugging Face Hub id"
    )
    parser.add_argument("--savedir", help="where Hub models are cached")
    parser.add_argument("--mux", help="also write this video with the speech as audio")
    parser.add_argument("--reference-audio", help="a clip of the target voice")
    parser.add_argument(
        "--already-cropped", action="store_true", help="inputs are mouth crops"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)  # SpeechBrain sets its loggers to INFO
    try:
        return _synthesize(args)
    finally:  # called in-process (tests, notebooks): leave logging as it was
        logging.disable(previous)


def _synthesize(args):
    videos = expand_inputs(args.inputs)
    if not videos:
        _error("no input videos found")
        return EXIT_USAGE
    batch = len(videos) > 1
    if batch and args.mux:
        _error("--mux takes a single input video")
        return EXIT_USAGE
    try:
        from speechbrain_v2s.inference import VideoToSpeech

        model = VideoToSpeech.from_hparams(
            source=args.model,
            savedir=args.savedir,
            run_opts={"device": args.device},
        )
    except Exception as err:  # any loading problem is one line for the user
        _error(f"cannot load model {args.model!r}: {err}")
        return EXIT_USAGE

    from speechbrain_v2s.audio.features import SAMPLE_RATE
    from speechbrain_v2s.audio.io import write_audio

    failed = 0
    for video in videos:
        try:
            wav = model.synthesize_file(
                video,
                reference_audio=args.reference_audio,
                already_cropped=args.already_cropped,
            )
            out = _output_path(video, args, batch)
            os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
            write_audio(out, wav, SAMPLE_RATE)
            if args.mux:
                from speechbrain_v2s.video.io import mux_audio

                mux_audio(video, wav.numpy(), SAMPLE_RATE, args.mux)
            print(out)
        except Exception as err:  # report and go on with the next video
            message = str(err)
            _error(message if str(video) in message else f"{video}: {message}")
            failed += 1
    if failed == len(videos):
        return EXIT_USAGE if not batch else EXIT_FAILED_ITEMS
    return EXIT_FAILED_ITEMS if failed else EXIT_OK


def export_main(argv=None):
    """``v2s-export RUN_FOLDER OUT_DIR [--kind v2a|a2a|vocoder] [--vocoder X]``.

    Returns the exit code: 2, with one line on stderr, for an unusable run.

    Example
    -------
    >>> import contextlib, io, tempfile
    >>> not_a_run, err = tempfile.mkdtemp(), io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     export_main([not_a_run, tempfile.mkdtemp(), "--kind", "a2a"])
    2
    >>> print(err.getvalue(), end="")  # doctest: +ELLIPSIS
    error: /...: no hyperparams.yaml (not a run folder)
    """
    from speechbrain_v2s.export import KINDS, export_model

    parser = argparse.ArgumentParser(
        prog="v2s-export",
        description="Export a recipe's output folder to a from_hparams model folder.",
    )
    parser.add_argument("run_folder", help="the recipe's output_folder")
    parser.add_argument("out_dir", help="model folder to write")
    parser.add_argument("--kind", choices=KINDS, default="v2a")
    parser.add_argument(
        "--vocoder",
        help="vocoder: a run folder, an exported folder, a .ckpt or .safetensors "
        "file, or a Hub id",
    )
    parser.add_argument("--checkpoint", help="a CKPT folder (default: the best)")
    args = parser.parse_args(argv)
    try:
        summary = export_model(
            args.run_folder,
            args.out_dir,
            kind=args.kind,
            vocoder=args.vocoder,
            checkpoint=args.checkpoint,
        )
    except (OSError, ValueError, KeyError) as err:
        _error(str(err))
        return EXIT_USAGE
    for name in summary["files"]:
        print(os.path.join(args.out_dir, name))
    return EXIT_OK


def upload_main(argv=None):
    """``v2s-upload FOLDER USER/REPO [--private] [--dry-run]``.

    Returns the exit code; ``--dry-run`` lists the files and sends nothing.

    Example
    -------
    >>> import contextlib, io, os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = open(os.path.join(d, "hyperparams.yaml"), "w").write("x: 1\\n")
    >>> upload_main([d, "user/model", "--dry-run"])
    would upload hyperparams.yaml (5 bytes)
    0
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     upload_main([tempfile.mkdtemp(), "user/model", "--dry-run"])
    2
    >>> print(err.getvalue(), end="")  # doctest: +ELLIPSIS
    error: upload to user/model failed: ...: no hyperparams.yaml (export it first)
    """
    from speechbrain_v2s.hub import upload_folder

    parser = argparse.ArgumentParser(
        prog="v2s-upload",
        description="Publish an exported model folder to the Hugging Face Hub.",
    )
    parser.add_argument("folder", help="a folder written by v2s-export")
    parser.add_argument("repo_id", help="user/name on the Hub")
    parser.add_argument("--private", action="store_true")
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be sent"
    )
    parser.add_argument("--token", help="default: HF_TOKEN or the saved login")
    args = parser.parse_args(argv)
    try:
        files = upload_folder(
            args.folder, args.repo_id, args.token, args.private, args.dry_run
        )
    except Exception as err:  # auth, network, missing folder: one line
        _error(f"upload to {args.repo_id} failed: {err}")
        return EXIT_USAGE
    verb = "would upload" if args.dry_run else "uploaded"
    for name, size in files:
        print(f"{verb} {name} ({size} bytes)")
    return EXIT_OK


def _entry(main):
    def run():
        sys.exit(main())

    return run


synthesize = _entry(synthesize_main)
export = _entry(export_main)
upload = _entry(upload_main)
