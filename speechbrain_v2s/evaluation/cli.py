"""The ``v2s-evaluate`` command line: pairs, scores, summarises and writes the
report for one or more systems (see :mod:`speechbrain_v2s.evaluation`).
"""

import argparse
import json
import logging
import math
import os
import sys
from pathlib import Path

from speechbrain_v2s.cli_common import HelpFormatter, add_version, check_device
from speechbrain_v2s.evaluation.ceiling import write_vocoder_ceiling
from speechbrain_v2s.evaluation.errors import EvaluationError
from speechbrain_v2s.evaluation.judges import make_speaker_model, make_transcriber
from speechbrain_v2s.evaluation.references import (
    attach_transcripts,
    find_pairs,
    load_transcripts,
    pairs_from_manifest,
    reference_files,
)
from speechbrain_v2s.evaluation.report import (
    SPEAKER_COLUMN,
    TABLE_COLUMNS,
    latex_table,
    markdown_table,
    plot_mels,
    write_csv,
)
from speechbrain_v2s.evaluation.scoring import evaluate_pairs
from speechbrain_v2s.evaluation.summary import summarise
from speechbrain_v2s.transcriber import TranscriberError

PROG = "v2s-evaluate"

logger = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    """The ``v2s-evaluate`` command line (built without running anything).

    Example
    -------
    >>> args = build_parser().parse_args(["--ref-dir", "r", "--gen-dir", "g"])
    >>> args.out, args.jobs, build_parser().parse_args(
    ...     ["--ref-dir", "r", "--gen-dir", "g", "--out", "old", "-j", "2"]
    ... ).out
    ('evaluation', 1, 'old')
    """
    p = _Parser(
        prog=PROG,
        description="Score generated speech against references: PESQ, STOI, "
        "ESTOI, MCD and WER, per utterance and as the paper's table.",
        formatter_class=HelpFormatter,
    )
    add_version(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--ref-dir", help="reference audio folder (a .json file: as --manifest)"
    )
    src.add_argument(
        "--manifest",
        help="SpeechBrain JSON manifest (e.g. a run's save/test.json); its 'wav' "
        "is the reference and its ids name the generated files",
    )
    p.add_argument(
        "--gen-dir",
        action="append",
        required=True,
        help="generated audio folder (repeat for several systems)",
    )
    p.add_argument(
        "--system",
        action="append",
        help="system name for each --gen-dir, in order (default: folder name)",
    )
    p.add_argument("--data-root", help="fills {data_root} in the manifest's paths")
    p.add_argument(
        "--asr",
        help="ASR for WER: pocketsphinx, pocketsphinx:grid (real GRID speech), "
        "synthetic (the synthetic corpus's judge shipped with the package), "
        "synthetic:<folder> (another export of recipes/Synthetic/ASR), "
        "whisper:<folder or Hub id> (transformers Whisper, e.g. "
        "openai/whisper-small; add :grid to snap to GRID sentences), or a "
        "SpeechBrain from_hparams source (default: no WER)",
    )
    p.add_argument(
        "--speaker-model",
        metavar="SOURCE",
        help="speaker-embedding model: a SpeechBrain EncoderClassifier "
        "from_hparams source (e.g. an ECAPA-TDNN folder) or wavlm:<folder or Hub "
        "id> (transformers WavLMForXVector, e.g. microsoft/wavlm-base-plus-sv): "
        "adds the cosine similarity of reference and generated speaker "
        "embeddings (default: none)",
    )
    p.add_argument(
        "--transcripts", help="JSON manifest with reference texts (text/wrd field)"
    )
    p.add_argument(
        "--vocoder-ceiling",
        metavar="MODEL",
        help="mel-family model folder or Hub id: adds the row 'ground truth (mel "
        "+ <vocoder>)', each reference's mel through that model's vocoder (or "
        "Griffin-Lim when it ships none), written to <output>/vocoder_ceiling/: the "
        "part of the gap to the ground truth that is the vocoder's",
    )
    p.add_argument(
        "-o",
        "--output",
        dest="out",
        metavar="OUTPUT",
        default="evaluation",
        help="results folder",
    )
    # The spelling before -o/--output, kept for old scripts (hidden from --help).
    p.add_argument("--out", dest="out", default="evaluation", help=argparse.SUPPRESS)
    p.add_argument(
        "--plots", type=int, default=0, help="mel plots for the first N pairs"
    )
    p.add_argument(
        "--device",
        help="device of the neural judges (--asr, --speaker-model) and the "
        "--vocoder-ceiling model: cpu, cuda, cuda:N (default: CUDA when "
        "available)",
    )
    p.add_argument("-j", "--jobs", type=int, default=1, help="worker processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _system_names(args):
    names = args.system or []
    if names and len(names) != len(args.gen_dir):
        raise EvaluationError(
            f"{len(names)} --system names for {len(args.gen_dir)} --gen-dir folders"
        )
    names = names or [Path(g).resolve().name or str(g) for g in args.gen_dir]
    if len(set(names)) != len(names):
        raise EvaluationError(f"system names must differ: {', '.join(names)}")
    return names


def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _safe_name(text):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text))


def run(args):
    """Run the evaluation for parsed ``args``; returns ``{system: summary}``.

    Writes ``per_utterance.csv`` and ``summary.json``/``.md``/``.tex`` to
    ``args.out`` (``-o/--output``) and prints the Markdown table.

    Example
    -------
    >>> import contextlib, io, os, tempfile, torch
    >>> from speechbrain_v2s.audio.io import write_audio
    >>> root = tempfile.mkdtemp()
    >>> t = torch.arange(12000) / 24000
    >>> wav = 0.3 * torch.sin(2 * 3.1416 * 220 * t)
    >>> for d in ("ref", "gen"):
    ...     write_audio(os.path.join(root, d, "u1.wav"), wav)
    >>> out = os.path.join(root, "results")
    >>> args = build_parser().parse_args(["--ref-dir", os.path.join(root, "ref"),
    ...     "--gen-dir", os.path.join(root, "gen"), "--system", "Copy",
    ...     "--out", out, "--no-progress"])
    >>> with contextlib.redirect_stdout(io.StringIO()) as table:
    ...     summaries = run(args)
    >>> s = summaries["Copy"]
    >>> s["utterances"], s["failed"], s["stoi"]["mean"] > 0.99
    (1, 0, True)
    >>> "| Copy |" in table.getvalue(), sorted(os.listdir(out))
    (True, ['per_utterance.csv', 'summary.json', 'summary.md', 'summary.tex'])
    >>> args.system = ["A", "B"]  # two names for one --gen-dir
    >>> run(args)
    Traceback (most recent call last):
    ...
    speechbrain_v2s.evaluation.EvaluationError: 2 --system names for 1 --gen-dir folders
    """
    names, gen_dirs = _system_names(args), list(args.gen_dir)
    if args.jobs < 1 or args.plots < 0:
        raise EvaluationError("--jobs must be >= 1 and --plots >= 0")
    device = _device(getattr(args, "device", None))
    if args.ref_dir and os.path.isfile(args.ref_dir):
        if not args.ref_dir.lower().endswith(".json"):
            raise EvaluationError(f"{args.ref_dir}: --ref-dir is a folder or a .json")
        args.manifest, args.ref_dir = args.ref_dir, None
    if getattr(args, "vocoder_ceiling", None):
        # The first row: the best any mel model with this vocoder can score.
        folder = os.path.join(args.out, "vocoder_ceiling")
        name = write_vocoder_ceiling(
            args.vocoder_ceiling,
            reference_files(args.manifest, args.ref_dir, args.data_root),
            folder,
            savedir=os.path.join(args.out, "vocoder_ceiling_model"),
            overwrite=True,  # never a previous run's model
            device=device,
        )
        if name in names:
            raise EvaluationError(f"system names must differ: {name!r} is taken")
        names, gen_dirs = [name] + names, [folder] + gen_dirs
    transcripts = load_transcripts(args.transcripts) if args.transcripts else None
    all_pairs = {}
    for name, gen_dir in zip(names, gen_dirs):
        if args.manifest:
            pairs = pairs_from_manifest(args.manifest, gen_dir, args.data_root)
        else:
            pairs = find_pairs(args.ref_dir, gen_dir)
        if not pairs:
            ref = args.manifest or args.ref_dir
            raise EvaluationError(f"no matching audio files in {ref} and {gen_dir}")
        if not any(pair["gen"] for pair in pairs):
            # Every row would be an error and the table all dashes.
            raise EvaluationError(
                f"{gen_dir}: no generated file for any of the {len(pairs)} entries "
                f"of {args.manifest} (they are looked up by the entries' ids)"
            )
        all_pairs[name] = pairs
    try:
        asr = make_transcriber(args.asr, device=device)
    except TranscriberError as err:
        raise EvaluationError(f"--asr {args.asr}: {err}") from err
    if asr is not None:
        for pairs in all_pairs.values():
            if attach_transcripts(pairs, transcripts) == 0:
                raise EvaluationError(
                    "--asr given but no reference texts found (use --transcripts, "
                    "a manifest 'text' field, or .txt/.align files)"
                )
    speaker_model = None
    if args.speaker_model:
        speaker_model = make_speaker_model(args.speaker_model, device=device)
    columns = TABLE_COLUMNS + ((SPEAKER_COLUMN,) if speaker_model else ())
    os.makedirs(args.out, exist_ok=True)
    summaries, all_rows = {}, []
    for name, pairs in all_pairs.items():
        rows = evaluate_pairs(
            pairs,
            asr,
            transcripts,
            jobs=args.jobs,
            progress=not args.no_progress,
            speaker_model=speaker_model,
        )
        for row in rows:
            row["system"] = name
        all_rows.extend(rows)
        summaries[name] = summarise(rows)
        if summaries[name]["failed"]:
            logger.warning(
                "%s: %d of %d pairs failed (see 'error' in per_utterance.csv)",
                name,
                summaries[name]["failed"],
                len(rows),
            )
        for row in [r for r in rows if not r["error"]][: args.plots]:
            target = Path(args.out, "plots", _safe_name(name), _safe_name(row["id"]))
            plot_mels(
                row["ref"], row["gen"], str(target) + ".png", f"{name}: {row['id']}"
            )
    write_csv(all_rows, os.path.join(args.out, "per_utterance.csv"))
    report = {
        "systems": summaries,
        "asr": repr(asr) if asr is not None else None,
        "speaker_model": args.speaker_model,
        "reference": args.manifest or args.ref_dir,
        "generated": dict(zip(names, gen_dirs)),
    }
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(_json_safe(report), f, indent=2, ensure_ascii=False)
    table = markdown_table(summaries, columns)
    with open(os.path.join(args.out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n\n" + next(iter(summaries.values()))["ci_method"] + "\n")
    with open(os.path.join(args.out, "summary.tex"), "w", encoding="utf-8") as f:
        f.write(latex_table(summaries, columns) + "\n")
    print(table)
    return summaries


def _device(text):
    """``--device``, checked before any model loads; None: CUDA when
    available."""
    if text is None:
        import torch

        return "cuda:0" if torch.cuda.is_available() else "cpu"
    try:
        return check_device(text)
    except ValueError as err:
        raise EvaluationError(str(err)) from None


def main(argv=None):
    """``v2s-evaluate`` entry point; returns the exit code (2 on bad input).

    Example
    -------
    >>> main(["--ref-dir", "/no/such/ref", "--gen-dir", "/no/such/gen"])
    2
    """
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except EvaluationError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    return 0
