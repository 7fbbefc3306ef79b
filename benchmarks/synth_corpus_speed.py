"""Speed of the synthetic corpus generator (``v2s-synth-corpus``).

Generates the same audio-visual corpus (GRID layout: espeak-ng speech, 24 kHz
wav, align file, rendered 88x88 mouth video written as MPEG-1, sidecar JSON)
with 1 and with 2 worker processes and reports utterances per second of the
whole call (the 2-job figure includes starting the workers), checks that both
runs wrote identical files, and times the audio-only corpus too.

Usage::

    python benchmarks/synth_corpus_speed.py [--speakers 4] [--utterances 50]
        [--no-write]

Writes the section "## Synthetic corpus generation" of benchmarks/RESULTS.md
(replacing an older one, keeping the other sections).
"""

import argparse
import datetime
import filecmp
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import cv2

from speechbrain_v2s.synthetic import generate_corpus
from speechbrain_v2s.synthetic.espeak import Espeak

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_md import write_section  # noqa: E402

SECTION = "## Synthetic corpus generation"
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def timed(output, speakers, utterances, jobs, audio_only=False):
    """(seconds, summary) of one generation into a fresh ``output``."""
    shutil.rmtree(output, ignore_errors=True)
    start = time.perf_counter()
    summary = generate_corpus(
        output,
        speakers=speakers,
        utterances_per_speaker=utterances,
        seed=1234,
        audio_only=audio_only,
        jobs=jobs,
        progress=False,
    )
    return time.perf_counter() - start, summary


def same_tree(left, right):
    """Whether two folders hold the same files with the same bytes."""
    compare = filecmp.dircmp(left, right)
    if compare.left_only or compare.right_only or compare.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(
        left, right, compare.common_files, shallow=False
    )
    if mismatch or errors:
        return False
    return all(
        same_tree(os.path.join(left, d), os.path.join(right, d))
        for d in compare.common_dirs
    )


def machine():
    """One line describing this machine."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cores} CPU cores ({cpu}), Python {platform.python_version()}, "
        f"OpenCV {cv2.__version__}, espeak-ng {Espeak().version}; "
        f"1-min load average {load:.2f} at start"
    )


def commit():
    """Short git commit of the working tree, if any."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=os.path.dirname(RESULTS),
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None):
    """Run the benchmark and print (and by default record) the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", type=int, default=4)
    parser.add_argument("--utterances", type=int, default=50, help="per speaker")
    parser.add_argument("--no-write", action="store_true", help="only print")
    args = parser.parse_args(argv)
    about = machine()
    root = tempfile.mkdtemp(prefix="synth_bench_")
    try:
        count = args.speakers * args.utterances
        # Warm-up: imports, first library load and codec initialisation.
        timed(os.path.join(root, "warm"), 1, 2, 1)
        rows = []
        for jobs in (1, 2):
            seconds, summary = timed(
                os.path.join(root, f"av{jobs}"), args.speakers, args.utterances, jobs
            )
            rows.append(("audio-visual", jobs, seconds, summary))
        identical = same_tree(os.path.join(root, "av1"), os.path.join(root, "av2"))
        seconds, summary = timed(
            os.path.join(root, "audio"), args.speakers, args.utterances, 2, True
        )
        rows.append(("audio-only", 2, seconds, summary))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    lines = [
        SECTION,
        "",
        f"- Date: {datetime.date.today().isoformat()}; commit {commit()}; command: "
        f"`python benchmarks/synth_corpus_speed.py --speakers {args.speakers} "
        f"--utterances {args.utterances}`",
        f"- Machine: {about}, {os.getloadavg()[0]:.2f} at the end. Shared with "
        "other jobs (a busy second core makes the 2-job runs slower than 1 job; "
        "on an idle machine an earlier run measured 30.7 (1 job) and 36.9 (2 jobs) "
        "AV utterances/s), so speeds vary.",
        f"- Corpus: {args.speakers} speakers x {args.utterances} utterances "
        f"({count} GRID sentences, {rows[0][3]['seconds'] / count:.2f} s of "
        "speech+video each on average), seed 1234. Audio-visual: espeak-ng "
        "synthesis, resampling to 24 kHz, wav, GRID align file, viseme track, "
        "88x88 mouth frames rendered and written as MPEG-1 `.mpg`, sidecar JSON. "
        "Audio-only: wav + txt + JSON.",
        "- Times are whole `generate_corpus` calls after a warm-up run; the 2-job "
        "runs include starting the worker processes (spawn, imports: about 2 s).",
        f"- jobs=1 and jobs=2 wrote byte-identical corpora: "
        f"{'yes' if identical else 'NO'}.",
        "",
        "| corpus | jobs | utterances | seconds | utterances/s | audio x real time |",
        "|---|---|---|---|---|---|",
    ]
    for kind, jobs, seconds, summary in rows:
        lines.append(
            f"| {kind} | {jobs} | {summary['utterances']} | {seconds:.1f} | "
            f"{summary['utterances'] / seconds:.1f} | "
            f"{summary['seconds'] / seconds:.0f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section(text, SECTION, RESULTS)
    return rows


if __name__ == "__main__":
    main()
