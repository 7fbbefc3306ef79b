#!/usr/bin/env python3
"""``make demo``: the project's main job, end to end, on the synthetic corpus.

1. generate the built-in corpora (audio-only for pre-training, audio-visual in
   GRID's layout for fine-tuning);
2. A2A pre-training of the tiny waveform model on the audio-only corpus;
3. V2A fine-tuning twice with equal steps: from scratch, and with the decoder
   initialised from step 2 (``init``);
4. both models exported (as ``v2s-export`` does), loaded back with
   ``VideoToSpeech.from_hparams`` and run on every test video;
   ``sample.mp4`` is a held-out video with its generated speech;
5. the paper's table (PESQ, STOI, ESTOI, WER by the offline ASR) with mel
   plots, in ``evaluation/``.

Re-running reuses what is done: corpora, ROI caches and finished training runs
(the recipes resume from their checkpoints).

Every step is the real recipe run as a user would run it; the numbers printed
at the end come from the recipes' own train logs.

    python recipes/Synthetic/demo.py --output demo_out [--family mel] [--quick]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, cwd):
    """Run a recipe step, echoing the command; stop the demo if it fails."""
    print("$", " ".join(cmd), flush=True)
    start = time.time()
    result = subprocess.run(cmd, cwd=cwd)
    if result.returncode != 0:
        sys.exit(f"demo: step failed (exit {result.returncode}): {' '.join(cmd)}")
    print(f"  ({time.time() - start:.0f} s)", flush=True)


def last_stats(log_path):
    """The last line of a SpeechBrain train log, as a dict of floats."""
    with open(log_path, encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip()]
    stats = {}
    for key, value in re.findall(r"([\w ]+?): ([-\d.e+]+)", lines[-1]):
        stats[key.strip()] = float(value)
    return stats


def last_epoch_valid(log_path):
    """Validation stats of the last training epoch in a train log."""
    with open(log_path, encoding="utf-8") as handle:
        lines = [line for line in handle if line.startswith("epoch:")]
    pairs = re.findall(r"valid (\w+): ([-\d.e+]+)", lines[-1])
    return {key: float(value) for key, value in pairs}


def synthesise_test_set(model_dir, run_dir, out, name):
    """Speech for every test video, through the user-facing interface."""
    from speechbrain_v2s.audio.features import SAMPLE_RATE
    from speechbrain_v2s.audio.io import write_audio
    from speechbrain_v2s.inference import VideoToSpeech

    v2s = VideoToSpeech.from_hparams(
        source=model_dir, savedir=os.path.join(out, "loaded", name)
    )
    gen_dir = os.path.join(out, "generated", name)
    os.makedirs(gen_dir, exist_ok=True)
    with open(os.path.join(run_dir, "save", "test.json"), encoding="utf-8") as f:
        entries = json.load(f)
    for key, entry in entries.items():
        wav = v2s.synthesize_file(entry["video"], already_cropped=True)
        write_audio(os.path.join(gen_dir, f"{key}.wav"), wav, SAMPLE_RATE)
    print(f"  {len(entries)} test videos synthesised into {gen_dir}")
    return gen_dir


def mux_sample(run_dir, gen_dir, out):
    """``sample.mp4``: a held-out video with the generated speech as its audio."""
    from speechbrain_v2s.audio.io import load_audio
    from speechbrain_v2s.video.io import mux_audio

    with open(os.path.join(run_dir, "save", "test.json"), encoding="utf-8") as f:
        key, entry = next(iter(json.load(f).items()))
    wav = load_audio(os.path.join(gen_dir, f"{key}.wav"), 24000)
    path = os.path.join(out, "sample.mp4")
    mux_audio(entry["video"], wav.numpy(), 24000, path)
    print(f"  wrote {path} ({entry['video']} with its generated speech)")
    return path


def main(argv=None):
    """Run the demo; returns the summary dict it prints."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="demo_out", help="output folder")
    parser.add_argument("--family", choices=("wave", "mel"), default="wave")
    parser.add_argument(
        "--quick", action="store_true", help="a smaller corpus and fewer epochs"
    )
    args = parser.parse_args(argv)
    out = os.path.abspath(args.output)
    os.makedirs(out, exist_ok=True)
    py = sys.executable
    arch = f"tiny_{args.family}"
    a2a_epochs, v2a_epochs = ("2", "2") if args.quick else ("8", "10")
    speakers, utts = ("3", "6") if args.quick else ("8", "25")

    print("== 1. synthetic corpora", flush=True)
    audio_corpus = os.path.join(out, "corpus_audio")
    av_corpus = os.path.join(out, "corpus_av")
    for folder, extra in ((audio_corpus, ["--audio-only"]), (av_corpus, [])):
        if not os.path.isfile(os.path.join(folder, "corpus.json")):
            run(
                [py, "-m", "speechbrain_v2s.data.synthetic", "--output", folder]
                + ["--speakers", speakers, "--utterances-per-speaker", utts]
                + extra,
                HERE,
            )

    print("== 2. A2A pre-training (audio only)", flush=True)
    a2a_dir = os.path.join(out, f"a2a_{arch}")
    run(
        [py, "train.py", f"hparams/{arch}.yaml", "--data_folder", audio_corpus]
        + ["--output_folder", a2a_dir, "--number_of_epochs", a2a_epochs],
        os.path.join(HERE, "A2A"),
    )
    checkpoint = os.path.join(a2a_dir, "a2a_decoder.ckpt")

    print("== 3. V2A fine-tuning: scratch vs init from the A2A decoder", flush=True)
    runs = {}
    for strategy in ("scratch", "init"):
        runs[strategy] = os.path.join(out, f"v2a_{arch}_{strategy}")
        run(
            [py, "train.py", f"hparams/{arch}.yaml", "--data_folder", av_corpus]
            + ["--output_folder", runs[strategy], "--number_of_epochs", v2a_epochs]
            + ["--pretrained_a2a", checkpoint, "--finetune_strategy", strategy]
            + ["--roi_folder", os.path.join(out, "rois")]
            + ["--synth_speakers", speakers, "--num_speakers", speakers]
            + ["--synth_utterances_per_speaker", utts],
            os.path.join(HERE, "V2A"),
        )

    print("== 4. export, load with from_hparams, synthesise the test set", flush=True)
    from speechbrain_v2s.export import export_model

    generated = {}
    for strategy, run_dir in runs.items():
        model_dir = os.path.join(out, f"model_{strategy}")
        export_model(run_dir, model_dir, kind="v2a")
        print(f"  exported {strategy} to {model_dir} (what v2s-export does)")
        generated[strategy] = synthesise_test_set(model_dir, run_dir, out, strategy)
    sample = mux_sample(runs["init"], generated["init"], out)

    print("== 5. evaluation (PESQ, STOI, ESTOI, WER with the offline ASR)", flush=True)
    from speechbrain_v2s.evaluation import main as evaluate

    manifest = os.path.join(runs["init"], "save", "test.json")
    code = evaluate(
        ["--manifest", manifest, "--out", os.path.join(out, "evaluation")]
        + ["--gen-dir", generated["scratch"], "--gen-dir", generated["init"]]
        + ["--system", "scratch", "--system", "init"]
        + ["--asr", "pocketsphinx:grid", "--plots", "3", "--jobs", "1"]
    )
    if code:
        sys.exit(f"demo: evaluation failed (exit {code})")
    with open(os.path.join(out, "evaluation", "summary.md"), encoding="utf-8") as f:
        table = f.read()
    summary = {
        "a2a": last_stats(os.path.join(a2a_dir, "train_log.txt")),
        **{
            f"v2a_{k}_valid": last_epoch_valid(os.path.join(v, "train_log.txt"))
            for k, v in runs.items()
        },
        "sample": sample,
    }
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
    print("== summary")
    for stage, stats in summary.items():
        if isinstance(stats, dict):
            stats = ", ".join(f"{k} {v:.3g}" for k, v in stats.items())
        print(f"  {stage}: {stats}")
    print("\nTest set (scratch vs init from A2A):\n")
    print(table)
    print(f"outputs in {out}")
    return summary


if __name__ == "__main__":
    main()
