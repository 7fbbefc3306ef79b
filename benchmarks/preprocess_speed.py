"""Speed and accuracy of the mouth-ROI preprocessing, per landmark backend.

The test video is skimage's astronaut photo (512x512, a real face) rotated by up to
+-10 degrees, scaled by 0.92-1.08 and shifted by up to 15/20 px over 50 frames
(known transforms), written to mp4. Accuracy: distance of the tracked mouth centre
from the still image's mouth centre (dlib's) moved through the known transform,
and the lowest correlation between the aligned crops and the first one.
Speed: frames/s of the whole job (decode + detect + track + smooth + align + crop
+ write .npz) over several copies of the video, with 1 job (in this process, one
OpenCV thread: one core) and 2 worker processes (the 2-job figure includes
starting the workers and loading the models); best of ``--repeats`` runs.
Stages: milliseconds per frame of each step of one video's job, timed inside
the real code path (``preprocess.process_one``).

Usage::

    python benchmarks/preprocess_speed.py [--copies 4] [--frames 50] [--no-write]

Writes the section "## Mouth-ROI preprocessing" of benchmarks/RESULTS.md
(replacing an older one).
"""

import argparse
import datetime
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from unittest import mock

import cv2
import numpy as np

from speechbrain_v2s.video import mouth_roi, preprocess
from speechbrain_v2s.video.io import read_video, write_video
from speechbrain_v2s.video.landmarks import available_detectors, get_detector
from speechbrain_v2s.video.landmarks import mouth_centre as landmarks_mouth_centre
from speechbrain_v2s.video.mouth_roi import extract_mouth_roi
from speechbrain_v2s.video.preprocess import preprocess_videos

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_md import cpu_model, write_section  # noqa: E402

SECTION = "## Mouth-ROI preprocessing"
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def astronaut_video(num_frames):
    """Frames of the moving astronaut photo and the per-frame affine transforms."""
    from skimage.data import astronaut

    image = astronaut()
    frames, mats = [], []
    for t in range(num_frames):
        phase = 2 * np.pi * t / num_frames
        mat = cv2.getRotationMatrix2D(
            (256, 256), 10 * np.sin(phase), 1 + 0.08 * np.sin(2 * phase)
        )
        mat[:, 2] += (15 * np.sin(phase), 20 * np.cos(phase) - 20)
        frames.append(
            cv2.warpAffine(image, mat, (512, 512), borderMode=cv2.BORDER_REFLECT)
        )
        mats.append(mat)
    return image, np.stack(frames), np.stack(mats)


def parse_backend(spec):
    """``"dlib:5"`` -> ``("dlib", {"detect_every": 5})``; ``"dlib:10:1"`` also
    sets ``fit_every`` (landmarks fitted on every N-th tracked frame)."""
    name, *every = spec.split(":")
    keys = ("detect_every", "fit_every")
    return name, {key: int(value) for key, value in zip(keys, every) if value}


def accuracy(video_path, image, mats, backend):
    """Mean/max mouth-centre error (px) and the lowest crop correlation."""
    still = landmarks_mouth_centre(get_detector("dlib").detect(image)[0].landmarks)
    truth = np.einsum("tij,j->ti", mats[:, :, :2], still) + mats[:, :, 2]
    name, kwargs = parse_backend(backend)
    detector = get_detector(name, **kwargs)
    result = extract_mouth_roi(read_video(video_path), detector=detector)
    error = np.hypot(*(result.mouth_centres - truth).T)
    flat = result.frames.reshape(len(result.frames), -1).astype(np.float64)
    flat -= flat.mean(axis=1, keepdims=True)
    flat /= np.linalg.norm(flat, axis=1, keepdims=True)
    return float(error.mean()), float(error.max()), float((flat @ flat[0]).min())


def _cpu_seconds():
    """CPU seconds used by this process and its finished children so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def speed(folder, backend, jobs, num_frames, repeats=1):
    """Frames per second of preprocess_videos over every video in ``folder``.

    Returns ``repeats`` pairs ``(frames per wall-clock second, frames per CPU
    second)``; the CPU figure counts this process and its worker processes, so
    it is what one core delivers whatever else the machine runs.
    """
    out = tempfile.mkdtemp(prefix="v2s_bench_out_")
    rates = []
    try:
        name, kwargs = parse_backend(backend)
        for _ in range(repeats):
            shutil.rmtree(out, ignore_errors=True)
            start, cpu = time.perf_counter(), _cpu_seconds()
            summary = preprocess_videos(
                folder, out, jobs=jobs, detector=name, progress=False, **kwargs
            )
            seconds = time.perf_counter() - start
            cpu = _cpu_seconds() - cpu
            if summary["failed"]:
                raise RuntimeError(f"benchmark videos failed: {summary['failures']}")
            frames = summary["done"] * num_frames
            rates.append((frames / seconds, frames / cpu))
        return rates
    finally:
        shutil.rmtree(out, ignore_errors=True)


STAGES = (
    "decode",
    "face detection",
    "landmark fit",
    "tracking checks",
    "track face",
    "fill + smooth",
    "align",
    "warp/crop",
    "write .npz",
    "other",
)


def _timed(clock, key, fn):
    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            clock[key] = clock.get(key, 0.0) + time.process_time() - start

    return wrapper


def stage_times(video_path, backend, num_frames, repeats=3):
    """CPU milliseconds per frame of each stage of ``process_one`` (best of repeats).

    The real job runs with its functions wrapped in timers: decoding, the dlib
    face detector and shape predictor calls (or the whole ``detect`` of another
    backend), the rest of ``detect_video`` (box tracking, plausibility and face
    patch checks), tracking, smoothing, alignment, warping and writing.
    """
    name, kwargs = parse_backend(backend)
    detector = get_detector(name, **kwargs)
    best = None
    out = tempfile.mkdtemp(prefix="v2s_bench_stage_")
    try:
        for _ in range(repeats):
            clock = {}
            patches = [
                mock.patch.object(
                    preprocess,
                    "read_video",
                    _timed(clock, "decode", preprocess.read_video),
                ),
                mock.patch.object(
                    preprocess,
                    "save_roi",
                    _timed(clock, "write .npz", preprocess.save_roi),
                ),
                mock.patch.object(preprocess, "_worker_detector", lambda: detector),
                mock.patch.object(
                    detector,
                    "detect_video",
                    _timed(clock, "detect_video", detector.detect_video),
                ),
            ]
            for attr, key in (
                ("track_face", "track face"),
                ("interpolate_undetected", "fill + smooth"),
                ("smooth_landmarks", "fill + smooth"),
                ("crop_transforms", "align"),
                ("warp_crops", "warp/crop"),
            ):
                patches.append(
                    mock.patch.object(
                        mouth_roi, attr, _timed(clock, key, getattr(mouth_roi, attr))
                    )
                )
            if hasattr(detector, "_predictor"):  # dlib: split detector / predictor
                hog = detector._detector
                patches.append(
                    mock.patch.object(
                        detector,
                        "_detector",
                        argparse.Namespace(
                            run=_timed(clock, "face detection", hog.run)
                        ),
                    )
                )
                patches.append(
                    mock.patch.object(
                        detector,
                        "_predictor",
                        _timed(clock, "landmark fit", detector._predictor),
                    )
                )
            else:
                patches.append(
                    mock.patch.object(
                        detector,
                        "detect",
                        _timed(clock, "face detection", detector.detect),
                    )
                )
            for patch in patches:
                patch.start()
            try:
                start = time.process_time()
                preprocess.process_one(
                    {"video": video_path, "wav": None, "id": None},
                    os.path.join(out, "stage.npz"),
                    {},
                )
                total = time.process_time() - start
            finally:
                for patch in reversed(patches):
                    patch.stop()
            inside = clock.pop("detect_video", 0.0)
            clock["tracking checks"] = (
                inside
                - clock.get("face detection", 0.0)
                - clock.get("landmark fit", 0.0)
            )
            clock["other"] = total - sum(clock.values())
            clock["total"] = total
            if best is None or total < best["total"]:
                best = dict(clock)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {key: value * 1000 / num_frames for key, value in best.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=4, help="videos per run")
    parser.add_argument("--frames", type=int, default=50, help="frames per video")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--repeats", type=int, default=1, help="speed runs per cell (best is shown)"
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        default=None,
        help="e.g. dlib dlib:1 dlib:10:1 haar (NAME:N[:F] = detect every N "
        "frames[, fit landmarks every F]); default: every installed backend, plus "
        "dlib:1 (detector in every frame) and dlib:10:1 (landmarks fitted in "
        "every frame)",
    )
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="a bullet added under the machine line (e.g. an earlier result)",
    )
    parser.add_argument("--no-write", action="store_true", help="only print")
    args = parser.parse_args(argv)

    # The 1-job figure is per core: this process uses one OpenCV thread (dlib
    # is single-threaded); the workers of more jobs use one thread each anyway.
    cv2.setNumThreads(1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    backends = args.backends or available_detectors()
    if args.backends is None and "dlib" in backends:
        at = backends.index("dlib") + 1
        backends[at:at] = ["dlib:10:1", "dlib:1"]
    folder = tempfile.mkdtemp(prefix="v2s_bench_in_")
    try:
        image, frames, mats = astronaut_video(args.frames)
        for i in range(args.copies):
            write_video(os.path.join(folder, f"astronaut{i}.mp4"), frames, fps=25)
        first = os.path.join(folder, "astronaut0.mp4")
        rows, stages = [], {}
        for backend in backends:
            mean_err, max_err, min_corr = accuracy(first, image, mats, backend)
            stages[backend] = stage_times(first, backend, args.frames)
            fps = {
                jobs: speed(folder, backend, jobs, args.frames, args.repeats)
                for jobs in args.jobs
            }
            rows.append((backend, mean_err, max_err, min_corr, fps))
            print(
                f"{backend}: error {mean_err:.2f}/{max_err:.2f} px, crop corr "
                f">= {min_corr:.3f}; frames/s (wall, per CPU-s): "
                + "; ".join(
                    f"{j} job(s) " + ", ".join(f"{w:.1f}/{c:.1f}" for w, c in v)
                    for j, v in fps.items()
                )
                + "; CPU ms/frame: "
                + ", ".join(f"{k} {v:.2f}" for k, v in stages[backend].items()),
                flush=True,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    given, skip = [], False
    for item in argv if argv is not None else sys.argv[1:]:
        # Notes go in the section as bullets, not into its command line.
        if skip or item.startswith("--note="):
            skip = False
        elif item == "--note":
            skip = True
        else:
            given.append(item)
    command = "python benchmarks/preprocess_speed.py " + " ".join(given)
    runs = f"best of {args.repeats} runs" if args.repeats > 1 else "one run"
    job_cols = " | ".join(
        f"frames/s, {j} job{'s' if j > 1 else ''} (wall / per CPU-s)" for j in args.jobs
    )
    lines = [
        SECTION,
        "",
        f"- Date: {datetime.date.today().isoformat()}; commit {commit or '?'}; "
        f"command: `{command.strip()}`",
        f"- Machine: {os.cpu_count()} CPU cores ({cpu_model()}), "
        f"Python {platform.python_version()}, OpenCV {cv2.__version__}; shared with "
        f"other jobs (1-min load average {load:.2f} at start, {load_end:.2f} at the "
        "end; above about 1 the second core is busy and the 2-job figure suffers "
        "first), so speeds vary by about +-30 %.",
        "- 1 job runs in the calling process with one OpenCV thread (dlib is "
        "single-threaded): one core. 2 jobs: two worker processes of one thread "
        "each; the figure includes starting them and loading the models. "
        f"Frames/s: {runs} of the whole folder"
        + (" (all runs under the table)" if args.repeats > 1 else "")
        + ", per wall-clock second and per CPU second of the job's processes "
        "(the latter is what one core delivers, however busy the machine).",
        *(f"- {note}" for note in args.note),
        f"- Video: skimage astronaut photo (512x512, face about 90 px wide), "
        f"{args.frames} frames rotated +-10 deg, scaled 0.92-1.08, shifted +-15/20 "
        f"px, mp4v; {args.copies} copies per run. Full job: decode, detect, "
        "track, smooth, align, crop 96x96, write .npz.",
        "- Error: tracked mouth centre vs. the still image's mouth centre moved by the "
        "known transform (px); crop corr: lowest correlation of an aligned crop with "
        "the first one (1 = identical crops). `dlib` is the default: the face "
        "detector runs every 10th frame and the face is tracked in between, its "
        "landmarks fitted on every 2nd frame and interpolated on the others; "
        "`dlib:10:1` fits them in every frame (`--fit-every 1`); `dlib:1` also "
        "runs the detector in every frame (`--detect-every 1`).",
        "",
        f"| backend | mouth error mean / max (px) | crop corr (min) | {job_cols} |",
        "|---|---|---|" + "---|" * len(args.jobs),
    ]
    for backend, mean_err, max_err, min_corr, fps in rows:
        cells = [
            f"{max(w for w, _ in fps[j]):.1f} / {max(c for _, c in fps[j]):.1f}"
            for j in args.jobs
        ]
        lines.append(
            f"| {backend} | {mean_err:.2f} / {max_err:.2f} | {min_corr:.3f} | "
            + " | ".join(cells)
            + " |"
        )
    if args.repeats > 1:
        lines.append("")
        for backend, _, _, _, fps in rows:
            lines.append(
                f"- {backend} runs (frames/s, wall / per CPU-s): "
                + "; ".join(
                    f"{j} job{'s' if j > 1 else ''}: "
                    + ", ".join(f"{w:.1f} / {c:.1f}" for w, c in fps[j])
                    for j in args.jobs
                )
            )
    lines += [
        "",
        "Where the time goes: CPU milliseconds per frame of each stage of one "
        "video's job in this process (one thread, best of 3), timed inside the "
        "real code path. Face detection: dlib's HOG detector (Haar: its whole "
        "per-frame detect); landmark fit: dlib's shape predictor; tracking "
        "checks: the rest of `detect_video` (carrying the box, plausibility and "
        "face-patch checks); decode includes the conversion to gray.",
        "",
        "| stage | " + " | ".join(f"{b} (ms/frame)" for b in stages) + " |",
        "|---|" + "---|" * len(stages),
    ]
    for stage in STAGES + ("total",):
        label = "**total** (frames/s)" if stage == "total" else stage
        cells = []
        for backend in stages:
            value = stages[backend].get(stage, 0.0)
            cell = f"{value:.2f}"
            if stage == "total":
                cell = f"**{value:.2f}** ({1000 / value:.0f})"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section(text, SECTION, RESULTS)


if __name__ == "__main__":
    main()
