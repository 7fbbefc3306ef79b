#!/usr/bin/env python3
"""CPU speed of ``VideoToSpeech`` and peak memory on a 10-minute video.

- model-only real-time factor for 3 s of mouth frames (both families, tiny and
  paper scale, loaded through ``from_hparams`` from folders written by
  ``export_architecture``), next to SpeechBrain's HiFi-GAN vocoder (LJSpeech
  configuration) on the same audio length;
- raw video → speech (decode, face landmarks, mouth ROI, model) for the
  paper-scale waveform model on a 3 s video of a real face;
- peak resident memory of ``synthesize_file`` on a 10-minute mouth-crop video
  (chunked synthesis), in a fresh process.

    python benchmarks/inference_speed.py [--threads 2] [--no-write]
"""

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from results_md import write_section  # noqa: E402

SECTION = "## Inference speed (VideoToSpeech)"
CONFIGS = ("tiny_wave", "tiny_mel", "wave", "mel")


def timed(fn, runs=5):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load(config, work):
    from speechbrain_v2s.export import export_architecture
    from speechbrain_v2s.inference import VideoToSpeech

    folder = os.path.join(work, config)
    export_architecture(os.path.join(ROOT, "hparams", f"{config}.yaml"), folder)
    return VideoToSpeech.from_hparams(source=folder, savedir=folder + "_loaded")


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


PEAK_CODE = """
import resource, sys, torch
torch.set_num_threads({threads})
from speechbrain_v2s.inference import VideoToSpeech
m = VideoToSpeech.from_hparams(source={src!r}, savedir={src!r} + "_peak")
wav = m.synthesize_file({video!r}, already_cropped=True)
print(wav.shape[0], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def long_video(path, minutes=10):
    from speechbrain_v2s.data.mouth_render import random_appearance, render_frames
    from speechbrain_v2s.video.io import write_video

    frames = int(minutes * 60 * 25)
    t = np.arange(frames) / 25.0
    track = np.zeros((frames, 5), np.float32)
    track[:, 0] = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2  # opening
    track[:, 1] = 0.5
    appearance = random_appearance(np.random.default_rng(0))
    write_video(path, render_frames(track, appearance, size=88), fps=25)
    return frames


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    work = tempfile.mkdtemp()
    rows = []
    seconds = 3.0
    rois = torch.randn(1, 75, 1, 88, 88)
    for config in CONFIGS:
        v2s = load(config, work)
        median = timed(lambda v=v2s: v.synthesize_batch(rois))
        rows.append((f"{config} V2A (model only)", median))
    from speechbrain.lobes.models.HifiGAN import HifiganGenerator

    hifigan = HifiganGenerator(
        in_channels=80,
        out_channels=1,
        resblock_type="1",
        resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        resblock_kernel_sizes=[3, 7, 11],
        upsample_kernel_sizes=[16, 16, 4, 4],
        upsample_initial_channel=512,
        upsample_factors=[8, 8, 2, 2],
    ).eval()
    mel = torch.randn(1, 80, int(seconds * 24000 / 256))
    with torch.inference_mode():
        rows.append(
            (
                "SpeechBrain HiFi-GAN vocoder (LJSpeech config)",
                timed(lambda: hifigan(mel)),
            )
        )

    video = os.path.join(work, "face.mp4")
    face_video(video)
    v2s = load("wave", work)
    rows.append(
        (
            "wave V2A, raw face video → speech (dlib landmarks)",
            timed(lambda: v2s.synthesize_file(video), runs=3),
        )
    )

    long_path = os.path.join(work, "long.mpg")
    frames = long_video(long_path)
    peaks = {}
    for config in ("wave", "mel"):
        code = PEAK_CODE.format(
            threads=args.threads, src=os.path.join(work, config), video=long_path
        )
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        elapsed = time.perf_counter() - start
        samples, peak_kb = int(out[-2]), int(out[-1])
        assert samples == frames * 960, (samples, frames)
        peaks[config] = (peak_kb / 1024**2, elapsed)

    load_avg = os.getloadavg()[0]
    lines = [
        SECTION,
        "",
        f"- Date: {datetime.date.today().isoformat()}; machine: {platform.node()}, "
        f"{os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"{args.threads} threads; 1-min load average {load_avg:.2f} at the end "
        "(a shared machine: expect ±30 %).",
        "- Command: `python benchmarks/inference_speed.py`. Models are randomly "
        "initialised (speed does not depend on the weights) and loaded through "
        "`VideoToSpeech.from_hparams`; mel rows include the HiFi-GAN vocoder.",
        "- Input: 3 s (75 frames), batch 1, median of 5 runs after a warm-up.",
        "",
        "| what | time for 3 s | x real time |",
        "|---|---|---|",
    ]
    for name, median in rows:
        lines.append(f"| {name} | {median * 1000:.0f} ms | {seconds / median:.1f} |")
    lines += [
        "",
        f"10-minute mouth-crop video ({frames} frames) through `synthesize_file` "
        "(chunks of 250 frames, 25 cross-faded), fresh process:",
        "",
        "| model | peak resident memory | wall time | x real time |",
        "|---|---|---|---|",
    ]
    for config, (peak_gb, elapsed) in peaks.items():
        lines.append(
            f"| {config} | {peak_gb:.2f} GB | {elapsed:.0f} s | {600 / elapsed:.1f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
