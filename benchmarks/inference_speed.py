#!/usr/bin/env python3
"""CPU real-time factor of ``VideoToSpeech`` against input length, peak memory
on a 10-minute video, and raw face video → speech.

- Real-time factor for 1 s, 10 s, 1 min and 10 min of video, for tiny_wave,
  tiny_mel, wave and mel (randomly initialised, written by
  ``export_architecture`` and loaded through ``from_hparams``), through
  ``synthesize_file`` on mouth-crop videos (decoding, cropping, chunked
  synthesis), next to SpeechBrain's HiFi-GAN vocoder (LJSpeech configuration)
  on a mel spectrogram of the same audio length, all in this one run.
- The 10-minute rows run once each, in a fresh process, which also gives the
  peak resident memory (the process's ``VmHWM``: ``ru_maxrss`` of a child
  started by ``subprocess`` reports the parent's peak when the parent is
  larger, because the child is vfork'ed from it).
- Raw face video → speech (decode, face landmarks, mouth ROI, model) for the
  paper-scale waveform model on a moving real face, with where the time goes.

    python benchmarks/inference_speed.py [--threads 2] [--no-write]
        [--no-vocoder-10min] [--long-configs ...] [--quick] [--memory-only]
        [--face-only]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from results_md import machine_line, write_section  # noqa: E402

SECTION = "## Inference speed (VideoToSpeech)"
FACE_SECTION = "## Raw face video → speech (VideoToSpeech)"
CONFIGS = ("tiny_wave", "tiny_mel", "wave", "mel")
HIFIGAN = "SpeechBrain HiFi-GAN (LJSpeech config)"
LENGTHS = (1, 10, 60)  # seconds measured in this process; 600 s in a fresh one
RUNS = {1: 3, 10: 1, 60: 1}
# Rounds of the raw face rows: on this shared VM one 3-s run took 0.8 to
# 1.1 s within a minute, so a median of 3 swung by 30 %.
FACE_RUNS = 9


def run_times(fn, runs):
    """Seconds of each of ``runs`` calls of ``fn``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def timed(fn, runs):
    return statistics.median(run_times(fn, runs))


def load(config, work):
    from speechbrain_v2s.export import export_architecture
    from speechbrain_v2s.inference import VideoToSpeech

    folder = os.path.join(work, config)
    if not os.path.isdir(folder):
        export_architecture(os.path.join(ROOT, "hparams", f"{config}.yaml"), folder)
    return VideoToSpeech.from_hparams(source=folder, savedir=folder + "_loaded")


def hifigan():
    from speechbrain.lobes.models.HifiGAN import HifiganGenerator

    return HifiganGenerator(
        in_channels=80,
        out_channels=1,
        resblock_type="1",
        resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        resblock_kernel_sizes=[3, 7, 11],
        upsample_kernel_sizes=[16, 16, 4, 4],
        upsample_initial_channel=512,
        upsample_factors=[8, 8, 2, 2],
    ).eval()


def vocode(generator, seconds, piece=60.0):
    """HiFi-GAN on ``seconds`` of 22.05 kHz-hop mel frames (hop 256 at 24 kHz
    audio length), in pieces of ``piece`` s (one pass over 10 min would need
    several GB for the last layers' activations)."""
    with torch.inference_mode():
        left = seconds
        while left > 0:
            now = min(piece, left)
            generator(torch.randn(1, 80, int(now * 24000 / 256)))
            left -= now


def face_video(path, frames=75):
    import cv2
    from skimage import data as skimage_data

    from speechbrain_v2s.video.io import write_video

    image = np.ascontiguousarray(skimage_data.astronaut()[0:320, 64:384])
    out = []
    for t in range(frames):
        mat = cv2.getRotationMatrix2D((160, 160), 6 * np.sin(t / 5), 1.0)
        mat[:, 2] += (8 * np.sin(t / 4), 6 * np.cos(t / 4))
        out.append(cv2.warpAffine(image, mat, (320, 320)))
    write_video(path, np.stack(out), fps=25)


def mouth_video(path, seconds):
    """A synthetic mouth-crop video (88x88, 25 fps), opening 3 times a second."""
    from speechbrain_v2s.synthetic.mouth_render import random_appearance, render_frames
    from speechbrain_v2s.video.io import write_video

    frames = int(seconds * 25)
    t = np.arange(frames) / 25.0
    track = np.zeros((frames, 5), np.float32)
    track[:, 0] = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2  # opening
    track[:, 1] = 0.5
    appearance = random_appearance(np.random.default_rng(0))
    write_video(path, render_frames(track, appearance, size=88), fps=25)
    return frames


FRESH_CODE = """
import json, sys, time, torch
torch.set_num_threads({threads})
def peak_mb():
    with open("/proc/self/status") as status:
        line = next(l for l in status if l.startswith("VmHWM"))
    return int(line.split()[1]) / 1024
base = peak_mb()
kind = {kind!r}
if kind == "hifigan":
    sys.path.insert(0, {bench!r})
    from inference_speed import hifigan, vocode
    generator = hifigan()
    vocode(generator, 1.0)  # warm-up
    loaded = peak_mb()
    start = time.perf_counter()
    vocode(generator, {seconds})
    samples = int({seconds} * 24000)
else:
    from speechbrain_v2s.inference import VideoToSpeech
    m = VideoToSpeech.from_hparams(source={src!r}, savedir={src!r} + "_fresh")
    loaded = peak_mb()
    start = time.perf_counter()
    samples = m.synthesize_file({video!r}, already_cropped=True).shape[0]
elapsed = time.perf_counter() - start
print(json.dumps(dict(samples=samples, elapsed=elapsed, base_mb=base,
                      loaded_mb=loaded, peak_mb=peak_mb())))
"""


def run_fresh(name, kind, threads, seconds, src=None, video=None):
    """One 10-minute run in a fresh process (alone): its timing and memory."""
    code = FRESH_CODE.format(
        threads=threads,
        kind=kind,
        bench=os.path.join(ROOT, "benchmarks"),
        seconds=float(seconds),
        src=src,
        video=video,
    )
    process = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT
    )
    if process.returncode != 0:
        raise RuntimeError(f"{name} fresh run failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def raw_face_rows(v2s, work, runs):
    """Raw face video → speech with the paper-scale waveform model, and its parts."""
    from speechbrain_v2s.video.landmarks import shared_detector
    from speechbrain_v2s.video.mouth_roi import extract_mouth_roi
    from speechbrain_v2s.video.stream import ThreadedDetector

    video = os.path.join(work, "face.mp4")
    face_video(video)
    v2s.synthesize_file(video)  # warm-up (loads the landmark model)
    detector = ThreadedDetector(shared_detector("auto"), torch.get_num_threads())
    crops = extract_mouth_roi(video, detector=detector).frames
    rois = v2s.prepare_frames(crops)
    parts = [
        (
            "raw face video → speech (all of `synthesize_file`)",
            lambda: v2s.synthesize_file(video),
        ),
        (
            f"  of which face landmarks + mouth crops ({detector!r})",
            lambda: extract_mouth_roi(video, detector=detector),
        ),
        ("  of which the model on the crops", lambda: v2s.synthesize_batch(rois)),
    ]
    # In turn, so that a slow spell of the machine hits all three alike.
    times = [[] for _ in parts]
    for _ in range(runs):
        for (_, fn), part_times in zip(parts, times):
            part_times.extend(run_times(fn, 1))
    return [(name, part_times) for (name, _), part_times in zip(parts, times)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--no-vocoder-10min",
        action="store_true",
        help="leave out HiFi-GAN on 10 min of audio",
    )
    parser.add_argument(
        "--long-configs",
        nargs="*",
        default=list(CONFIGS),
        choices=CONFIGS,
        help="families run on the 10-minute video (each about as long as its "
        "real-time factor times 10 min)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 s and 10 s only, one run (a check)"
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only the 10-minute fresh-process runs of --long-configs, in "
        "their own section",
    )
    parser.add_argument(
        "--face-only",
        action="store_true",
        help="only the raw face video -> speech rows (their own section)",
    )
    args = parser.parse_args(argv)
    if args.memory_only:
        return memory_only(args)
    torch.set_num_threads(args.threads)
    began = time.perf_counter()
    load_start = os.getloadavg()[0]
    work = tempfile.mkdtemp()
    if args.face_only:
        rows = raw_face_rows(load("wave", work), work, 1 if args.quick else FACE_RUNS)
        return publish_face(args, rows, load_start, began)
    lengths = LENGTHS[:2] if args.quick else LENGTHS
    runs = {s: 1 for s in lengths} if args.quick else RUNS
    long_seconds = 30 if args.quick else 600
    long_path = os.path.join(work, "mouth_long.mpg")
    frames = mouth_video(long_path, long_seconds)
    videos = {}
    for seconds in lengths:
        videos[seconds] = os.path.join(work, f"mouth_{seconds}s.mpg")
        mouth_video(videos[seconds], seconds)
    times = {}  # (name, seconds) -> seconds of compute
    fresh = {}

    def publish(final=False):
        # after each stage: a stopped run leaves its rows
        return _publish(
            report(args, times, lengths + (long_seconds,), fresh, frames),
            args,
            load_start,
            f"total run time {(time.perf_counter() - began) / 60:.0f} min"
            + ("" if final else " (still running: rows are filled in as measured)"),
        )

    # One measurement at a time: on 2 cores anything running beside a
    # measurement would be in its figure.
    for config in CONFIGS:
        v2s = load(config, work)
        v2s.synthesize_file(videos[1], already_cropped=True)  # warm-up
        for seconds in lengths:
            times[config, seconds] = timed(
                lambda v=v2s, s=seconds: v.synthesize_file(
                    videos[s], already_cropped=True
                ),
                runs[seconds],
            )
            print(config, seconds, f"{times[config, seconds]:.2f} s", flush=True)
        if config == "wave":
            face_rows = raw_face_rows(v2s, work, 1 if args.quick else FACE_RUNS)
            publish_face(args, face_rows, load_start, began)
        del v2s
    generator = hifigan()
    vocode(generator, 1.0)  # warm-up
    for seconds in lengths:
        times[HIFIGAN, seconds] = timed(
            lambda s=seconds, g=generator: vocode(g, s), runs[seconds]
        )
        print(HIFIGAN, seconds, f"{times[HIFIGAN, seconds]:.2f} s", flush=True)
    del generator
    publish()

    long_runs = list(args.long_configs)
    if not args.no_vocoder_10min:
        long_runs.append(HIFIGAN)
    for name in long_runs:
        if name == HIFIGAN:
            fresh[name] = run_fresh(name, "hifigan", args.threads, long_seconds)
        else:
            src = os.path.join(work, name)
            fresh[name] = run_fresh(
                name, "v2s", args.threads, long_seconds, src, long_path
            )
        if name != HIFIGAN:
            assert fresh[name]["samples"] == frames * 960, (name, fresh[name])
        times[name, long_seconds] = fresh[name]["elapsed"]
        print(name, long_seconds, fresh[name], flush=True)
        publish()
    print(publish(final=True))


def _publish(text, args, load_start, extra):
    """``text`` with its ``{HEADER}`` filled in by :func:`machine_line`,
    written to RESULTS.md unless ``--no-write``."""
    text = text.replace("{HEADER}", machine_line(args.threads, load_start, extra))
    if not args.no_write:
        write_section(text)
    return text


def publish_face(args, rows, load_start, began):
    """Write (unless ``--no-write``) and print the raw face section."""
    minutes = (time.perf_counter() - began) / 60
    extra = f"{minutes:.1f} min since the benchmark started"
    print(_publish(face_report(args, rows), args, load_start, extra))


MEMORY_SECTION = "## Peak memory on a 10-minute video (VideoToSpeech)"


def memory_only(args):
    """The 10-minute fresh-process runs alone (peak memory and wall time)."""
    began, load_start = time.perf_counter(), os.getloadavg()[0]
    work = tempfile.mkdtemp()
    path = os.path.join(work, "mouth_long.mpg")
    frames = mouth_video(path, 600)
    for config in args.long_configs:
        load(config, work)
    rows = {}
    for config in args.long_configs:  # one at a time: nothing else in the figure
        rows[config] = run_fresh(
            config, "v2s", args.threads, 600, os.path.join(work, config), path
        )
        assert rows[config]["samples"] == frames * 960, (config, rows[config])
        print(config, rows[config], flush=True)
    env = _env()
    lines = [
        MEMORY_SECTION,
        "",
        machine_line(
            args.threads,
            load_start,
            f"total {(time.perf_counter() - began) / 60:.0f} min",
        ),
        f"- Command: `{env}python benchmarks/inference_speed.py --memory-only "
        f"--long-configs {' '.join(args.long_configs)}`: `synthesize_file("
        "video, already_cropped=True)` on a synthetic 10-minute 88x88 "
        f"mouth-crop video ({frames} frames), each model in a fresh process, "
        "one after the other; peak = the process's `VmHWM`.",
        "",
        "| model | after `import torch` | model loaded | peak | wall time |",
        "|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['base_mb'] / 1024:.2f} GiB | "
            f"{row['loaded_mb'] / 1024:.2f} GiB | {row['peak_mb'] / 1024:.2f} GiB | "
            f"{row['elapsed']:.0f} s |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section(text)


def _label(seconds):
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min"


def report(args, times, lengths, fresh, frames):
    names = list(CONFIGS) + [HIFIGAN]
    flags = " --quick" if args.quick else ""
    flags += " --no-vocoder-10min" if args.no_vocoder_10min else ""
    if list(args.long_configs) != list(CONFIGS):
        flags += " --long-configs " + " ".join(args.long_configs)
    env = _env()
    lines = [
        SECTION,
        "",
        "{HEADER}",
        f"- Command: `{env}python benchmarks/inference_speed.py --threads "
        f"{args.threads}"
        f"{flags}`. V2A models are randomly initialised (speed does not depend on "
        "the weights) and loaded through `VideoToSpeech.from_hparams`; each runs "
        "`synthesize_file(video, already_cropped=True)` on a synthetic 88x88 "
        "mouth-crop video (decoding, crop, normalisation and the chunked "
        "synthesis: windows of 250 frames with 25 cross-faded, the next block "
        "decoded while the model runs); mel rows include the HiFi-GAN vocoder "
        "of the mel config. SpeechBrain's `HifiganGenerator` (LJSpeech V1 "
        "configuration) runs on a random mel of the same audio length (in 60-s "
        "pieces, under `torch.inference_mode`).",
        "- 1 s: median of 3 runs; 10 s and 1 min: one run (after a 1-s warm-up); "
        "10 min: one run in a fresh process, which also gives the peak memory "
        "below. Every measurement runs alone, one after the other. "
        '"not run": left out (`--no-vocoder-10min`, `--long-configs`), or '
        "the run was stopped first. `OMP_WAIT_POLICY=PASSIVE`: on a "
        "machine with more busy processes than cores, OpenMP threads that "
        "spin while waiting made 2-thread torch up to 10x slower than 1 "
        "thread; passive waiting avoids that.",
        "",
        "Real-time factor (compute time / audio duration; < 1 is faster than "
        "real time), x real time in brackets:",
        "",
        "| model | " + " | ".join(_label(s) for s in lengths) + " |",
        "|---|" + "---|" * len(lengths),
    ]
    for name in names:
        cells = []
        for seconds in lengths:
            if (name, seconds) not in times:
                cells.append("not run")
                continue
            rtf = times[name, seconds] / seconds
            cells.append(f"{rtf:.3f} ({1 / rtf:.1f}x)")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    long_seconds = lengths[-1]
    lines += [
        "",
        f"{_label(long_seconds)} mouth-crop video ({frames} frames) through "
        "`synthesize_file` in a fresh process: peak resident memory (`VmHWM` "
        "of the process; `import torch` alone is the first column) and wall "
        "time:",
        "",
        "| model | after `import torch` | model loaded | peak | wall time |",
        "|---|---|---|---|---|",
    ]
    for name, row in fresh.items():
        lines.append(
            f"| {name} | {row['base_mb'] / 1024:.2f} GiB | "
            f"{row['loaded_mb'] / 1024:.2f} GiB | {row['peak_mb'] / 1024:.2f} GiB | "
            f"{row['elapsed']:.0f} s |"
        )
    return "\n".join(lines) + "\n"


def face_report(args, face_rows):
    """The raw face video → speech section."""
    runs = 1 if args.quick else FACE_RUNS
    lines = [
        FACE_SECTION,
        "",
        "{HEADER}",
        f"- Command: `{_env()}python benchmarks/inference_speed.py --threads "
        f"{args.threads}{' --quick' if args.quick else ''}"
        f"{' --face-only' if args.face_only else ''}` (`--face-only`: this "
        "section alone). Paper-scale `wave` model, randomly "
        "initialised, through `VideoToSpeech.from_hparams`; 3 s (75 frames) of a "
        "moving real face (skimage's astronaut photo, rotated, scaled and "
        "shifted over time), 320x320 mp4; `synthesize_file` decodes it, finds "
        "the face landmarks, tracks, aligns and crops the mouth and runs the "
        f"model. {runs} rounds after a warm-up, each timing the whole and then "
        "its two parts on their own: median (fastest to slowest run).",
        "",
        "| what | time for 3 s | x real time |",
        "|---|---|---|",
    ]
    for name, times in face_rows:
        median, low, high = statistics.median(times), min(times), max(times)
        lines.append(
            f"| {name} | {median * 1000:.0f} ms ({low * 1000:.0f}-{high * 1000:.0f}) "
            f"| {3.0 / median:.1f} ({3.0 / high:.1f}-{3.0 / low:.1f}) |"
        )
    return "\n".join(lines) + "\n"


def _env():
    policy = os.environ.get("OMP_WAIT_POLICY")
    return f"OMP_WAIT_POLICY={policy} " if policy else ""


if __name__ == "__main__":
    main()
