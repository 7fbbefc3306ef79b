#!/usr/bin/env python3
"""The paper's claim at toy scale: does A2A initialisation beat training from scratch?

For each family (tiny_wave, tiny_mel): pre-train A2A once on the audio-only
synthetic corpus (bigger than the audio-visual one, as in the paper), then
fine-tune V2A on the synthetic audio-visual corpus with ``scratch`` and
``init`` for several seeds, equal steps. Reports validation mel L1 and STOI of
the last epoch as mean ± std and writes them to ``benchmarks/RESULTS.md``.

    python benchmarks/finetune_strategies.py --seeds 1 2 3 --work /tmp/v2s_strategies
"""

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYN = os.path.join(ROOT, "recipes", "Synthetic")
sys.path.insert(0, os.path.join(ROOT, "tests"))
from recipe_runs import read_train_log  # noqa: E402
from results_md import write_section  # noqa: E402

SECTION = "## Fine-tuning strategies at toy scale (synthetic corpus)"


def run(cmd, cwd):
    print("$", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=cwd, check=True)


def last_valid(log):
    rows = [r for r in read_train_log(log) if r.get("epoch", 0) >= 1 and r["valid"]]
    return rows[-1]["valid"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="results/strategies")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--families", nargs="+", default=["tiny_wave", "tiny_mel"])
    parser.add_argument("--a2a-epochs", type=int, default=10)
    parser.add_argument("--v2a-epochs", type=int, default=8)
    parser.add_argument("--audio-speakers", type=int, default=12)
    parser.add_argument("--av-speakers", type=int, default=4)
    parser.add_argument("--utterances", type=int, default=25)
    parser.add_argument(
        "--splits", nargs="+", default=["seen"], help="seen and/or unseen speakers"
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    work = os.path.abspath(args.work)
    py = sys.executable
    audio = os.path.join(work, "corpus_audio")
    av = os.path.join(work, "corpus_av")
    for folder, speakers, extra in (
        (audio, args.audio_speakers, ["--audio-only"]),
        (av, args.av_speakers, []),
    ):
        if not os.path.isfile(os.path.join(folder, "corpus.json")):
            run(
                [py, "-m", "speechbrain_v2s.data.synthetic", "--output", folder]
                + ["--speakers", speakers, "--utterances-per-speaker"]
                + [args.utterances, "--seed", 99, "--no-progress"]
                + extra,
                ROOT,
            )
    results = {}
    for fam in args.families:
        a2a_out = os.path.join(work, f"a2a_{fam}")
        if not os.path.isfile(os.path.join(a2a_out, "a2a_decoder.ckpt")):
            run(
                [py, "train.py", f"hparams/{fam}.yaml", "--data_folder", audio]
                + ["--output_folder", a2a_out, "--number_of_epochs", args.a2a_epochs],
                os.path.join(SYN, "A2A"),
            )
        for split, strategy, seed in (
            (sp, st, se)
            for sp in args.splits
            for st in ("scratch", "init")
            for se in args.seeds
        ):
            suffix = "" if split == "seen" else f"_{split}"
            out = os.path.join(work, f"v2a_{fam}_{strategy}_{seed}{suffix}")
            if not os.path.isfile(os.path.join(out, "train_log.txt")):
                run(
                    [py, "train.py", f"hparams/{fam}.yaml", "--seed", seed]
                    + ["--data_folder", av, "--output_folder", out]
                    + ["--roi_folder", os.path.join(work, "rois")]
                    + ["--number_of_epochs", args.v2a_epochs]
                    + ["--finetune_strategy", strategy, "--split", split]
                    + [
                        "--pretrained_a2a",
                        os.path.join(a2a_out, "a2a_decoder.ckpt"),
                    ]
                    + ["--synth_speakers", args.av_speakers]
                    + ["--num_speakers", args.av_speakers]
                    + ["--synth_utterances_per_speaker", args.utterances],
                    os.path.join(SYN, "V2A"),
                )
            stats = last_valid(os.path.join(out, "train_log.txt"))
            results.setdefault((fam, split, strategy), []).append(stats)

    lines = [
        SECTION,
        "",
        f"Machine: {platform.node()} ({os.cpu_count()} cores), "
        f"{datetime.date.today().isoformat()}. Seeds {args.seeds}; A2A "
        f"{args.a2a_epochs} epochs on {args.audio_speakers}x{args.utterances} "
        f"audio-only utterances; V2A {args.v2a_epochs} epochs on "
        f"{args.av_speakers}x{args.utterances} audio-visual utterances.",
        "",
        "Speakers: `seen` = per-speaker utterance split (valid speakers were seen in "
        "training); `unseen` = speaker-disjoint split (valid and test speakers never "
        "seen; the speaker table gives them the neutral identity).",
        "",
        "| family | speakers | strategy | valid mel L1 ↓ | valid STOI ↑ |",
        "|---|---|---|---|---|",
    ]
    for (fam, split, strategy), rows in results.items():
        cells = []
        for key in ("mel_l1", "stoi"):
            values = [r[key] for r in rows if key in r]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.3f} ± {sd:.3f}")
        lines.append(f"| {fam} | {split} | {strategy} | {cells[0]} | {cells[1]} |")
    seeds = " ".join(map(str, args.seeds))
    lines += [
        "",
        f"Reproduce: `python benchmarks/finetune_strategies.py --seeds {seeds} "
        f"--families {' '.join(args.families)} --splits {' '.join(args.splits)}`",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
