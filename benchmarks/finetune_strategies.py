#!/usr/bin/env python3
"""The paper's table at toy scale: fine-tuning strategies on the synthetic corpus.

One command per model family writes that family's section of
``benchmarks/RESULTS.md`` (and its validation curves as a PNG beside it)::

    python benchmarks/finetune_strategies.py --family tiny_mel
    python benchmarks/finetune_strategies.py --family tiny_wave

What it runs, every step the real recipe or the user-facing tool:

1. the built-in corpora: audio-only (80 speakers x 50 utterances, seed 99:
   pre-training, ~10x the audio-visual hours), audio-visual (4 x 120, seed 99:
   fine-tuning; each run's per-speaker 90/5/5 train/valid/test split is drawn
   by its seed, so the *seen* test set holds the training speakers) and
   unseen audio-visual (2 x 10, seed ``UNSEEN_SEED``: new voices and faces,
   all of it a test set);
2. ``recipes/Synthetic/A2A`` once per family (shared by every seed and
   strategy), then ``recipes/Synthetic/V2A`` with ``--finetune_strategy``
   ``scratch`` and ``init`` for every seed (default 1 2 3) and
   ``freeze_decoder`` and ``joint`` for the first seed (``--every-seed``
   changes which strategies get every seed); equal optimizer steps for all;
3. each V2A run exported (``v2s-export``), loaded with
   ``VideoToSpeech.from_hparams`` and run on its seen test videos and on the
   unseen corpus, then scored by ``v2s-evaluate`` (PESQ, STOI, ESTOI and WER
   by the judge, ``--judge``); the real audio is scored as a system too
   (``ground truth``), and for the mel family its mel through the models'
   own mel-to-wave path (Griffin-Lim) as the ceiling row;
4. the table: per strategy and speaker group, the mean over seeds with its
   95 % Student-t interval (over seeds), the best validation mel L1, a row
   per run below, how often ``init`` beats ``scratch``; and the validation
   curves (ESTOI and mel L1 against optimizer steps, scratch vs init, a thin
   line per seed).

Budgets are optimizer steps (``--a2a-steps``, ``--v2a-steps``), turned into
whole epochs from the training-set sizes (the demo's ``epochs_for``: at least
the steps asked for). Runs go two at a time (``--jobs``), one thread each;
export, synthesis and scoring run in this process, one run at a time, while
the other lane trains. Finished runs, exports, generated audio and scores are
reused, so an interrupted benchmark continues where it stopped; the work
folder remembers its sizes and budgets and refuses others (use another
``--work``).

Wall time on a 2-core CPU, estimated (not yet measured end to end): 2 lanes
of 1 thread, corpora (~5 min, shared by both families in one work folder)
included. Per-step speeds: ``training_throughput.py``'s ``fit_batch`` at 1
thread, measured on 2026-12-03 beside two other trainings (V2A tiny_wave
4.8 s, A2A tiny_wave 6.0 s, V2A tiny_mel 1.0 s: ratios 4.6 and 5.8), scaled
to the tiny_mel V2A lane rate with validation measured on a quiet machine
(1,675 steps in 17 min, two runs side by side: notes/learning-budgets.md);
``freeze_decoder`` ~0.85x and ``joint`` ~1.7x a V2A run's training; export
+ synthesis + scoring ~1.5-2.5 min a run.

- ``--family tiny_mel`` (A2A 1,800 steps -> 4 epochs = 1,900; V2A 1,100 ->
  21 epochs = 1,134, as the demo): A2A ~7 min (a 2,250-step run of the same size took
  8.4 min beside another), a V2A run ~13 min (0.61 s/step), ``joint`` ~22:
  ~130 lane-minutes, **~70 min** wall.
- ``--family tiny_wave`` (A2A 475 steps = 1 epoch; V2A 162 steps = 3
  epochs): estimated ~70 min, **measured 45 min** (2026-12-03: A2A ~21 min
  on the critical path, a V2A run ~6 min with test and scoring). At these
  steps both models are still on the average-spectrogram plateau (RESULTS);
  about twice the V2A steps would fit the 90-minute allowance.

``--quick`` is a smoke test (tiny corpora, a few steps, 2 seeds, nothing
written to RESULTS.md).
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYN = os.path.join(ROOT, "recipes", "Synthetic")
for _path in (SYN, os.path.join(ROOT, "tests"), os.path.join(ROOT, "benchmarks")):
    if _path not in sys.path:
        sys.path.insert(0, _path)
from demo import (  # noqa: E402
    A2A_VALID_RATIO,
    BATCH_SIZE,
    SEEN_RATIOS,
    UNSEEN_SEED,
    epochs_for,
    reference_copies,
    steps_done,
    synthesise,
    vocoder_ceiling,
)
from recipe_runs import subprocess_env  # noqa: E402
from results_md import write_section  # noqa: E402
from strategies_report import (  # noqa: E402
    CORPUS_SEED,
    STRATEGIES,
    plot_curves,
    section,
)

from speechbrain_v2s.prepare import merge_split_manifests, split_counts  # noqa: E402
from speechbrain_v2s.training.logs import (  # noqa: E402
    read_train_log,
    validation_summary,
)

CURVE_STRATEGIES = ("scratch", "init")
GROUND_TRUTH = "ground truth"
# Defaults: the demo's full data; steps per family (tiny_wave's GAN steps are
# ~10x dearer on a CPU: sized so its table fits 90 minutes on 2 cores).
FULL = dict(audio=80, audio_utts=50, av=4, av_utts=120, unseen=2, unseen_utts=10)
QUICK = dict(audio=4, audio_utts=6, av=3, av_utts=6, unseen=1, unseen_utts=3)
STEPS = {"tiny_mel": (1800, 1100), "tiny_wave": (475, 162)}
QUICK_STEPS = (3, 2)
QUICK_SEEDS = [1, 2]


def parse_args(argv):
    """The command line, with the family's and ``--quick``'s defaults filled."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--family", choices=sorted(STEPS), required=True)
    parser.add_argument(
        "--work",
        help="work folder: corpora, runs, audio, scores (default "
        "results/strategies, with --quick results/strategies_quick)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", help="default 1 2 3")
    parser.add_argument(
        "--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES)
    )
    parser.add_argument(
        "--every-seed",
        nargs="+",
        choices=STRATEGIES,
        default=["scratch", "init"],
        help="strategies run with every seed; the others with the first seed",
    )
    parser.add_argument("--a2a-steps", type=int, help="default per family")
    parser.add_argument("--v2a-steps", type=int, help="default per family")
    for key, value in FULL.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, default=value)
    parser.add_argument(
        "--judge",
        default="synthetic",
        help="WER judge, as v2s-evaluate --asr takes it (synthetic: the judge "
        "shipped with the package; pocketsphinx:grid: real-speech HMMs)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument(
        "--figure",
        help="validation-curve PNG (default benchmarks/figures/strategies_"
        "<family>.png; with --no-write, in the work folder)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: tiny corpora, a few steps, seeds 1 2; implies --no-write",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the section, leave RESULTS.md"
    )
    args = parser.parse_args(argv)
    default_steps = STEPS[args.family]
    if args.quick:
        for key, value in QUICK.items():
            if getattr(args, key) == FULL[key]:
                setattr(args, key, value)
        default_steps = QUICK_STEPS
        args.seeds = args.seeds or QUICK_SEEDS
        args.no_write = True
    args.seeds = args.seeds or [1, 2, 3]
    args.work = args.work or "results/strategies" + ("_quick" if args.quick else "")
    args.a2a_steps = args.a2a_steps or default_steps[0]
    args.v2a_steps = args.v2a_steps or default_steps[1]
    return args


def command_line(argv):
    """The command as a reader reruns it (the arguments as given)."""
    return " ".join(["python benchmarks/finetune_strategies.py", *argv])


class Runner:
    """One family's recipes, exports and scores in the work folder.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed command line (:func:`parse_args`).
    """

    def __init__(self, args):
        self.args = args
        self.py = sys.executable
        self.work = os.path.abspath(args.work)
        self.fam = os.path.join(self.work, args.family)
        self.eval_root = os.path.join(
            self.fam, "eval_" + "".join(c if c.isalnum() else "_" for c in args.judge)
        )
        self.lock = threading.Lock()  # export, synthesis, scoring: one at a time
        self.status = {}  # run name -> (run folder, epochs), while it trains
        self.reused = []
        self.processes = set()
        self.start = time.time()

    # -- data -------------------------------------------------------------
    def corpus(self, name, speakers, utts, seed, extra=()):
        """Generate a synthetic corpus (unless there); returns its folder,
        named by its size and seed."""
        folder = os.path.join(self.work, f"corpus_{name}_{speakers}x{utts}_s{seed}")
        if not os.path.isfile(os.path.join(folder, "corpus.json")):
            self.call(
                [self.py, "-m", "speechbrain_v2s.synthetic", "--output", folder]
                + ["--speakers", speakers, "--utterances-per-speaker", utts]
                + ["--seed", seed, "--jobs", max(self.args.jobs, 1), "--no-progress"]
                + list(extra),
                ROOT,
            )
        return folder

    def prepare_data(self):
        """The three corpora and the unseen set's one manifest."""
        a = self.args
        self.audio = self.corpus("audio", a.audio, a.audio_utts, CORPUS_SEED)
        self.av = self.corpus("av", a.av, a.av_utts, CORPUS_SEED)
        unseen = self.corpus("av", a.unseen, a.unseen_utts, UNSEEN_SEED)
        self.rois = self.av + "_rois"
        sys.path.insert(0, os.path.join(ROOT, "recipes", "GRID", "V2A"))
        from grid_prepare import prepare_grid

        save = unseen + "_manifests"
        prepare_grid(unseen, save, progress=False)
        self.unseen = merge_split_manifests(
            save, os.path.join(save, "all.json"), prefix="unseen_"
        )

    def check_config(self):
        """Write the work folder's sizes and budgets, or refuse other ones."""
        a = self.args
        config = {k: getattr(a, k) for k in FULL}
        config.update(a2a_steps=a.a2a_steps, v2a_steps=a.v2a_steps, batch=BATCH_SIZE)
        path = os.path.join(self.fam, "config.json")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                old = json.load(handle)
            if old != config:
                sys.exit(
                    f"{path} holds runs of other sizes or budgets ({old}); "
                    "use another --work"
                )
        os.makedirs(self.fam, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(config, handle)

    # -- recipes ----------------------------------------------------------
    def call(self, cmd, cwd, log=None):
        """Run a step (its output to ``log`` when given); raise if it fails."""
        cmd = [str(c) for c in cmd]
        print("$", " ".join(cmd), f"> {log}" if log else "", flush=True)
        with open(log, "a", encoding="utf-8") if log else open(os.devnull) as out:
            process = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=subprocess_env(),
                stdout=out if log else None,
                stderr=subprocess.STDOUT if log else None,
            )
            self.processes.add(process)
            try:
                code = process.wait()
            finally:
                self.processes.discard(process)
        if code:
            raise RuntimeError(
                f"exit {code}: {' '.join(cmd)}" + (f" (see {log})" if log else "")
            )

    def stop(self):
        """Stop the recipes still running (after a failure or an interrupt)."""
        for process in list(self.processes):
            process.terminate()

    def train(self, name, cmd, cwd, run_dir, epochs):
        """Run a recipe unless ``run_dir`` holds ``done`` (then reuse it)."""
        if os.path.isfile(os.path.join(run_dir, "done")):
            self.reused.append(name)
            return
        self.status[name] = (run_dir, epochs)
        start = time.time()
        try:
            self.call(cmd, cwd, run_dir + ".log")
        finally:
            self.status.pop(name, None)
        with open(os.path.join(run_dir, "done"), "w", encoding="utf-8") as handle:
            handle.write(f"{time.time() - start:.0f} s\n")
        print(f"  {name} trained ({(time.time() - start) / 60:.1f} min)", flush=True)

    def a2a(self):
        """The family's A2A pre-training; returns its run folder."""
        a = self.args
        ratios = (1 - A2A_VALID_RATIO, A2A_VALID_RATIO)  # the recipe's split
        train_items = split_counts(a.audio * a.audio_utts, ratios)[0]
        self.a2a_epochs = epochs_for(a.a2a_steps, train_items)
        self.a2a_dir = os.path.join(self.fam, "a2a")
        cmd = [self.py, "train.py", f"hparams/{a.family}.yaml"]
        cmd += ["--data_folder", self.audio, "--output_folder", self.a2a_dir]
        cmd += ["--synth_speakers", a.audio, "--synth_utterances_per_speaker"]
        cmd += [a.audio_utts, "--valid_ratio", A2A_VALID_RATIO]
        cmd += ["--number_of_epochs", self.a2a_epochs, "--batch_size", BATCH_SIZE]
        self.train("a2a", cmd, os.path.join(SYN, "A2A"), self.a2a_dir, self.a2a_epochs)
        return self.a2a_dir

    def v2a_epochs(self):
        """Epochs that give every V2A run ``--v2a-steps`` steps."""
        a = self.args
        return epochs_for(a.v2a_steps, a.av * split_counts(a.av_utts, SEEN_RATIOS)[0])

    def v2a(self, strategy, seed, a2a_future):
        """Train one V2A run (after the A2A, unless ``scratch``), then score
        it; returns :meth:`score`'s result."""
        a = self.args
        name = f"v2a_{strategy}_seed{seed}"
        run_dir = os.path.join(self.fam, name)
        epochs = self.v2a_epochs()
        cmd = [self.py, "train.py", f"hparams/{a.family}.yaml", "--seed", seed]
        cmd += ["--data_folder", self.av, "--output_folder", run_dir]
        cmd += ["--number_of_epochs", epochs, "--batch_size", BATCH_SIZE]
        cmd += ["--finetune_strategy", strategy, "--split", "seen"]
        if strategy != "scratch":
            cmd += [
                "--pretrained_a2a",
                os.path.join(a2a_future.result(), "a2a_model.ckpt"),
            ]
        cmd += ["--roi_folder", self.rois, "--progress", "False"]
        cmd += ["--synth_speakers", a.av, "--num_speakers", a.av]
        cmd += ["--synth_utterances_per_speaker", a.av_utts]
        self.train(name, cmd, os.path.join(SYN, "V2A"), run_dir, epochs)
        with self.lock:
            return self.score(name, strategy, seed, run_dir)

    # -- export, synthesis, scoring -----------------------------------------
    def evaluate(self, manifest, out, systems):
        """``v2s-evaluate`` of ``systems`` (name -> generated folder) on
        ``manifest`` into ``out``, unless done; returns ``{name: summary}``."""
        from speechbrain_v2s.evaluation import main as evaluate

        path = os.path.join(out, "summary.json")
        if not os.path.isfile(path):
            argv = ["--manifest", manifest, "--out", out]
            for name, folder in systems.items():
                argv += ["--gen-dir", folder, "--system", name]
            argv += ["--asr", self.args.judge, "--jobs", "1", "--no-progress"]
            if evaluate(argv):
                raise RuntimeError(f"v2s-evaluate failed: {' '.join(argv)}")
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)["systems"]

    def references(self, group, manifest, model_dir, key):
        """Ground truth (and, for mel, the vocoder ceiling) on one test set,
        scored once per manifest (``key``)."""
        systems = {GROUND_TRUTH: reference_copies(manifest, self.fam, group)}
        if "mel" in self.args.family:
            folder, name = vocoder_ceiling(manifest, self.fam, group, model_dir)
            systems[name] = folder
        out = os.path.join(self.eval_root, "reference", key)
        return self.evaluate(manifest, out, systems)

    def score(self, name, strategy, seed, run_dir):
        """Export, synthesise and score one finished run (each step reused
        when done), with the reference rows of its test sets.

        Returns
        -------
        dict
            ``strategy``, ``seed``, ``steps``, ``valid`` (validation
            summary), ``seen``/``unseen`` (the run's ``v2s-evaluate``
            summary) and ``seen_reference``/``unseen_reference``
            (``{row name: summary}``).
        """
        from speechbrain_v2s.export import export_model

        model_dir = os.path.join(self.fam, "models", name)
        if not os.path.isfile(os.path.join(model_dir, "exported")):
            export_model(run_dir, model_dir, kind="v2a")
            open(os.path.join(model_dir, "exported"), "w").close()
        manifests = {
            "seen": os.path.join(run_dir, "save", "test.json"),
            "unseen": self.unseen,
        }
        result = {
            "strategy": strategy,
            "seed": seed,
            "steps": steps_done(run_dir),
            "valid": validation_summary(os.path.join(run_dir, "train_log.txt")),
        }
        for group, manifest in manifests.items():
            gen = synthesise(
                model_dir,
                manifest,
                os.path.join(self.fam, "generated", group, name),
                os.path.join(self.fam, "loaded", name),
            )
            out = os.path.join(self.eval_root, name, group)
            result[group] = self.evaluate(manifest, out, {strategy: gen})[strategy]
            # The seen test split follows the seed; the unseen set is one.
            key = f"seen_seed{seed}" if group == "seen" else "unseen"
            result[f"{group}_reference"] = self.references(
                group, manifest, model_dir, key
            )
        with open(os.path.join(self.eval_root, name, "result.json"), "w") as handle:
            json.dump(result, handle, indent=1)
        print(f"  {name} scored ({self.progress_head()})", flush=True)
        return result

    # -- the whole table ------------------------------------------------------
    def progress_head(self):
        """Minutes since the start."""
        return f"{(time.time() - self.start) / 60:.1f} min"

    def progress_line(self, done, total):
        """One status line: runs scored, epoch of every run training."""
        parts = []
        for name, (run_dir, epochs) in list(self.status.items()):
            rows = []
            log = os.path.join(run_dir, "train_log.txt")
            if os.path.isfile(log):
                rows = [r for r in read_train_log(log) if r.get("epoch", 0) >= 1]
            text = f"{name} epoch {rows[-1]['epoch'] if rows else 0}/{epochs}"
            if rows and "mel_l1" in rows[-1]["valid"]:
                text += f" (valid mel L1 {rows[-1]['valid']['mel_l1']:.2f})"
            parts.append(text)
        return f"  [{self.progress_head()}] {done}/{total} runs scored; training: " + (
            "; ".join(parts) or "-"
        )

    def jobs(self):
        """``(strategy, seed)`` of every V2A run, in the order they start."""
        a = self.args
        jobs = []
        for strategy in a.strategies:
            seeds = a.seeds if strategy in a.every_seed else a.seeds[:1]
            jobs += [(strategy, seed) for seed in seeds]
        # Scratch first: it needs no A2A and trains beside it; joint (the
        # dearest) next, so it does not finish last.
        order = {"scratch": 0, "joint": 1, "freeze_decoder": 2, "init": 3}
        return sorted(jobs, key=lambda j: (order[j[0]], j[1]))

    def run(self):
        """Every run, two at a time; returns ``{(strategy, seed): result}``."""
        self.check_config()
        self.prepare_data()
        jobs = self.jobs()
        results = {}
        pool = ThreadPoolExecutor(self.args.jobs)
        try:
            a2a_future = pool.submit(self.a2a)
            futures = {
                pool.submit(self.v2a, st, se, a2a_future): (st, se) for st, se in jobs
            }
            pending = set(futures) | {a2a_future}
            while pending:
                done, pending = wait(pending, timeout=60, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()  # a failed run stops the benchmark
                    if future in futures:
                        results[futures[future]] = result
                if pending:
                    print(self.progress_line(len(results), len(jobs)), flush=True)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            self.stop()
            raise
        pool.shutdown()
        self.a2a_valid = validation_summary(os.path.join(self.a2a_dir, "train_log.txt"))
        self.a2a_steps = steps_done(self.a2a_dir)
        with open(os.path.join(self.fam, "results.json"), "w") as handle:
            json.dump({f"{st} {se}": r for (st, se), r in results.items()}, handle)
        return results


def main(argv=None):
    """Run the benchmark for one family; write its section and figure."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    import torch

    torch.set_num_threads(1)  # synthesis and scoring beside the training lanes
    load_start = os.getloadavg()[0]
    start = time.time()
    runner = Runner(args)
    from speechbrain_v2s.evaluation.judges import make_transcriber
    from speechbrain_v2s.transcriber import TranscriberError

    try:  # fail now, not after an hour of training
        make_transcriber(args.judge)
    except TranscriberError as err:
        sys.exit(f"--judge {args.judge}: {err}")
    results = runner.run()
    if args.figure:
        figure = os.path.abspath(args.figure)
    elif args.no_write:
        figure = os.path.join(runner.fam, f"strategies_{args.family}.png")
    else:
        figure = os.path.join(
            ROOT, "benchmarks", "figures", f"strategies_{args.family}.png"
        )
    curves = {
        (st, se): os.path.join(runner.fam, f"v2a_{st}_seed{se}")
        for (st, se) in results
        if st in CURVE_STRATEGIES
    }
    if curves:
        plot_curves(
            curves,
            figure,
            f"{args.family}: validation during V2A fine-tuning (synthetic corpus)",
        )
        print(f"wrote {figure}")
    link = os.path.relpath(figure, os.path.join(ROOT, "benchmarks"))
    text = section(
        args,
        runner,
        results,
        command_line(argv),
        link,
        time.time() - start,
        load_start,
    )
    print("\n" + text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
