#!/usr/bin/env python3
"""``make demo``: the project's main job, end to end, on the synthetic corpus.

1. generate the built-in corpora: audio-only (for pre-training, ten times the
   audio-visual hours, as the paper pre-trains on far more audio than it
   fine-tunes on), audio-visual in GRID's layout (fine-tuning; its test split
   holds *seen* speakers) and a small audio-visual corpus of new voices and
   faces (*unseen* speakers, test only);
2. A2A pre-training of a tiny model on the audio-only corpus, and beside it
   the ``scratch`` V2A fine-tuning (it needs no pre-trained decoder);
3. the ``init`` V2A fine-tuning, its temporal module and decoder initialised
   from step 2, with the same steps and seed as ``scratch``;
4. both models exported (as ``v2s-export`` does), loaded back with
   ``VideoToSpeech.from_hparams`` and run on every seen and unseen test video;
5. the paper's table (PESQ, STOI, ESTOI, WER) per speaker group with mel
   plots, in ``evaluation/``, and the validation curves' summary; for the mel
   family a ceiling row too: the real audio's mel through the models' vocoder.
   WER comes from the shipped judge (``--asr synthetic``: a recogniser trained
   by ``recipes/Synthetic/ASR`` on hundreds of espeak-ng voices none of the
   test sets uses), and the real audio is scored as a system of its own;
6. ``sample.mp4``: a held-out video with its generated speech.

Budgets are optimizer steps, not epochs: the epochs each run gets are worked
out from its training-set size, and ``results.md`` says the steps.

Everything is written to ``results.md`` and ``summary.json`` too. Re-running
reuses what is done: corpora, ROI caches, finished training runs (the recipes
resume from their checkpoints), exported models and generated audio.

Every step is the real recipe run as a user would run it; the numbers printed
at the end come from the recipes' own train logs and from ``v2s-evaluate``.

    python recipes/Synthetic/demo.py --output demo_out [--family wave] [--quick]
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

from speechbrain_v2s.prepare import merge_split_manifests, split_counts
from speechbrain_v2s.training.logs import read_train_log, validation_summary

HERE = os.path.dirname(os.path.abspath(__file__))
STRATEGIES = ("scratch", "init")
GROUPS = ("seen", "unseen")
UNSEEN_SEED = 4321  # another seed: other espeak voices and mouth appearances

# Sizes. Corpora: audio-only speakers x utterances (pre-training: about ten
# times the audio-visual hours), audio-visual speakers x utterances
# (fine-tuning; 90/5/5 per speaker), unseen audio-visual speakers x utterances
# (test only). Budgets: optimizer steps of the A2A pre-training and of each
# V2A fine-tuning (batch 8). init's validation ESTOI is ~0.1 after 150 V2A
# steps, ~0.29 after 600 and ~0.35 after 972, where it speaks (README). The full
# size took 643 s on an idle 2-core CPU (mel family: A2A ~3 min beside
# scratch, then init ~7 min; benchmarks/RESULTS.md); the waveform family's GAN
# steps are ~10x dearer.
SIZES = {
    "full": dict(
        audio=80,
        audio_utts=50,
        av=4,
        av_utts=120,
        unseen=2,
        unseen_utts=8,
        a2a_steps=1400,
        v2a_steps=950,
    ),
    "quick": dict(
        audio=4,
        audio_utts=6,
        av=3,
        av_utts=6,
        unseen=1,
        unseen_utts=3,
        a2a_steps=9,
        v2a_steps=4,
    ),
}
BATCH_SIZE = 8
A2A_VALID_RATIO = 0.025  # of 4,000 utterances: 100 validated per epoch
SEEN_RATIOS = (0.9, 0.05, 0.05)  # the GRID preparation's per-speaker split


def epochs_for(steps, train_items, batch_size=BATCH_SIZE):
    """The epochs that give a run at least ``steps`` optimizer steps.

    Example
    -------
    >>> epochs_for(1200, 432)  # 54 steps per epoch
    23
    >>> epochs_for(4, 12), epochs_for(1, 1000)
    (2, 1)
    """
    per_epoch = math.ceil(train_items / batch_size)
    return max(1, math.ceil(steps / per_epoch))


def steps_done(run_dir, batch_size=BATCH_SIZE):
    """Optimizer steps a finished run took: epochs x batches of its train set.

    Example
    -------
    >>> import tempfile
    >>> run_dir = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(run_dir, "save"))
    >>> with open(os.path.join(run_dir, "save", "train.json"), "w") as f:
    ...     json.dump({str(i): {} for i in range(16)}, f)
    >>> with open(os.path.join(run_dir, "train_log.txt"), "w") as f:
    ...     _ = f.write("epoch: 1 - train loss: 2.0 - valid loss: 1.0\\n"
    ...                 "epoch: 2 - train loss: 1.5 - valid loss: 1.2\\n"
    ...                 "Epoch loaded: 1 - test loss: 1.1\\n")
    >>> steps_done(run_dir, batch_size=8)  # 2 epochs x 2 batches (not epoch 1's)
    4
    """
    with open(os.path.join(run_dir, "save", "train.json"), encoding="utf-8") as f:
        items = len(json.load(f))
    epochs, _ = _epochs_done(run_dir)
    return epochs * math.ceil(items / batch_size)


def run(cmd, cwd, timings=None, name=None):
    """Run a recipe step, echoing the command; stop the demo if it fails."""
    print("$", " ".join(cmd), flush=True)
    start = time.time()
    result = subprocess.run(cmd, cwd=cwd)
    if result.returncode != 0:
        sys.exit(f"demo: step failed (exit {result.returncode}): {' '.join(cmd)}")
    elapsed = time.time() - start
    if timings is not None:
        timings[name] = timings.get(name, 0.0) + elapsed
    print(f"  ({elapsed:.0f} s)", flush=True)


def _epochs_done(run_dir):
    log = os.path.join(run_dir, "train_log.txt")
    if not os.path.isfile(log):
        return 0, None
    # Training epochs only: the test line names the epoch it loaded (the best
    # one), which is not how far the run trained.
    rows = [
        r for r in read_train_log(log) if r.get("epoch", 0) >= 1 and not r.get("test")
    ]
    return (rows[-1]["epoch"], rows[-1]["valid"].get("mel_l1")) if rows else (0, None)


def start_jobs(jobs):
    """Start recipes side by side (one CPU thread each); each one's output
    goes to ``<run folder>.log``.

    ``jobs`` maps a name to ``(command, cwd, run folder, epochs)``; returns
    ``{name: (process, job)}`` for :func:`wait_jobs`.
    """
    env = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1")
    running = {}
    for name, job in jobs.items():
        cmd, cwd, run_dir, _ = job
        print("$", " ".join(cmd), f"> {run_dir}.log", flush=True)
        os.makedirs(os.path.dirname(run_dir), exist_ok=True)
        with open(f"{run_dir}.log", "a", encoding="utf-8") as log:
            process = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        running[name] = (process, job)
    return running


def wait_jobs(running, names, timings, label, every=20.0):
    """Wait for the jobs ``names`` of ``running`` (the others go on), with a
    progress line of every job still running read from the train logs."""
    start = time.time()
    while True:
        status = []
        for name, (process, (_, _, run_dir, epochs)) in running.items():
            if process.poll() is not None and name not in names:
                continue
            done, loss = _epochs_done(run_dir)
            loss = f", valid mel L1 {loss:.2f}" if loss is not None else ""
            status.append(f"{name} epoch {done}/{epochs}{loss}")
        print(f"  [{time.time() - start:4.0f} s] " + "; ".join(status), flush=True)
        if all(running[name][0].poll() is not None for name in names):
            break
        time.sleep(every)
    for name in names:
        process, (_, _, run_dir, _) = running.pop(name)
        if process.returncode:
            sys.exit(
                f"demo: {name} failed (exit {process.returncode}): see {run_dir}.log"
            )
    timings[label] = time.time() - start


def synthesise(model_dir, manifest, gen_dir, savedir):
    """Speech for every video of ``manifest``, through the user-facing interface.

    Files already generated are kept (re-runs are cheap).
    """
    from speechbrain_v2s.audio.features import SAMPLE_RATE
    from speechbrain_v2s.audio.io import write_audio
    from speechbrain_v2s.inference import VideoToSpeech

    v2s = VideoToSpeech.from_hparams(source=model_dir, savedir=savedir)
    os.makedirs(gen_dir, exist_ok=True)
    with open(manifest, encoding="utf-8") as handle:
        entries = json.load(handle)
    for key, entry in entries.items():
        path = os.path.join(gen_dir, f"{key}.wav")
        if not os.path.isfile(path):
            wav = v2s.synthesize_file(entry["video"], already_cropped=True)
            write_audio(path, wav, SAMPLE_RATE)
    print(f"  {len(entries)} videos synthesised into {gen_dir}")
    return gen_dir


def reference_copies(manifest, out, group):
    """The manifest's real audio as ``<id>.wav`` files (as generated ones are)."""
    folder = os.path.join(out, "generated", group, "ground_truth")
    os.makedirs(folder, exist_ok=True)
    with open(manifest, encoding="utf-8") as handle:
        for key, entry in json.load(handle).items():
            path = os.path.join(folder, f"{key}.wav")
            if not os.path.isfile(path):
                shutil.copyfile(entry["wav"], path)
    return folder


def vocoder_ceiling(manifest, out, group, model_dir):
    """The mel family's ceiling: the real audio's mel (``compute_mel``)
    through the exported model's own mel-to-wave path, as ``<id>.wav`` files
    (kept on re-runs). Returns ``(folder, row name)``, the name saying which
    vocoder, e.g. ``ground truth (mel + Griffin-Lim)``."""
    from speechbrain_v2s.evaluation import reference_files, write_vocoder_ceiling

    folder = os.path.join(out, "generated", group, "ground_truth_mel")
    name = write_vocoder_ceiling(
        model_dir,
        reference_files(manifest=manifest),
        folder,
        savedir=os.path.join(out, "loaded", "ceiling"),
    )
    return folder, name


def mux_sample(manifest, gen_dir, out):
    """``sample.mp4``: a held-out video with the generated speech as its audio."""
    from speechbrain_v2s.audio.io import load_audio
    from speechbrain_v2s.video.io import mux_audio

    with open(manifest, encoding="utf-8") as f:
        key, entry = next(iter(json.load(f).items()))
    wav = load_audio(os.path.join(gen_dir, f"{key}.wav"), 24000)
    path = os.path.join(out, "sample.mp4")
    mux_audio(entry["video"], wav.numpy(), 24000, path)
    print(f"  wrote {path} ({entry['video']} with its generated speech)")
    return path


def validation_table(valid):
    """Markdown: the fine-tuning runs' validation numbers, one row each."""
    lines = [
        "| system | valid mel L1 before | best valid mel L1 ↓ | "
        "valid mel L1 (last 5) ↓ | valid STOI (last 5) ↑ | "
        "valid ESTOI (last 5) ↑ |",
        "|---|---|---|---|---|---|",
    ]
    for name, stats in valid.items():
        cells = [
            f"{stats.get(key, float('nan')):.3f}"
            for key in ("mel_l1_start", "mel_l1_best", "mel_l1_last")
            + ("stoi_last", "estoi_last")
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="demo_out", help="output folder")
    parser.add_argument(
        "--family",
        choices=("mel", "wave"),
        default="mel",
        help="model family (default mel: its steps are ~10x cheaper on a CPU)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smaller corpus and fewer epochs"
    )
    parser.add_argument(
        "--v2a-steps", type=int, help="fine-tuning optimizer steps (default by size)"
    )
    parser.add_argument(
        "--judge",
        default="synthetic",
        help="WER judge, as v2s-evaluate --asr takes it (default: synthetic, the "
        "shipped recogniser of the synthetic corpus; synthetic:<folder> for one "
        "you trained with recipes/Synthetic/ASR)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Run the demo; returns the summary dict it prints."""
    args = parse_args(argv)
    size_name = "quick" if args.quick else "full"
    size = dict(SIZES[size_name])
    if args.v2a_steps:
        size["v2a_steps"] = args.v2a_steps
    out = os.path.abspath(args.output)
    os.makedirs(out, exist_ok=True)
    py = sys.executable
    arch = f"tiny_{args.family}"
    timings = {}
    demo_start = time.time()

    print("== 1. synthetic corpora", flush=True)
    corpora = {
        "audio": (size["audio"], size["audio_utts"], ["--audio-only"]),
        "av": (size["av"], size["av_utts"], []),
        "av_unseen": (
            size["unseen"],
            size["unseen_utts"],
            ["--seed", str(UNSEEN_SEED)],
        ),
    }
    folders = {}
    for name, (speakers, utts, extra) in corpora.items():
        folders[name] = os.path.join(out, f"corpus_{name}")
        if not os.path.isfile(os.path.join(folders[name], "corpus.json")):
            run(
                [py, "-m", "speechbrain_v2s.synthetic"]
                + ["--output", folders[name], "--speakers", str(speakers)]
                + ["--utterances-per-speaker", str(utts), "--no-progress"]
                + extra,
                HERE,
                timings,
                "corpora",
            )

    # Epochs from steps: the training sets' sizes as the recipes split them.
    a2a_train = split_counts(
        size["audio"] * size["audio_utts"], (1 - A2A_VALID_RATIO, A2A_VALID_RATIO)
    )[0]
    v2a_train = size["av"] * split_counts(size["av_utts"], SEEN_RATIOS)[0]
    a2a_epochs = epochs_for(size["a2a_steps"], a2a_train)
    v2a_epochs = epochs_for(size["v2a_steps"], v2a_train)

    print("== 2. A2A pre-training (audio only), beside V2A from scratch", flush=True)
    a2a_dir = os.path.join(out, f"a2a_{arch}")
    checkpoint = os.path.join(a2a_dir, "a2a_model.ckpt")
    runs = {s: os.path.join(out, f"v2a_{arch}_{s}") for s in STRATEGIES}

    def v2a_job(strategy):
        cmd = [py, "train.py", f"hparams/{arch}.yaml"]
        cmd += ["--data_folder", folders["av"], "--output_folder", runs[strategy]]
        cmd += ["--number_of_epochs", str(v2a_epochs), "--batch_size", str(BATCH_SIZE)]
        cmd += ["--finetune_strategy", strategy]
        if strategy != "scratch":
            cmd += ["--pretrained_a2a", checkpoint]
        cmd += ["--roi_folder", os.path.join(out, "rois")]
        cmd += ["--synth_speakers", str(size["av"]), "--num_speakers", str(size["av"])]
        cmd += ["--synth_utterances_per_speaker", str(size["av_utts"])]
        return (cmd, os.path.join(HERE, "V2A"), runs[strategy], v2a_epochs)

    stage2 = {
        "A2A pre-training": (
            [py, "train.py", f"hparams/{arch}.yaml"]
            + ["--data_folder", folders["audio"], "--output_folder", a2a_dir]
            + ["--synth_speakers", str(size["audio"])]
            + ["--synth_utterances_per_speaker", str(size["audio_utts"])]
            + ["--valid_ratio", str(A2A_VALID_RATIO)]
            + ["--number_of_epochs", str(a2a_epochs)]
            + ["--batch_size", str(BATCH_SIZE)],
            os.path.join(HERE, "A2A"),
            a2a_dir,
            a2a_epochs,
        ),
        "V2A scratch": v2a_job("scratch"),
    }
    running = start_jobs(stage2)
    wait_jobs(running, ["A2A pre-training"], timings, "A2A pre-training")

    print("== 3. V2A fine-tuning from the pre-trained decoder (init)", flush=True)
    running.update(start_jobs({"V2A init": v2a_job("init")}))
    wait_jobs(
        running,
        list(running),
        timings,
        "V2A fine-tuning (scratch, then init beside it)",
    )

    print("== 4. export, load with from_hparams, synthesise the test videos")
    from speechbrain_v2s.export import export_model

    sys.path.insert(0, os.path.join(HERE, "..", "GRID", "V2A"))
    from grid_prepare import prepare_grid

    start = time.time()
    unseen_save = os.path.join(out, "unseen_manifests")
    prepare_grid(folders["av_unseen"], unseen_save, progress=False)
    manifests = {
        "seen": os.path.join(runs["init"], "save", "test.json"),
        "unseen": merge_split_manifests(
            unseen_save, os.path.join(unseen_save, "all.json"), prefix="unseen_"
        ),
    }
    generated = {}
    for strategy, run_dir in runs.items():
        model_dir = os.path.join(out, f"model_{strategy}")
        export_model(run_dir, model_dir, kind="v2a")
        print(f"  exported {strategy} to {model_dir} (what v2s-export does)")
        for group, manifest in manifests.items():
            generated[strategy, group] = synthesise(
                model_dir,
                manifest,
                os.path.join(out, "generated", group, strategy),
                os.path.join(out, "loaded", strategy),
            )
    sample = mux_sample(manifests["seen"], generated["init", "seen"], out)
    timings["export + synthesis"] = time.time() - start

    print("== 5. evaluation (PESQ, STOI, ESTOI, WER by the judge ASR)", flush=True)
    from speechbrain_v2s.evaluation import main as evaluate

    start = time.time()
    tables = {}
    for group, manifest in manifests.items():
        folder = os.path.join(out, "evaluation", group)
        # The real audio as a system too: the judge's WER on clean speech is
        # the floor the generated speech is measured against.
        gen_args = ["--gen-dir", reference_copies(manifest, out, group)]
        gen_args += ["--system", "ground truth"]
        if args.family == "mel":
            # A model that predicted the reference mel exactly would score
            # this: the part of the gap to the ground truth that is the
            # vocoder's (both exports share one mel-to-wave path).
            ceiling, name = vocoder_ceiling(
                manifest, out, group, os.path.join(out, "model_init")
            )
            gen_args += ["--gen-dir", ceiling, "--system", name]
        for strategy in STRATEGIES:
            gen_args += ["--gen-dir", generated[strategy, group]]
            gen_args += ["--system", strategy]
        code = evaluate(
            ["--manifest", manifest, "--out", folder]
            + gen_args
            + ["--asr", args.judge, "--plots", "3", "--jobs", "1"]
            + ["--no-progress"]
        )
        if code:
            sys.exit(f"demo: evaluation failed (exit {code})")
        with open(os.path.join(folder, "summary.md"), encoding="utf-8") as f:
            tables[group] = f.read()
    timings["evaluation"] = time.time() - start

    valid = {
        k: validation_summary(os.path.join(v, "train_log.txt")) for k, v in runs.items()
    }
    timings["total"] = time.time() - demo_start
    steps = {"a2a": steps_done(a2a_dir)}
    steps.update({f"v2a_{k}": steps_done(v) for k, v in runs.items()})
    summary = {
        "family": arch,
        "size": size,
        "steps": steps,
        "judge": args.judge,
        "a2a_valid": validation_summary(os.path.join(a2a_dir, "train_log.txt")),
        **{f"v2a_{k}_valid": v for k, v in valid.items()},
        "sample": sample,
        "seconds": {k: round(v, 1) for k, v in timings.items()},
    }
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
    report = [
        f"# speechbrain-v2s demo ({arch}, {size_name} size)",
        "",
        f"Fine-tuning: {steps['v2a_init']} optimizer steps each (batch "
        f"{BATCH_SIZE}, {v2a_epochs} epochs) on {size['av']} speakers x "
        f"{size['av_utts']} audio-visual utterances; A2A pre-training: "
        f"{steps['a2a']} steps ({a2a_epochs} epochs) on {size['audio']} x "
        f"{size['audio_utts']} audio-only utterances. WER judge: {args.judge}.",
        "",
        "## Validation (seen speakers, from the recipes' train logs)",
        "",
        validation_table(valid),
        "## Test: seen speakers",
        "",
        tables["seen"],
        f"## Test: unseen speakers ({size['unseen']} new voices and faces)",
        "",
        tables["unseen"],
        "## Time (s)",
        "",
        "\n".join(f"- {k}: {v:.0f}" for k, v in timings.items()),
        "",
    ]
    text = "\n".join(report)
    with open(os.path.join(out, "results.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    print("\n" + text)
    print(f"outputs in {out} (results.md, evaluation/, sample.mp4)")
    # The demo's corpus videos are mouth crops already: hence --cropped.
    app = os.path.join(os.path.dirname(py), "v2s-app")
    model = os.path.join(out, "model_init")
    print(
        f"serve it in a browser: {app} --model {model} --cropped  (http://127.0.0.1:7860)"
    )
    return summary


if __name__ == "__main__":
    main()
