"""Command-line tools: ``v2s-synthesize``, ``v2s-export`` and ``v2s-upload``.

Each prints one clear line per bad input and exits non-zero (2: usage or no
usable input, 1: some items failed); a batch run never stops at a bad file,
ends with a line of counts, and on Ctrl-C exits 130 keeping what it made.

Example
-------
>>> synthesize_main(["--model", "/no/such/model", "/no/such/video.mp4"])
2
"""

import argparse
import logging
import os
import sys
from contextlib import nullcontext

from speechbrain_v2s.cli_common import HelpFormatter, add_version, check_device
from speechbrain_v2s.outputs import (
    EXIT_INTERRUPTED,
    EXIT_NOTHING_DONE,
    EXIT_OK,
    batch_exit_code,
    check_output_folder,
    name_outputs,
    printable,
    summary_line,
)
from speechbrain_v2s.video.inputs import InputError, read_manifest
from speechbrain_v2s.video.io import VIDEO_EXTENSIONS, utf8_name

EXIT_USAGE = EXIT_NOTHING_DONE
# Videos, and the mouth-ROI caches v2s-preprocess writes; any case.
INPUT_EXTENSIONS = VIDEO_EXTENSIONS + (".npz",)
LIST_EXTENSIONS = (".txt", ".lst")
MANIFEST_EXTENSIONS = (".json",)


def _error(message):
    print(f"error: {printable(message)}", file=sys.stderr)


def expand_inputs(inputs, data_root=None):
    """``(input, name relative to where it was found)`` for files, folders
    (recursive), ``.txt``/``.lst`` lists and ``.json`` manifests; each input
    once.

    A manifest entry (a recipe's ``<split>.json``: ``{id: {"video": ...}}``)
    is named from its id, so that ``v2s-evaluate --manifest`` pairs the
    outputs with the references; its cached mouth ROIs (``roi_path``) are
    read when that file exists, else its video.

    Example
    -------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(d, "s1"))
    >>> for name in ("s1/a.MP4", "b.txt", "c.m4v"):
    ...     open(os.path.join(d, name), "w").close()
    >>> [rel for _, rel in expand_inputs([d])]
    ['c.m4v', 's1/a.MP4']
    >>> import json
    >>> m = os.path.join(d, "test.json")
    >>> json.dump({"s1_a": {"video": "s1/a.MP4", "wav": "a.wav"}}, open(m, "w"))
    >>> [(os.path.relpath(path, d), rel) for path, rel in expand_inputs([m])]
    [('s1/a.MP4', 's1_a.MP4')]
    """
    out, seen = [], set()

    def add(path, rel):
        if os.path.abspath(path) not in seen:
            seen.add(os.path.abspath(path))
            out.append((path, rel))

    for item in map(os.fspath, inputs):
        if os.path.isdir(item):
            for folder, dirs, files in os.walk(item):
                dirs.sort()
                for name in sorted(files):
                    if os.path.splitext(name)[1].lower() in INPUT_EXTENSIONS:
                        path = os.path.join(folder, name)
                        add(path, os.path.relpath(path, item))
        elif item.lower().endswith(MANIFEST_EXTENSIONS) and os.path.isfile(item):
            for entry in read_manifest(item, data_root):
                roi = entry["roi"]
                path = roi if roi and os.path.isfile(roi) else entry["video"] or roi
                add(path, _id_name(entry["id"]) + os.path.splitext(path)[1])
        elif item.lower().endswith(LIST_EXTENSIONS) and os.path.isfile(item):
            with open(item, encoding="utf-8", errors="surrogateescape") as handle:
                for line in handle:
                    if line.strip():
                        add(line.strip(), os.path.basename(line.strip()))
        else:
            add(item, os.path.basename(item))
    return out


def _id_name(key):
    """A manifest id as a path under the output folder: ``/`` makes folders
    (as ids of ``<speaker>/<utt>`` pair in ``v2s-evaluate``), but nothing may
    climb out (``..``, absolute ids)."""
    parts = [p for p in key.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or "_"


def _is_collection(path):
    return os.path.isdir(path) or path.lower().endswith(
        LIST_EXTENSIONS + MANIFEST_EXTENSIONS
    )


def _plan_outputs(entries, args):
    """Output wav of each input: ``-o`` itself (one video named on the command
    line), names under the ``-o`` folder, or beside each input."""
    single = len(args.inputs) == 1 and len(entries) == 1
    single = single and not _is_collection(args.inputs[0])
    if args.output and single and not _is_folder_name(args.output):
        return [args.output]
    if args.output:
        check_output_folder(args.output)
        names = name_outputs(entries, ".wav")
        return [os.path.join(args.output, name) for name in names]
    by_folder = {}  # beside the inputs: only names in one folder can collide
    for index, (path, _) in enumerate(entries):
        by_folder.setdefault(os.path.dirname(path), []).append(index)
    outputs = [None] * len(entries)
    for folder, members in by_folder.items():
        names = name_outputs(
            [(entries[i][0], os.path.basename(entries[i][1])) for i in members], ".wav"
        )
        for index, name in zip(members, names):
            outputs[index] = os.path.join(folder, name)
    return outputs


def _is_folder_name(path):
    return os.path.isdir(path) or path.endswith((os.sep, "/"))


def build_synthesize_parser():
    """The ``v2s-synthesize`` command line (built without running anything).

    Example
    -------
    >>> args = build_synthesize_parser().parse_args(["--model", "m", "a.mp4"])
    >>> args.inputs, args.output, args.device
    (['a.mp4'], None, 'cpu')
    """
    parser = argparse.ArgumentParser(
        prog="v2s-synthesize",
        description="Speech from silent talking-face video (24 kHz wav).",
        formatter_class=HelpFormatter,
    )
    add_version(parser)
    parser.add_argument(
        "inputs",
        nargs="+",
        help="videos, folders, list files or JSON manifests (a recipe's "
        "<split>.json; outputs are named from its ids)",
    )
    parser.add_argument(
        "-o",
        "--output",
        help="output wav (one video) or folder (several, or a folder, list or "
        "manifest given; the inputs' relative paths are kept); default: beside "
        "each input",
    )
    parser.add_argument("--data-root", help="fills {data_root} in the manifests' paths")
    parser.add_argument(
        "--model", required=True, help="model folder or Hugging Face Hub id"
    )
    parser.add_argument(
        "--savedir", help="where Hub models are cached (default: SpeechBrain's)"
    )
    parser.add_argument("--mux", help="also write this video with the speech as audio")
    parser.add_argument(
        "--reference-audio", help="a clip of the target voice (speaker models)"
    )
    parser.add_argument(
        "--already-cropped", action="store_true", help="inputs are mouth crops"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="redo outputs that exist already"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    return parser


def synthesize_main(argv=None):
    """``v2s-synthesize VIDEO... [-o OUT] [--model SOURCE] [--mux OUT.mp4]``.

    Returns the exit code (0 all done, 1 some failed, 2 nothing done or a
    usage error, 130 interrupted); inputs and outputs are checked before the
    model is loaded. Outputs that exist are skipped unless ``--overwrite``.

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
    args = build_synthesize_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)  # SpeechBrain sets its loggers to INFO
    try:
        return _synthesize(args)
    finally:  # called in-process (tests, notebooks): leave logging as it was
        logging.disable(previous)


def _synthesize(args):
    try:
        args.device = check_device(args.device)
    except ValueError as err:
        _error(str(err))
        return EXIT_USAGE
    try:
        entries = expand_inputs(args.inputs, args.data_root)
    except InputError as err:
        _error(str(err))
        return EXIT_USAGE
    if not entries:
        _error("no input videos found")
        return EXIT_USAGE
    if len(entries) > 1 and args.mux:
        _error("--mux takes a single input video")
        return EXIT_USAGE
    if args.mux and not _mux_usable(args.mux, entries[0][0]):
        return EXIT_USAGE
    try:
        outputs = _plan_outputs(entries, args)
    except OSError as err:
        _error(str(err))
        return EXIT_USAGE
    todo = [
        (video, out)
        for (video, _), out in zip(entries, outputs)
        if args.overwrite
        or not (os.path.exists(out) and (not args.mux or os.path.exists(args.mux)))
    ]
    skipped = len(entries) - len(todo)
    done = failed = 0
    try:
        if todo:
            model = _load_model(args)
            if model is None:
                return EXIT_USAGE
        for video, out in todo:
            if _synthesize_one(model, video, out, args):
                done += 1
            else:
                failed += 1
    except KeyboardInterrupt:
        print(
            f"v2s-synthesize: interrupted: {done + skipped} of {len(entries)} done, "
            "kept (run again to finish)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print(summary_line("v2s-synthesize", done, skipped, failed), file=sys.stderr)
    return batch_exit_code(done, skipped, failed)


def _mux_usable(mux, video):
    """Whether ``--mux`` names a video that can be written; one line if not.
    Checked before the model loads, so a wrong name costs nothing and leaves
    no wav behind."""
    from speechbrain_v2s.video.errors import VideoWriteError
    from speechbrain_v2s.video.io import check_mux_output

    try:
        check_mux_output(mux)
    except VideoWriteError as err:
        _error(f"--mux {err}")
        return False
    if os.path.abspath(mux) == os.path.abspath(video):
        _error(f"--mux {mux}: is the input video (it cannot be written over)")
        return False
    return True


def _load_model(args):
    from speechbrain_v2s.hub import check_model_source, offline_hub

    try:  # a missing folder or an unreachable Hub: one line, no retries
        offline = check_model_source(args.model, args.savedir)
    except FileNotFoundError as err:
        _error(f"cannot load model: {err}")
        return None
    try:
        from speechbrain_v2s.inference import VideoToSpeech

        with offline_hub() if offline else nullcontext():
            return VideoToSpeech.from_hparams(
                source=args.model,
                savedir=args.savedir,
                run_opts={"device": args.device},
            )
    except Exception as err:  # any loading problem is one line for the user
        _error(f"cannot load model {args.model!r}: {err}")
        return None


def _synthesize_one(model, video, out, args):
    """Synthesize one video into ``out``; False (after one line) on failure."""
    from speechbrain_v2s.audio.features import SAMPLE_RATE
    from speechbrain_v2s.audio.io import write_audio

    name = video
    try:
        # A name that is not UTF-8 would crash OpenCV in the readers; a cached
        # .npz is read by numpy, and keeps the extension that selects it.
        npz = video.lower().endswith(".npz")
        with utf8_name(video) if not npz else nullcontext(video) as name:
            wav = model.synthesize_file(
                name,
                reference_audio=args.reference_audio,
                already_cropped=args.already_cropped,
            )
        # WAV whatever the name: -o may name the output without an extension.
        write_audio(out, wav, SAMPLE_RATE, format="WAV")
        if args.mux:
            from speechbrain_v2s.video.io import mux_audio

            mux_audio(video, wav.numpy(), SAMPLE_RATE, args.mux)
    except Exception as err:  # report and go on with the next video
        message = " ".join(str(err).split())
        message = message.replace(name, video) if name != video else message
        _error(message if str(video) in message else f"{video}: {message}")
        return False
    print(printable(out))
    return True


def build_export_parser():
    """The ``v2s-export`` command line (built without running anything).

    Example
    -------
    >>> args = build_export_parser().parse_args(["run", "out"])
    >>> args.run_folder, args.out_dir, args.kind
    ('run', 'out', 'v2a')
    """
    from speechbrain_v2s.export import KINDS

    parser = argparse.ArgumentParser(
        prog="v2s-export",
        description="Export a recipe's output folder to a from_hparams model folder.",
        formatter_class=HelpFormatter,
    )
    add_version(parser)
    parser.add_argument("run_folder", help="the recipe's output_folder")
    parser.add_argument("out_dir", help="model folder to write")
    parser.add_argument(
        "--kind",
        choices=KINDS,
        default="v2a",
        help="what the run trained: v2a (video to speech), a2a (audio to audio) "
        "or vocoder",
    )
    parser.add_argument(
        "--vocoder",
        help="vocoder: a run folder, an exported folder, a .ckpt or .safetensors "
        "file, or a Hub id",
    )
    parser.add_argument("--checkpoint", help="a CKPT folder (default: the run's best)")
    parser.add_argument(
        "--space",
        help="also write this Hugging Face Space folder serving the model with "
        "the web demo (v2s model kinds only)",
    )
    return parser


def export_main(argv=None):
    """``v2s-export RUN_FOLDER OUT_DIR [--kind v2a|a2a|vocoder] [--vocoder X]
    [--space SPACE_DIR]``.

    Returns the exit code: 2, with one line on stderr, for an unusable run
    (or a ``--space`` that cannot be written: the model folder is kept).

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
    from speechbrain_v2s.export import export_model

    args = build_export_parser().parse_args(argv)
    if args.space and args.kind != "v2a":
        _error("--space serves video-to-speech models: use it with --kind v2a")
        return EXIT_USAGE
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
    if args.space:
        from speechbrain_v2s.app.space import write_space

        try:
            write_space(args.out_dir, args.space)
        except (OSError, RuntimeError) as err:
            _error(f"Space not written: {err}")
            return EXIT_USAGE
        print(
            f"{args.space}: Space folder (publish: v2s-upload {args.space} USER/NAME)"
        )
    return EXIT_OK


def build_upload_parser():
    """The ``v2s-upload`` command line (built without running anything).

    Example
    -------
    >>> args = build_upload_parser().parse_args(["folder", "user/model"])
    >>> args.repo_id, args.private, args.dry_run
    ('user/model', False, False)
    """
    parser = argparse.ArgumentParser(
        prog="v2s-upload",
        description="Publish an exported model folder, or a Space folder written "
        "by v2s-space / v2s-export --space, to the Hugging Face Hub.",
        formatter_class=HelpFormatter,
    )
    add_version(parser)
    parser.add_argument(
        "folder", help="a folder written by v2s-export or v2s-space (a Space)"
    )
    parser.add_argument("repo_id", help="user/name on the Hub")
    parser.add_argument(
        "--private",
        action="store_true",
        help="create the Hub repository private (an existing one keeps its "
        "visibility)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be sent"
    )
    parser.add_argument("--token", help="default: HF_TOKEN or the saved login")
    return parser


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
    from speechbrain_v2s.hub import is_space, upload_folder

    args = build_upload_parser().parse_args(argv)
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
    if is_space(args.folder):
        where = "would be" if args.dry_run else "is"
        print(f"the Space {where} at https://huggingface.co/spaces/{args.repo_id}")
    return EXIT_OK


def _entry(main):
    def run():
        code = main()
        if code == EXIT_INTERRUPTED:
            # Outputs are complete (renamed into place) and reported. The
            # interpreter's normal teardown can abort here (C++ threads of
            # torch/OpenCV still up when static destructors run: "terminate
            # called without an active exception"), turning 130 into 134.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        sys.exit(code)

    return run


synthesize = _entry(synthesize_main)
export = _entry(export_main)
upload = _entry(upload_main)
