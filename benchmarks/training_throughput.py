#!/usr/bin/env python3
"""Training throughput of the shared Brain: seconds of audio per second of wall time.

Builds each recipe's Brain from its YAML (the synthetic recipes for the tiny
configs, the real-dataset ones for paper scale) and times ``fit_batch`` on
random batches of the recipe's crop size and batch size (data loading is not
included: it runs in parallel workers in real runs).

    python benchmarks/training_throughput.py [--paper] [--steps 10] [--device cpu]
"""

import argparse
import os
import re
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from results_md import machine_line, write_section  # noqa: E402

SECTION = "## Training throughput"


def brain_for(recipe_yaml, device, batch_size):
    import speechbrain as sb  # noqa: F401
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_v2s.training.recipe import build_brain

    overrides = {"output_folder": tempfile.mkdtemp(), "batch_size": batch_size}
    text = open(recipe_yaml, encoding="utf-8").read()
    for key, value in (("data_folder", "/x"), ("data_folders", ["/x"])):
        if f"\n{key}:" in text:
            overrides[key] = value
    if "pretrained_a2a:" in text:
        overrides["pretrained_a2a"] = None
    with open(recipe_yaml, encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    hparams["checkpointer"] = None
    brain = build_brain(hparams, {"device": device})
    brain.on_fit_start()
    brain.on_stage_start(sb_stage_train())
    return brain, hparams


def sb_stage_train():
    import speechbrain as sb

    return sb.Stage.TRAIN


def batch_for(hparams, batch_size, video):
    from speechbrain.dataio.batch import PaddedBatch

    frames = hparams["crop_frames"]
    items = []
    for i in range(batch_size):
        item = {"id": str(i), "sig": torch.randn(frames * 960) * 0.1}
        if video:
            item["roi"] = torch.randn(frames, 1, 88, 88)
        items.append(item)
    return PaddedBatch(items), frames * batch_size / 25.0


def measure(recipe_yaml, device, steps, batch_size=None):
    from hyperpyyaml import load_hyperpyyaml  # noqa: F401

    video = "/V2A/" in recipe_yaml
    with open(recipe_yaml, encoding="utf-8") as handle:
        default_batch = int(re.search(r"\nbatch_size: (\d+)", handle.read()).group(1))
    batch_size = batch_size or default_batch
    brain, hparams = brain_for(recipe_yaml, device, batch_size)
    brain.hparams.gan_warmup_steps = 0  # time the full GAN step
    batch, audio_seconds = batch_for(hparams, batch_size, video)
    brain.fit_batch(batch)  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        brain.fit_batch(batch)
    elapsed = (time.perf_counter() - start) / steps
    return batch_size, hparams["crop_frames"], elapsed, audio_seconds / elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--paper", action="store_true", help="paper-scale configs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    recipes = [
        "Synthetic/A2A/hparams/tiny_wave.yaml",
        "Synthetic/A2A/hparams/tiny_mel.yaml",
        "Synthetic/V2A/hparams/tiny_wave.yaml",
        "Synthetic/V2A/hparams/tiny_mel.yaml",
    ]
    if args.paper:
        recipes += [
            "AudioOnly/A2A/hparams/wave.yaml",
            "AudioOnly/A2A/hparams/mel.yaml",
            "GRID/V2A/hparams/wave.yaml",
            "GRID/V2A/hparams/mel.yaml",
        ]
    rows = []
    for recipe in recipes:
        path = os.path.join(ROOT, "recipes", recipe)
        bs, crop, step, rate = measure(path, args.device, args.steps)
        rows.append((recipe, bs, crop, step, rate))
        print(recipe, f"{step:.2f} s/step, {rate:.1f} s audio/s", flush=True)
    device = args.device
    if device.startswith("cuda"):
        device += f" ({torch.cuda.get_device_name()})"
    lines = [
        SECTION + (" (GPU)" if args.device.startswith("cuda") else " (CPU)"),
        "",
        machine_line(args.threads, extra=f"device {device}"),
        f"- Command: `python benchmarks/training_throughput.py"
        f"{' --paper' if args.paper else ''} --device {args.device}`; "
        f"mean of {args.steps} `fit_batch` calls after a warm-up "
        "(GAN: discriminator + generator step), random data, no data loading.",
        "",
        "| recipe | batch | crop (frames) | s / step | s of audio / s |",
        "|---|---|---|---|---|",
    ]
    for recipe, bs, crop, step, rate in rows:
        lines.append(f"| {recipe} | {bs} | {crop} | {step:.2f} | {rate:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    sys.exit(main())
