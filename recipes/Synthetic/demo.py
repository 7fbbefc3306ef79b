#!/usr/bin/env python3
"""``make demo``: the project's main job, end to end, on the synthetic corpus.

1. generate the built-in corpora (audio-only for pre-training, audio-visual in
   GRID's layout for fine-tuning);
2. A2A pre-training of the tiny waveform model on the audio-only corpus;
3. V2A fine-tuning with the decoder initialised from step 2 (``init``);
4. the model exported (as ``v2s-export`` does), loaded back with
   ``VideoToSpeech.from_hparams`` and used on a test video: the generated
   speech is written next to its reference.

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


def synthesise_example(model_dir, v2a_dir, out):
    """Speech for the first test video, through the user-facing interface."""
    import shutil

    from speechbrain_v2s import metrics
    from speechbrain_v2s.audio.features import SAMPLE_RATE
    from speechbrain_v2s.audio.io import load_audio, write_audio
    from speechbrain_v2s.inference import VideoToSpeech

    with open(os.path.join(v2a_dir, "save", "test.json"), encoding="utf-8") as f:
        entry = next(iter(json.load(f).values()))
    v2s = VideoToSpeech.from_hparams(
        source=model_dir, savedir=os.path.join(out, "model_loaded")
    )
    wav = v2s.synthesize_file(entry["video"], already_cropped=True)
    generated = os.path.join(out, "example_generated.wav")
    write_audio(generated, wav, SAMPLE_RATE)
    shutil.copyfile(entry["wav"], os.path.join(out, "example_reference.wav"))
    shutil.copyfile(
        entry["video"], os.path.join(out, "example_video" + entry["video"][-4:])
    )
    ref = load_audio(entry["wav"], SAMPLE_RATE)
    print(f"  wrote {generated} ({wav.shape[0] / SAMPLE_RATE:.2f} s)")
    return {
        "video": entry["video"],
        "stoi": metrics.stoi(wav, ref),
        "estoi": metrics.estoi(wav, ref),
    }


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

    print("== 3. V2A fine-tuning from the A2A decoder", flush=True)
    v2a_dir = os.path.join(out, f"v2a_{arch}")
    run(
        [py, "train.py", f"hparams/{arch}.yaml", "--data_folder", av_corpus]
        + ["--output_folder", v2a_dir, "--number_of_epochs", v2a_epochs]
        + ["--pretrained_a2a", checkpoint, "--finetune_strategy", "init"]
        + ["--roi_folder", os.path.join(out, "rois")]
        + ["--synth_speakers", speakers, "--synth_utterances_per_speaker", utts],
        os.path.join(HERE, "V2A"),
    )

    print("== 4. export, load with from_hparams, synthesise a test video", flush=True)
    model_dir = os.path.join(out, "model")
    from speechbrain_v2s.export import export_model

    export_model(v2a_dir, model_dir, kind="v2a")
    print(f"  exported to {model_dir} (what v2s-export does)")
    example = synthesise_example(model_dir, v2a_dir, out)

    summary = {
        "a2a": last_stats(os.path.join(a2a_dir, "train_log.txt")),
        "v2a": last_stats(os.path.join(v2a_dir, "train_log.txt")),
        "example": example,
    }
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
    print("== summary")
    for stage, stats in summary.items():
        shown = ", ".join(
            f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in stats.items()
        )
        print(f"  {stage}: {shown}")
    print(f"outputs in {out}")
    return summary


if __name__ == "__main__":
    main()
