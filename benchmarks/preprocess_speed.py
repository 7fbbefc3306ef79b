"""Speed and accuracy of the mouth-ROI preprocessing, per landmark backend.

The test video is skimage's astronaut photo (512x512, a real face) rotated by up to
+-10 degrees, scaled by 0.92-1.08 and shifted by up to 15/20 px over 50 frames
(known transforms), written to mp4. Accuracy: distance of the tracked mouth centre
from the still image's mouth centre (dlib's) moved through the known transform,
and the lowest correlation between the aligned crops and the first one.
Speed: frames/s of the whole job (decode + detect + track + smooth + align + crop
+ write .npz) over several copies of the video, with 1 and 2 worker processes
(the 2-job figure includes starting the workers and loading the models).

Usage::

    python benchmarks/preprocess_speed.py [--copies 4] [--frames 50] [--no-write]

Writes the section "## Mouth-ROI preprocessing" of benchmarks/RESULTS.md
(replacing an older one).
"""

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

from speechbrain_v2s.video.io import read_video, write_video
from speechbrain_v2s.video.landmarks import available_detectors, get_detector
from speechbrain_v2s.video.landmarks import mouth_centre as landmarks_mouth_centre
from speechbrain_v2s.video.mouth_roi import extract_mouth_roi
from speechbrain_v2s.video.preprocess import preprocess_videos

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_md import write_section  # noqa: E402

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


def cpu_model():
    """CPU model name from /proc/cpuinfo (or platform)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def parse_backend(spec):
    """``"dlib:5"`` -> ``("dlib", {"detect_every": 5})``."""
    name, _, every = spec.partition(":")
    return name, ({"detect_every": int(every)} if every else {})


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


def speed(folder, backend, jobs, num_frames):
    """Frames per second of preprocess_videos over every video in ``folder``."""
    out = tempfile.mkdtemp(prefix="v2s_bench_out_")
    try:
        start = time.perf_counter()
        name, kwargs = parse_backend(backend)
        summary = preprocess_videos(
            folder, out, jobs=jobs, detector=name, progress=False, **kwargs
        )
        seconds = time.perf_counter() - start
        if summary["failed"]:
            raise RuntimeError(f"benchmark videos failed: {summary['failures']}")
        return summary["done"] * num_frames / seconds
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=4, help="videos per run")
    parser.add_argument("--frames", type=int, default=50, help="frames per video")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--backends",
        nargs="+",
        default=None,
        help="e.g. dlib dlib:5 haar (NAME:N = detect every N frames); "
        "default: every installed backend, plus dlib:5",
    )
    parser.add_argument("--no-write", action="store_true", help="only print")
    args = parser.parse_args(argv)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    backends = args.backends or available_detectors()
    if args.backends is None and "dlib" in backends:
        backends.insert(backends.index("dlib") + 1, "dlib:5")
    folder = tempfile.mkdtemp(prefix="v2s_bench_in_")
    try:
        image, frames, mats = astronaut_video(args.frames)
        for i in range(args.copies):
            write_video(os.path.join(folder, f"astronaut{i}.mp4"), frames, fps=25)
        first = os.path.join(folder, "astronaut0.mp4")
        rows = []
        for backend in backends:
            mean_err, max_err, min_corr = accuracy(first, image, mats, backend)
            fps = {
                jobs: speed(folder, backend, jobs, args.frames) for jobs in args.jobs
            }
            rows.append((backend, mean_err, max_err, min_corr, fps))
            print(
                f"{backend}: error {mean_err:.2f}/{max_err:.2f} px, crop corr "
                f">= {min_corr:.3f}, "
                + ", ".join(
                    f"{v:.1f} frames/s with {j} job(s)" for j, v in fps.items()
                ),
                flush=True,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    command = "python benchmarks/preprocess_speed.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    job_cols = " | ".join(f"frames/s, {j} job{'s' if j > 1 else ''}" for j in args.jobs)
    lines = [
        SECTION,
        "",
        f"- Date: {datetime.date.today().isoformat()}; commit {commit or '?'}; "
        f"command: `{command.strip()}`",
        f"- Machine: {os.cpu_count()} CPU cores ({cpu_model()}), "
        f"Python {platform.python_version()}, OpenCV {cv2.__version__}; shared with "
        f"other jobs (1-min load average {load:.2f} at start), so speeds vary by "
        "about +-30 %.",
        "- 1 job runs in the calling process, where OpenCV may use every core (the "
        "Haar cascade does, so it barely gains from 2 jobs); workers of 2 jobs are "
        "limited to one thread each.",
        f"- Video: skimage astronaut photo (512x512), {args.frames} frames rotated "
        "+-10 deg, scaled 0.92-1.08, shifted +-15/20 px, mp4v; "
        f"{args.copies} copies per run. Full job: decode, detect, track, smooth, "
        "align, crop 96x96, write .npz. The 2-job run includes worker start-up and "
        "model loading.",
        "- Error: tracked mouth centre vs. the still image's mouth centre moved by the "
        "known transform (px); crop corr: lowest correlation of an aligned crop with "
        "the first one (1 = identical crops). `dlib:5`: the face detector runs "
        "every 5th frame, landmarks are refitted in between (`--detect-every 5`).",
        "",
        f"| backend | mouth error mean / max (px) | crop corr (min) | {job_cols} |",
        "|---|---|---|" + "---|" * len(args.jobs),
    ]
    for backend, mean_err, max_err, min_corr, fps in rows:
        lines.append(
            f"| {backend} | {mean_err:.2f} / {max_err:.2f} | {min_corr:.3f} | "
            + " | ".join(f"{fps[j]:.1f}" for j in args.jobs)
            + " |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section(text, SECTION, RESULTS)


if __name__ == "__main__":
    main()
