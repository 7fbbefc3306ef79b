#!/usr/bin/env python3
"""``make demo``: the project's main job, end to end, on the synthetic corpus.

1. generate the built-in corpora: audio-only (for pre-training, the largest,
   as in the paper), audio-visual in GRID's layout (fine-tuning; its test split
   holds *seen* speakers) and a small audio-visual corpus of new voices and
   faces (*unseen* speakers, test only);
2. A2A pre-training of a tiny model on the audio-only corpus, and beside it
3. the WER judge: a tiny CTC recogniser trained on espeak-ng speech
   (``recipes/Synthetic/ASR``, its own corpus and held-out voices);
4. V2A fine-tuning twice, side by side, with equal steps and seed: from
   scratch, and with the temporal module and decoder initialised from step 2
   (``init``);
5. both models exported (as ``v2s-export`` does), loaded back with
   ``VideoToSpeech.from_hparams`` and run on every seen and unseen test video;
6. the paper's table (PESQ, STOI, ESTOI, WER) per speaker group with mel
   plots, in ``evaluation/``, and the validation curves' summary; for the mel
   family a ceiling row too: the real audio's mel through the models' vocoder;
7. ``sample.mp4``: a held-out video with its generated speech.

Everything is written to ``results.md`` and ``summary.json`` too. Re-running
reuses what is done: corpora, ROI caches, finished training runs (the recipes
resume from their checkpoints), exported models and generated audio.

Every step is the real recipe run as a user would run it; the numbers printed
at the end come from the recipes' own train logs and from ``v2s-evaluate``.

    python recipes/Synthetic/demo.py --output demo_out [--family wave] [--quick]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

from speechbrain_v2s.data.manifests import merge_split_manifests
from speechbrain_v2s.training.logs import read_train_log, validation_summary

HERE = os.path.dirname(os.path.abspath(__file__))
STRATEGIES = ("scratch", "init")
GROUPS = ("seen", "unseen")
UNSEEN_SEED = 4321  # another seed: other espeak voices and mouth appearances

# Sizes: (audio-only speakers, AV speakers, unseen AV speakers, utterances per
# speaker, unseen utterances per speaker, A2A epochs, V2A epochs, ASR epochs).
# The full size fits a 2-core CPU in about a quarter of an hour (mel family);
# the waveform family's GAN steps are ~10x dearer on a CPU.
SIZES = {
    "full": dict(audio=24, av=4, unseen=2, utts=25, unseen_utts=8, a2a=5, v2a=20),
    "quick": dict(audio=4, av=3, unseen=1, utts=6, unseen_utts=3, a2a=3, v2a=2),
}


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
    rows = [r for r in read_train_log(log) if r.get("epoch", 0) >= 1]
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


def asr_job(out, quick):
    """The WER judge: the tiny CTC recogniser of ``recipes/Synthetic/ASR``,
    trained on its own audio-only corpus (GRID sentences, espeak-ng voices).

    Returns ``(export folder, job for start_jobs or None when exported)``.
    The recipe's default size is what its README measured; ``quick`` shrinks
    the corpus and epochs (a test-sized judge: its WER is high).
    """
    asr_dir = os.path.join(out, "asr")
    model = os.path.join(asr_dir, "asr_model")
    if os.path.isfile(os.path.join(model, "hyperparams.yaml")):
        return model, None
    cmd = [sys.executable, "train.py", "hparams/tiny_ctc.yaml"]
    cmd += ["--output_folder", asr_dir]
    cmd += ["--data_folder", os.path.join(asr_dir, "corpus")]
    cmd += ["--unseen_folder", os.path.join(asr_dir, "corpus_unseen")]
    with open(os.path.join(HERE, "ASR", "hparams", "tiny_ctc.yaml")) as handle:
        epochs = int(re.search(r"^number_of_epochs: (\d+)", handle.read(), re.M)[1])
    if quick:
        cmd += ["--synth_speakers", "3", "--synth_utterances_per_speaker", "20"]
        cmd += ["--valid_ratio", "0.2", "--unseen_speakers", "1"]
        cmd += ["--unseen_utterances_per_speaker", "8"]
        epochs = 2
    cmd += ["--number_of_epochs", str(epochs)]
    return model, (cmd, os.path.join(HERE, "ASR"), asr_dir, epochs)


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
        "--v2a-epochs", type=int, help="fine-tuning epochs (default by size)"
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Run the demo; returns the summary dict it prints."""
    args = parse_args(argv)
    size_name = "quick" if args.quick else "full"
    size = dict(SIZES[size_name])
    if args.v2a_epochs:
        size["v2a"] = args.v2a_epochs
    out = os.path.abspath(args.output)
    os.makedirs(out, exist_ok=True)
    py = sys.executable
    arch = f"tiny_{args.family}"
    timings = {}
    demo_start = time.time()

    print("== 1. synthetic corpora", flush=True)
    corpora = {
        "audio": (size["audio"], size["utts"], ["--audio-only"]),
        "av": (size["av"], size["utts"], []),
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
                [py, "-m", "speechbrain_v2s.data.synthetic"]
                + ["--output", folders[name], "--speakers", str(speakers)]
                + ["--utterances-per-speaker", str(utts)]
                + extra,
                HERE,
                timings,
                "corpora",
            )

    print("== 2. A2A pre-training (audio only), beside the WER judge", flush=True)
    a2a_dir = os.path.join(out, f"a2a_{arch}")
    stage2 = {
        "A2A pre-training": (
            [py, "train.py", f"hparams/{arch}.yaml"]
            + ["--data_folder", folders["audio"], "--output_folder", a2a_dir]
            + ["--number_of_epochs", str(size["a2a"])],
            os.path.join(HERE, "A2A"),
            a2a_dir,
            size["a2a"],
        )
    }
    # 3. the WER judge: a tiny ASR trained on synthetic speech (if not there);
    # it goes on beside the fine-tuning and is waited for before evaluation.
    asr_model, asr = asr_job(out, args.quick)
    if asr is not None:
        stage2["ASR judge training"] = asr
    running = start_jobs(stage2)
    wait_jobs(running, ["A2A pre-training"], timings, "A2A pre-training")
    checkpoint = os.path.join(a2a_dir, "a2a_decoder.ckpt")

    print("== 4. V2A fine-tuning: scratch vs init from A2A (equal steps)", flush=True)
    runs = {s: os.path.join(out, f"v2a_{arch}_{s}") for s in STRATEGIES}
    jobs = {
        f"V2A {strategy}": (
            [py, "train.py", f"hparams/{arch}.yaml"]
            + ["--data_folder", folders["av"], "--output_folder", run_dir]
            + ["--number_of_epochs", str(size["v2a"])]
            + ["--pretrained_a2a", checkpoint, "--finetune_strategy", strategy]
            + ["--roi_folder", os.path.join(out, "rois")]
            + ["--synth_speakers", str(size["av"]), "--num_speakers", str(size["av"])]
            + ["--synth_utterances_per_speaker", str(size["utts"])],
            os.path.join(HERE, "V2A"),
            run_dir,
            size["v2a"],
        )
        for strategy, run_dir in runs.items()
    }
    running.update(start_jobs(jobs))
    wait_jobs(
        running, list(jobs), timings, "V2A fine-tuning (scratch + init, side by side)"
    )
    if running:  # the judge, if still training
        wait_jobs(running, list(running), timings, "rest of the ASR judge training")

    print("== 5. export, load with from_hparams, synthesise the test videos")
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

    print("== 6. evaluation (PESQ, STOI, ESTOI, WER by the judge ASR)", flush=True)
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
            + ["--asr", f"synthetic:{asr_model}", "--plots", "3", "--jobs", "1"]
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
    summary = {
        "family": arch,
        "size": size,
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
        f"Fine-tuning: {size['v2a']} epochs each on {size['av']} speakers x "
        f"{size['utts']} utterances; A2A pre-training: {size['a2a']} epochs on "
        f"{size['audio']} x {size['utts']} audio-only utterances.",
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
    return summary


if __name__ == "__main__":
    main()
