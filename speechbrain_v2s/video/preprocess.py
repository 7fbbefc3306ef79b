"""Batch job: videos -> cached mouth-ROI ``.npz`` files (CLI ``v2s-preprocess``).

Inputs are folders (searched recursively for video files), list files (one video
per line, optionally ``<TAB>`` and the matching audio file) or SpeechBrain JSON
manifests (``{id: {"video": path, "wav": path, ...}}``). Each video becomes
``<output_dir>/<relative path>.npz`` (same relative path, extension replaced;
two inputs never share one: :func:`speechbrain_v2s.outputs.name_outputs`),
written atomically, so an interrupted job (Ctrl-C: exit 130) can simply be
run again: files whose
``.npz`` is complete and was made with the same crop options are skipped; the
others are re-made (:mod:`~speechbrain_v2s.video.roi_cache`), and temporary
files left by a killed run are removed (:mod:`~speechbrain_v2s.atomic`).

Failures (unreadable, empty, no face in too many frames, audio/video length
mismatch) never stop the run: they go to ``<output_dir>/preprocess_report.csv``
(``preprocess_report.shard-K-of-N.csv`` with ``--shard K/N``, so array jobs never
write the same file) with the file, the error type and the reason, and to
stderr, one line each. Exit status: 0 all cached, 1 some failed, 2 nothing
done or bad arguments (one line naming the file and the problem).

Example
-------
>>> import tempfile
>>> from speechbrain_v2s.video.io import write_video
>>> root = tempfile.mkdtemp()
>>> video = os.path.join(root, "in", "spk1", "a.mp4")
>>> write_video(video, np.zeros((5, 88, 88), np.uint8))
>>> out = os.path.join(root, "out")
>>> summary = preprocess_videos(
...     os.path.join(root, "in"), out, already_cropped=True, progress=False
... )
>>> summary["done"], summary["failed"], os.listdir(os.path.join(out, "spk1"))
(1, 0, ['a.npz'])
"""

import argparse
import csv
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from speechbrain_v2s.atomic import remove_stale_temps
from speechbrain_v2s.cli_common import HelpFormatter, add_version
from speechbrain_v2s.outputs import (
    EXIT_INTERRUPTED,
    EXIT_NOTHING_DONE,
    batch_exit_code,
    check_output_folder,
    printable,
)
from speechbrain_v2s.video.errors import AVLengthMismatchError, VideoError
from speechbrain_v2s.video.inputs import InputError, collect_inputs
from speechbrain_v2s.video.io import read_audio_from_video, read_video
from speechbrain_v2s.video.mouth_roi import (
    ROI_SIZE,
    extract_mouth_roi,
    resize_roi,
    save_roi,
)
from speechbrain_v2s.video.roi_cache import cache_status, crop_options

REPORT_FIELDS = ("file", "error_type", "reason")


def parse_shard(text):
    """Parse ``"K/N"`` (1-based) into ``(K, N)``.

    Example
    -------
    >>> parse_shard("2/4")
    (2, 4)
    >>> parse_shard("5/4")
    Traceback (most recent call last):
    ...
    ValueError: shard must be K/N with 1 <= K <= N, got '5/4'
    """
    try:
        index, count = (int(v) for v in str(text).split("/"))
    except ValueError:
        index, count = 0, 0
    if not 1 <= index <= count:
        raise ValueError(f"shard must be K/N with 1 <= K <= N, got {text!r}")
    return index, count


def select_shard(items, shard):
    """Items of shard ``(K, N)``: every N-th item of the sorted list from K-1.

    Shards are disjoint and together cover the list, whatever N.

    Example
    -------
    >>> select_shard(list(range(7)), (1, 3)), select_shard(list(range(7)), (3, 3))
    ([0, 3, 6], [2, 5])
    """
    if shard is None:
        return list(items)
    index, count = shard
    return list(items)[index - 1 :: count]


def report_path(output_dir, shard=None):
    """Where a run writes its failure report.

    Example
    -------
    >>> report_path("cache"), report_path("cache", (2, 8))
    ('cache/preprocess_report.csv', 'cache/preprocess_report.shard-2-of-8.csv')
    """
    if shard is None:
        return os.path.join(output_dir, "preprocess_report.csv")
    return os.path.join(
        output_dir, f"preprocess_report.shard-{shard[0]}-of-{shard[1]}.csv"
    )


def _audio_duration(path):
    import soundfile

    try:
        return soundfile.info(path).duration
    except Exception:
        # Not a libsndfile format (e.g. audio inside a container): decode it.
        return len(read_audio_from_video(path, 16000)) / 16000.0


# Per-worker state: the detector is built once per process, not per file.
_WORKER = {}


def _init_worker(detector, threads):
    """Set up a worker process; ``detector`` is ``(name, kwargs)``."""
    # Parallelism comes from the worker processes; nested threads only contend.
    # The pipeline itself does not use torch: importing it only to set its
    # threads would cost each worker a second or two, so the environment
    # variables cover a later import and set_num_threads an earlier one.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    # Ctrl-C reaches the whole process group: the parent stops the pool and
    # reports; a worker would only print its own traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import cv2

    cv2.setNumThreads(threads)
    _WORKER["detector_spec"] = detector
    _WORKER["detector"] = None


def _worker_detector():
    if _WORKER.get("detector") is None:
        from speechbrain_v2s.video.landmarks import get_detector

        name, kwargs = _WORKER.get("detector_spec", ("auto", {}))
        _WORKER["detector"] = get_detector(name, **kwargs)
    return _WORKER["detector"]


def process_one(item, output_path, options):
    """Preprocess one video and write its ``.npz``; raise a VideoError on failure.

    Arguments
    ---------
    item : dict
        From :func:`collect_inputs` (``video``, ``wav``, ``rel``, ``id``).
    output_path : str
        The ``.npz`` to write.
    options : dict
        ``already_cropped``, ``roi_size``, ``keep_size``, ``max_missing``,
        ``fps``, ``av_tolerance``, ``smooth_window`` (missing keys: defaults);
        ``detector``, ``detect_every``, ``fit_every`` are only recorded: the
        file's ``meta["options"]`` (:func:`crop_options`) for later runs.

    Returns
    -------
    dict
        The metadata stored in the file.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_v2s.video.io import write_video
    >>> root = tempfile.mkdtemp()
    >>> video = os.path.join(root, "v.avi")
    >>> write_video(video, np.zeros((4, 88, 88), np.uint8))
    >>> meta = process_one({"video": video, "wav": None}, os.path.join(root, "v.npz"),
    ...                    {"already_cropped": True, "keep_size": True})
    >>> meta["num_frames"], meta["size"]
    (4, [88, 88])
    """
    fps = float(options.get("fps", 25.0))
    roi_size = int(options.get("roi_size", ROI_SIZE))
    video = item["video"]
    meta = {"source": video, "id": item.get("id"), "options": crop_options(options)}
    if options.get("already_cropped"):
        clip = read_video(video, target_fps=fps, grayscale=True)
        if options.get("keep_size"):
            frames = clip.frames
        else:
            frames = resize_roi(clip.frames, roi_size)
        meta.update(already_cropped=True, original_fps=clip.original_fps)
    else:
        clip = read_video(video, target_fps=fps, grayscale=True)
        result = extract_mouth_roi(
            clip,
            detector=_worker_detector(),
            roi_size=roi_size,
            max_missing=float(options.get("max_missing", 0.5)),
            smooth_window=int(options.get("smooth_window", 5)),
        )
        frames = result.frames
        meta["options"]["detector"] = result.detector  # "auto": what it was
        meta.update(
            already_cropped=False,
            original_fps=clip.original_fps,
            detector=result.detector,
            missing_ratio=round(result.missing_ratio, 4),
            mouth_centres=np.round(result.mouth_centres, 2).tolist(),
        )
    wav = item.get("wav")
    if wav and not os.path.exists(wav):  # else the reason would name the video
        raise FileNotFoundError(f"its audio {wav} is not there")
    if wav:
        audio_seconds = _audio_duration(wav)
        video_seconds = len(frames) / fps
        tolerance = float(options.get("av_tolerance", 0.2))
        if abs(audio_seconds - video_seconds) > tolerance:
            raise AVLengthMismatchError(
                video,
                f"video {video_seconds:.2f} s but audio {audio_seconds:.2f} s "
                f"({wav}); tolerance {tolerance:g} s",
            )
        meta.update(wav=wav, audio_seconds=round(audio_seconds, 3))
    meta.update(num_frames=int(len(frames)), size=list(frames.shape[1:]))
    save_roi(output_path, frames, fps, meta)
    return meta


def _run_item(item, output_path, options):
    """Worker entry: never raises for a bad video; returns (status, item, error)."""
    try:
        process_one(item, output_path, options)
        return "done", item, None
    except VideoError as err:
        return "failed", item, (type(err).__name__, err.reason)
    except Exception as err:  # a bug or an odd file must not stop the whole run
        reason = " ".join(printable(str(err)).split())
        return "failed", item, (type(err).__name__, reason)


def preprocess_videos(
    inputs,
    output_dir,
    jobs=1,
    shard=None,
    detector="auto",
    already_cropped=False,
    keep_size=False,
    roi_size=ROI_SIZE,
    max_missing=0.5,
    fps=25.0,
    av_tolerance=0.2,
    smooth_window=5,
    detect_every=None,
    data_root=None,
    overwrite=False,
    progress=True,
    fit_every=None,
):
    """Preprocess videos into mouth-ROI ``.npz`` files; return a summary.

    Arguments
    ---------
    inputs : str, os.PathLike or list
        Folders, list files, JSON manifests or videos (see :func:`collect_inputs`).
    output_dir : str
        Cache folder; mirrors the inputs' relative paths.
    jobs : int
        Worker processes (1 = in this process). Each worker uses one thread and
        builds its detector once.
    shard : tuple of int, optional
        ``(K, N)``, 1-based: process only the K-th of N disjoint parts of the
        sorted list (for cluster array jobs).
    detector : str or LandmarkDetector
        Landmark backend (``"auto"``, ``"dlib"``, ``"haar"``...); an instance
        only with ``jobs=1`` (detectors do not pickle).
    already_cropped : bool
        Inputs are mouth crops already: decode, grayscale, resize, cache.
    keep_size : bool
        With ``already_cropped``, keep the original size instead of ``roi_size``.
    roi_size : int
        Side of the stored crops.
    max_missing : float
        Fail a video with no face in more than this fraction of frames.
    fps : float
        Frame rate of the stored frames.
    av_tolerance : float
        Seconds by which audio (when given) and video may differ.
    smooth_window : int
        Landmark smoothing window in frames.
    detect_every : int, optional
        dlib only: run the face detector every N frames and track the face in
        between (1 = every frame, about 3x slower); default: the backend's
        (dlib: every 10th frame).
    data_root : str, optional
        Substituted for ``{data_root}`` in manifests/lists; root of relative paths.
    overwrite : bool
        Redo files whose ``.npz`` already exists.
    progress : bool
        Show a tqdm progress bar.
    fit_every : int, optional
        dlib only: fit the landmarks on every N-th tracked frame and
        interpolate in between (1 = every frame); default: the backend's
        (dlib: every 2nd frame).

    Returns
    -------
    dict
        ``total``, ``done``, ``skipped``, ``failed``, ``failures`` (list of
        ``(file, error_type, reason)``), ``report`` (path), ``seconds``,
        ``stale`` (cached files made with other crop options, re-made),
        ``invalid`` (broken cached files, re-made) and ``stale_temps`` (paths
        of a killed run's temporary files, removed).

    Example
    -------
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> listing = os.path.join(out, "list.txt")
    >>> with open(listing, "w") as handle:
    ...     _ = handle.write("/missing/video.mp4\\n")
    >>> s = preprocess_videos(listing, out, already_cropped=True, progress=False)
    >>> s["failed"], s["failures"][0][1:]
    (1, ('UnreadableVideoError', 'file not found'))
    """
    start = time.time()
    items = select_shard(collect_inputs(inputs, data_root=data_root), shard)
    check_output_folder(output_dir)
    # This job's own temps cannot be in flight yet; other live jobs' are kept.
    stale_temps = remove_stale_temps(output_dir, ".npz", include_own=True)
    options = {
        "already_cropped": already_cropped,
        "keep_size": keep_size,
        "roi_size": roi_size,
        "max_missing": max_missing,
        "fps": fps,
        "av_tolerance": av_tolerance,
        "smooth_window": smooth_window,
        "detector": _detector_name(detector, already_cropped),
        "detect_every": detect_every,
        "fit_every": fit_every,
    }
    key = crop_options(options)
    todo, skipped, remade = [], 0, {"stale": 0, "invalid": 0}
    for item in items:
        target = os.path.join(output_dir, item["rel"])
        status = "missing" if overwrite else cache_status(target, key, max_missing)
        if status == "valid":
            skipped += 1
            continue
        if status in remade:
            remade[status] += 1
        todo.append((item, target))
    report = report_path(output_dir, shard)
    failures, done = [], 0
    # Rewritten each run: files that failed before are retried, so the report
    # lists exactly the current failures of this shard. Rows are flushed as they
    # come so that a killed run still leaves them. A file name that is not
    # UTF-8 is written with its bytes as \xNN.
    with open(
        report, "w", newline="", encoding="utf-8", errors="backslashreplace"
    ) as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_FIELDS)
        handle.flush()
        bar = _progress_bar(len(todo), progress)
        tuning = {"detect_every": detect_every, "fit_every": fit_every}
        spec = (detector, {k: v for k, v in tuning.items() if v is not None})
        counts = {"done": 0}

        def record(status, item, error):
            if status == "done":
                counts["done"] += 1
            else:
                row = (item["video"], error[0], error[1])
                failures.append(row)
                writer.writerow(row)
                handle.flush()
            bar.update(1)
            bar.set_postfix(failed=len(failures), refresh=False)

        late = []  # finished by workers while a Ctrl-C stopped the pool
        results = _iterate(todo, options, spec, jobs, late)
        try:
            for result in results:
                record(*result)
        except KeyboardInterrupt:
            results.close()  # stops the pool if the signal came between files
            for result in late:
                record(*result)
            bar.close()
            raise BatchInterrupted(counts["done"] + skipped, len(items)) from None
        bar.close()
        done = counts["done"]
    return {
        "total": len(items),
        "done": done,
        "skipped": skipped,
        "failed": len(failures),
        "failures": failures,
        "report": report,
        "seconds": round(time.time() - start, 2),
        **remade,
        "stale_temps": stale_temps,
    }


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`preprocess_videos`: ``done`` of ``total`` files are
    cached (written atomically: no partial file is left).

    Example
    -------
    >>> str(BatchInterrupted(2, 5))
    'interrupted: 2 of 5 done, kept (run again to finish)'
    """

    def __init__(self, done, total):
        self.done, self.total = done, total
        super().__init__(
            f"interrupted: {done} of {total} done, kept (run again to finish)"
        )


def _detector_name(detector, already_cropped):
    """The backend's name, ``"auto"`` resolved as files record it (dlib, haar)."""
    name = getattr(detector, "name", detector)
    if name == "auto" and not already_cropped:
        from speechbrain_v2s.video.landmarks import available_detectors

        name = (available_detectors() or ["auto"])[0]
    return name


def _progress_bar(total, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="video", disable=not enabled, dynamic_ncols=True)


def _iterate(todo, options, detector, jobs, late):
    if not todo:
        return
    if jobs <= 1 or len(todo) == 1:
        if _WORKER.get("detector_spec") != detector:
            _WORKER.update(detector_spec=detector, detector=None)
        if not options.get("already_cropped"):
            _worker_detector()  # fail early, once, if the backend is missing
        for item, target in todo:
            yield _run_item(item, target, options)
        return
    if not options.get("already_cropped"):
        from speechbrain_v2s.video.landmarks import get_detector

        get_detector(detector[0], **detector[1])  # check the backend once, here
    import multiprocessing

    # "spawn": forked children of a process that already runs OpenCV/torch
    # threads can deadlock.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_init_worker,
        initargs=(detector, 1),
    )
    futures, seen = {}, set()

    def result(future):
        seen.add(future)
        try:
            return future.result()
        except BrokenProcessPool:
            # A worker died in a C library: its files and those queued behind
            # it fail with a line each; the run still finishes.
            reason = "a worker process died while this file was queued or read"
            return "failed", futures[future], ("WorkerCrashed", reason)

    try:
        for item, target in todo:
            futures[pool.submit(_run_item, item, target, options)] = item
        for future in as_completed(futures):
            yield result(future)
    finally:
        # On Ctrl-C: drop the queued files; running ones finish (atomically)
        # and are counted in ``late``.
        pool.shutdown(wait=True, cancel_futures=True)
        unseen = [f for f in futures if f not in seen]
        late.extend(result(f) for f in unseen if f.done() and not f.cancelled())


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0:  # also NaN
            raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def build_parser():
    """The ``v2s-preprocess`` command line (built without running anything).

    Example
    -------
    >>> args = build_parser().parse_args(["videos/", "-o", "rois", "-j", "2"])
    >>> args.inputs, args.output, args.jobs, args.detector
    (['videos/'], 'rois', 2, 'auto')
    """
    parser = argparse.ArgumentParser(
        prog="v2s-preprocess",
        description=(
            "Crop aligned mouth ROIs (grayscale, 25 fps) from videos into a cache of "
            ".npz files mirroring the input paths. Bad files are listed in "
            "<output>/preprocess_report*.csv and the run goes on."
        ),
        formatter_class=HelpFormatter,
    )
    add_version(parser)
    parser.add_argument(
        "inputs",
        nargs="+",
        help="folders (searched recursively), list files (video[TAB]wav per line), "
        "SpeechBrain JSON manifests (entries with 'video', optional 'wav') or videos",
    )
    parser.add_argument("-o", "--output", required=True, help="cache folder")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--shard",
        type=parse_shard,
        default=None,
        help="K/N: do the K-th of N parts (default: all)",
    )
    parser.add_argument(
        "--detector",
        default="auto",
        help="landmark backend: auto (dlib, else haar), dlib, haar (the "
        "recipes' YAML key: roi_detector)",
    )
    parser.add_argument(
        "--already-cropped",
        action="store_true",
        help="inputs are mouth crops: only decode, grayscale, resize and cache",
    )
    parser.add_argument(
        "--keep-size",
        action="store_true",
        help="with --already-cropped: keep the input size instead of --roi-size",
    )
    parser.add_argument(
        "--roi-size",
        type=_positive(int),
        default=ROI_SIZE,
        help="side of the stored square crops (px)",
    )
    parser.add_argument(
        "--max-missing",
        type=float,
        default=0.5,
        help="fail a video with no face in more than this fraction of frames",
    )
    parser.add_argument(
        "--fps",
        type=_positive(float),
        default=25.0,
        help="frame rate of the stored frames",
    )
    parser.add_argument(
        "--av-tolerance",
        type=float,
        default=0.2,
        help="seconds audio and video may differ when a wav is given",
    )
    parser.add_argument(
        "--smooth-window",
        type=int,
        default=5,
        help="landmark smoothing window (frames)",
    )
    parser.add_argument(
        "--detect-every",
        type=int,
        default=None,
        help="dlib: detect faces every N frames and track them in between "
        "(default 10; 1 = every frame, about 3x slower, no more accurate on our "
        "test videos)",
    )
    parser.add_argument(
        "--fit-every",
        type=int,
        default=None,
        help="dlib: fit landmarks on every N-th tracked frame, interpolated in "
        "between (default 2; 1 = every frame, about 1.2x slower)",
    )
    parser.add_argument(
        "--data-root",
        default=None,
        help="value of {data_root} in manifests and lists; root of their "
        "relative paths",
    )
    parser.add_argument("--overwrite", action="store_true", help="redo existing files")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(  # kept for old scripts: failures now always give 1
        "--strict", action="store_true", help=argparse.SUPPRESS
    )
    return parser


def main(argv=None):
    """Command line entry point of ``v2s-preprocess``; returns the exit status.

    0 when every file is cached (made now or before), 1 when some failed
    (one line each on stderr, and in the report), 2 when nothing could be
    done (no input video, all failed, bad arguments or output folder, missing
    detector backend), 130 on Ctrl-C (finished files are kept).

    Example
    -------
    >>> import contextlib, io, tempfile
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     main([tempfile.mkdtemp(), "-o", tempfile.mkdtemp(), "--no-progress"])
    2
    >>> print(err.getvalue(), end="")
    v2s-preprocess: no input videos found
    """
    args = build_parser().parse_args(argv)
    try:
        summary = preprocess_videos(
            args.inputs,
            args.output,
            jobs=args.jobs,
            shard=args.shard,
            detector=args.detector,
            already_cropped=args.already_cropped,
            keep_size=args.keep_size,
            roi_size=args.roi_size,
            max_missing=args.max_missing,
            fps=args.fps,
            av_tolerance=args.av_tolerance,
            smooth_window=args.smooth_window,
            detect_every=args.detect_every,
            fit_every=args.fit_every,
            data_root=args.data_root,
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
    except BatchInterrupted as stop:
        print(f"v2s-preprocess: {stop}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # before the first file, or a second Ctrl-C
        print("v2s-preprocess: interrupted (finished files are kept)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ImportError, InputError, OSError) as err:
        print(f"v2s-preprocess: {printable(str(err))}", file=sys.stderr)
        return EXIT_NOTHING_DONE
    if summary["total"] == 0:
        print("v2s-preprocess: no input videos found", file=sys.stderr)
        return EXIT_NOTHING_DONE
    for file, error_type, reason in summary["failures"]:
        print(f"{printable(file)}: {reason} ({error_type})", file=sys.stderr)
    notes = [
        f"{summary['stale']} cached with other options re-made",
        f"{summary['invalid']} broken cached files re-made",
        f"{len(summary['stale_temps'])} temporary files of killed runs removed",
    ]
    notes = [n for n in notes if not n.startswith("0 ")]
    if summary["failed"]:
        notes.append(f"report: {summary['report']}")
    print(
        f"v2s-preprocess: done {summary['done']}, skipped {summary['skipped']}, "
        f"failed {summary['failed']} of {summary['total']} in {summary['seconds']} s"
        + (f" ({'; '.join(notes)})" if notes else "")
    )
    return batch_exit_code(summary["done"], summary["skipped"], summary["failed"])


if __name__ == "__main__":
    sys.exit(main())
