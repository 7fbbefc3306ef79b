#!/usr/bin/env python3
"""The paper's claim at toy scale: does A2A initialisation beat training from scratch?

For each family (tiny_mel, tiny_wave): pre-train A2A once on the audio-only
synthetic corpus (bigger than the audio-visual one, as in the paper), then
fine-tune V2A on the synthetic audio-visual corpus with ``scratch`` and
``init`` for several seeds, equal steps (same epochs, batch and data).

Reported per run, then as mean ± std over seeds:

- validation (seen speakers: per-speaker utterance split): best mel L1 over
  the epochs (the checkpoint a recipe exports) and the mean mel L1 / STOI /
  ESTOI of the last 5 epochs (single epochs are noisy at this size);
- test on seen speakers (the recipe's test split, best checkpoint);
- test on unseen speakers: a second audio-visual corpus with other voices and
  faces (another seed), scored by the same recipe with ``--test_json``; they
  are not in the speaker table, so they get the neutral identity.

Runs go two at a time (one thread each) on a 2-core machine; finished runs are
reused, so an interrupted benchmark continues where it stopped.

    python benchmarks/finetune_strategies.py --seeds 1 2 3 --work /tmp/v2s_strategies
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from speechbrain_v2s.data.manifests import merge_split_manifests
from speechbrain_v2s.training.logs import last_test_stats, validation_summary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYN = os.path.join(ROOT, "recipes", "Synthetic")
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from recipe_runs import subprocess_env  # noqa: E402
from results_md import machine_line, write_section  # noqa: E402

SECTION = "## Fine-tuning strategies at toy scale (synthetic corpus, {families})"
STRATEGIES = ("scratch", "init")
UNSEEN_SEED = 4321
LAST = 5


def run(cmd, cwd, log=None):
    """Run one step; its output goes to ``log`` (a file) when given."""
    print("$", " ".join(map(str, cmd)), flush=True)
    with open(log, "a") if log else open(os.devnull, "w") as out:
        subprocess.run(
            [str(c) for c in cmd],
            cwd=cwd,
            check=True,
            env=subprocess_env(),
            stdout=out if log else None,
            stderr=subprocess.STDOUT if log else None,
        )


def valid_summary(log, last=LAST):
    """Best validation mel L1 and last-``last``-epoch means of a train log."""
    summary = validation_summary(log, last=last)
    out = {"best mel_l1": summary["mel_l1_best"]}
    for key in ("mel_l1", "stoi", "estoi"):
        out[f"last {key}"] = summary[f"{key}_last"]
    return out


def unseen_manifest(corpus, work):
    """All utterances of the unseen-speaker corpus, speakers renamed so that no
    id collides with a training speaker (``s1`` of another corpus is another
    person)."""
    sys.path.insert(0, os.path.join(ROOT, "recipes", "GRID", "V2A"))
    from grid_prepare import prepare_grid

    save = os.path.join(work, "unseen_manifests")
    prepare_grid(corpus, save, progress=False)
    return merge_split_manifests(
        save, os.path.join(save, "unseen.json"), prefix="unseen_"
    )


def mean_sd(values):
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="results/strategies")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--families", nargs="+", default=["tiny_mel"])
    parser.add_argument("--a2a-epochs", type=int, default=5)
    parser.add_argument("--v2a-epochs", type=int, default=30)
    parser.add_argument(
        "--lr-final-scale",
        type=float,
        default=1.0,
        help="V2A learning rate falls linearly to lr x this by the last epoch "
        "(the recipe's lr_final_scale; 1.0: constant); other values are "
        "written as their own RESULTS.md section",
    )
    parser.add_argument("--audio-speakers", type=int, default=24)
    parser.add_argument("--av-speakers", type=int, default=4)
    parser.add_argument("--unseen-speakers", type=int, default=2)
    parser.add_argument("--utterances", type=int, default=25)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument("--no-write", action="store_true")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    py = sys.executable
    corpora = {
        "corpus_audio": (args.audio_speakers, args.utterances, 99, ["--audio-only"]),
        "corpus_av": (args.av_speakers, args.utterances, 99, []),
        "corpus_av_unseen": (args.unseen_speakers, 10, UNSEEN_SEED, []),
    }
    for name, (speakers, utts, seed, extra) in corpora.items():
        folder = os.path.join(work, name)
        if not os.path.isfile(os.path.join(folder, "corpus.json")):
            run(
                [py, "-m", "speechbrain_v2s.data.synthetic", "--output", folder]
                + ["--speakers", speakers, "--utterances-per-speaker", utts]
                + ["--seed", seed, "--no-progress"]
                + extra,
                ROOT,
            )
    unseen = unseen_manifest(os.path.join(work, "corpus_av_unseen"), work)

    def v2a(fam, strategy, seed):
        out = os.path.join(work, f"v2a_{fam}_{strategy}_{seed}")
        common = [py, "train.py", f"hparams/{fam}.yaml", "--seed", seed]
        common += ["--data_folder", os.path.join(work, "corpus_av")]
        common += ["--number_of_epochs", args.v2a_epochs]
        common += ["--finetune_strategy", strategy, "--split", "seen"]
        common += [
            "--pretrained_a2a",
            os.path.join(work, f"a2a_{fam}", "a2a_decoder.ckpt"),
        ]
        common += ["--synth_speakers", args.av_speakers]
        common += ["--lr_final_scale", args.lr_final_scale]
        common += ["--num_speakers", args.av_speakers]
        common += ["--synth_utterances_per_speaker", args.utterances]
        cwd = os.path.join(SYN, "V2A")
        if not os.path.isfile(os.path.join(out, "done")):
            run(
                common
                + ["--output_folder", out, "--roi_folder", os.path.join(work, "rois")],
                cwd,
                os.path.join(work, f"v2a_{fam}_{strategy}_{seed}.log"),
            )
            open(os.path.join(out, "done"), "w").close()
        # Unseen speakers: the same recipe on the trained checkpoint, with the
        # other corpus as its test set (own ROI cache: utterance names repeat).
        eval_out = out + "_unseen_test"
        if not os.path.isfile(os.path.join(eval_out, "done")):
            run(
                common
                + ["--output_folder", eval_out, "--save_folder", f"{out}/save"]
                + ["--test_json", unseen, "--baseline_validation", "False"]
                + ["--roi_folder", os.path.join(work, "rois_unseen")],
                cwd,
                os.path.join(work, f"v2a_{fam}_{strategy}_{seed}_unseen.log"),
            )
            open(os.path.join(eval_out, "done"), "w").close()
        log = os.path.join(out, "train_log.txt")
        return {
            **valid_summary(log),
            **{f"seen {k}": v for k, v in last_test_stats(log).items()},
            **{
                f"unseen {k}": v
                for k, v in last_test_stats(
                    os.path.join(eval_out, "train_log.txt")
                ).items()
            },
        }

    results = {}
    for fam in args.families:
        a2a_out = os.path.join(work, f"a2a_{fam}")
        if not os.path.isfile(os.path.join(a2a_out, "done")):
            run(
                [py, "train.py", f"hparams/{fam}.yaml"]
                + ["--data_folder", os.path.join(work, "corpus_audio")]
                + ["--output_folder", a2a_out, "--number_of_epochs", args.a2a_epochs],
                os.path.join(SYN, "A2A"),
                os.path.join(work, f"a2a_{fam}.log"),
            )
            open(os.path.join(a2a_out, "done"), "w").close()
        jobs = [(fam, st, se) for se in args.seeds for st in STRATEGIES]
        with ThreadPoolExecutor(args.jobs) as pool:
            for job, stats in zip(jobs, pool.map(lambda j: v2a(*j), jobs)):
                results[job] = stats
                print(job, json.dumps(stats), flush=True)
    with open(os.path.join(work, "results.json"), "w", encoding="utf-8") as handle:
        json.dump({" ".join(map(str, k)): v for k, v in results.items()}, handle)

    columns = [
        ("best mel_l1", "valid mel L1, best ↓"),
        ("last mel_l1", "valid mel L1, last 5 ↓"),
        ("last stoi", "valid STOI, last 5 ↑"),
        ("last estoi", "valid ESTOI, last 5 ↑"),
        ("seen mel_l1", "test seen mel L1 ↓"),
        ("seen stoi", "test seen STOI ↑"),
        ("unseen mel_l1", "test unseen mel L1 ↓"),
        ("unseen stoi", "test unseen STOI ↑"),
    ]
    schedule = ""
    if args.lr_final_scale != 1.0:
        schedule = f" --lr-final-scale {args.lr_final_scale:g}"
    lines = [
        SECTION.format(families=", ".join(args.families))
        + (f", lr decayed to x{args.lr_final_scale:g}" if schedule else ""),
        "",
        machine_line(extra=f"{args.jobs} runs at a time, 1 thread each"),
        f"- Seeds {args.seeds}. A2A: {args.a2a_epochs} epochs on "
        f"{args.audio_speakers} x {args.utterances} audio-only utterances. V2A: "
        f"{args.v2a_epochs} epochs (equal steps for both strategies) on "
        f"{args.av_speakers} x {args.utterances} audio-visual utterances "
        "(per-speaker 90/5/5 split: validation and seen test hold the training "
        f"speakers); unseen test: {args.unseen_speakers} x 10 utterances of other "
        "voices and faces (neutral speaker identity).",
        "- `init` loads the A2A temporal module and decoder (cross-modal batch "
        "norm: the audio statistics seed the video set); `scratch` starts from "
        "random weights."
        + (
            " Mel-family STOI/ESTOI are computed on Griffin-Lim waveforms of the "
            "predicted mel (no vocoder at this size), so they stay near the floor "
            "of unrelated signals (~0.4 / ~0); mel L1 is the training objective."
            if any("mel" in fam for fam in args.families)
            else " Waveform family: mel L1 is that of the generated waveform's "
            "mel spectrogram against the target's (one of the generator's "
            "losses, beside the adversarial ones)."
        ),
        "",
        "| family | strategy | " + " | ".join(c[1] for c in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for fam in args.families:
        for strategy in STRATEGIES:
            rows = [v for (f, s, _), v in results.items() if (f, s) == (fam, strategy)]
            cells = [mean_sd([r[key] for r in rows]) for key, _ in columns]
            lines.append(f"| {fam} | {strategy} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Per run (seed: valid mel L1 best / last 5, valid ESTOI last 5, test unseen "
        "mel L1):",
        "",
        "| family | seed | scratch | init |",
        "|---|---|---|---|",
    ]
    for fam in args.families:
        for seed in args.seeds:
            cells = []
            for strategy in STRATEGIES:
                r = results[(fam, strategy, seed)]
                cells.append(
                    f"{r['best mel_l1']:.3f} / {r['last mel_l1']:.3f}, "
                    f"{r['last estoi']:.3f}, {r['unseen mel_l1']:.3f}"
                )
            lines.append(f"| {fam} | {seed} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Reproduce: `python benchmarks/finetune_strategies.py --seeds "
        f"{' '.join(map(str, args.seeds))} --families {' '.join(args.families)} "
        f"--a2a-epochs {args.a2a_epochs} --v2a-epochs {args.v2a_epochs} "
        f"--audio-speakers {args.audio_speakers}{schedule}` (per-run numbers in "
        "`<work>/results.json`).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
