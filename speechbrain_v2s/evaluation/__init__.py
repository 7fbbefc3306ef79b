"""Objective evaluation of generated speech, as reported by Kefalas et al. (2024).

Every generated file is compared with its reference: PESQ (wide-band), STOI,
ESTOI and MCD (:mod:`speechbrain_v2s.metrics`); with an ASR model
(:mod:`speechbrain_v2s.asr`), the transcript of the generated speech against
the reference text for WER; with a speaker-embedding model (any SpeechBrain
``EncoderClassifier.from_hparams`` source, e.g. an ECAPA-TDNN folder), the
cosine similarity of the reference's and the generation's embeddings. The
results are one row per utterance and one summary per system, written as CSV,
JSON, a Markdown table and a LaTeX table in the paper's layout (rows =
systems; PESQ, STOI, ESTOI, MCD and WER with 95 % confidence intervals, and
speaker similarity when asked for), plus reference-vs-generated mel plots.

From a trained run to its scores, the recipe's test manifest names both
sides: ``v2s-synthesize --model M results/run/save/test.json -o gen/`` writes
``gen/<id>.wav``, and ``v2s-evaluate --manifest results/run/save/test.json
--gen-dir gen/`` pairs each entry with its ``wav``.

Length rule: the generated waveform is cut or zero-padded at its end to the
reference's length (:func:`speechbrain_v2s.metrics.align_lengths`); both
lengths are recorded in every row and mismatches are counted in the summary.

Confidence intervals: 95 % two-sided, Student-t over utterances for the mean
of PESQ, STOI, ESTOI, MCD and speaker similarity; percentile bootstrap over
utterances (1000 resamples, fixed seed) for the corpus-level WER.

    v2s-evaluate --ref-dir data/test_wavs --gen-dir out/ours --system Ours \\
        --gen-dir out/baseline --system Baseline \\
        --asr pocketsphinx:grid --out results --plots 4 --jobs 2

For the built-in synthetic corpus, ``--asr synthetic`` uses the GRID-word
recogniser shipped with the package (trained on that corpus's own voices by
``recipes/Synthetic/ASR``; ``synthetic:<folder>`` loads another export), and
``--speaker-model <ECAPA folder>`` adds the speaker-similarity column. The
community's standard judges come through ``transformers``
(:mod:`speechbrain_v2s.judges_hf`): ``--asr whisper:openai/whisper-small``
(``...:grid`` snaps to GRID sentences) and ``--speaker-model
wavlm:microsoft/wavlm-base-plus-sv``, Hub ids or ``save_pretrained`` folders.

The package, one concern a module (everything below is importable from
``speechbrain_v2s.evaluation`` itself):

- :mod:`~speechbrain_v2s.evaluation.references`: pairing generated files with
  references, reference files by id, reference texts;
- :mod:`~speechbrain_v2s.evaluation.scoring`: the per-utterance rows;
- :mod:`~speechbrain_v2s.evaluation.summary`: per-system means and intervals;
- :mod:`~speechbrain_v2s.evaluation.report`: CSV, Markdown/LaTeX tables, plots;
- :mod:`~speechbrain_v2s.evaluation.ceiling`: the mel family's vocoder ceiling;
- :mod:`~speechbrain_v2s.evaluation.cli`: ``v2s-evaluate``;
- :mod:`~speechbrain_v2s.evaluation.errors`: :class:`EvaluationError`.

Example
-------
>>> import os, tempfile, torch
>>> from speechbrain_v2s.audio.io import write_audio
>>> root = tempfile.mkdtemp()
>>> t = torch.arange(24000) / 24000
>>> wav = 0.3 * torch.sin(2 * 3.1416 * 220 * t) * (torch.sin(2 * 3.1416 * 3 * t) > 0)
>>> for d in ("ref", "gen"):
...     write_audio(os.path.join(root, d, "u1.wav"), wav)
>>> pairs = find_pairs(os.path.join(root, "ref"), os.path.join(root, "gen"))
>>> rows = evaluate_pairs(pairs, progress=False)
>>> rows[0]["stoi"] > 0.99, rows[0]["error"]
(True, '')
"""

from speechbrain_v2s.audio import AUDIO_EXTENSIONS
from speechbrain_v2s.evaluation.ceiling import load_synthesizer, write_vocoder_ceiling
from speechbrain_v2s.evaluation.cli import PROG, main, run
from speechbrain_v2s.evaluation.errors import EvaluationError
from speechbrain_v2s.evaluation.judges import make_speaker_model, make_transcriber
from speechbrain_v2s.evaluation.references import (
    attach_transcripts,
    find_pairs,
    find_transcript,
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
from speechbrain_v2s.evaluation.scoring import (
    CSV_FIELDS,
    METRICS,
    evaluate_pairs,
    pair_has_text,
)
from speechbrain_v2s.evaluation.summary import (
    BOOTSTRAP_RESAMPLES,
    CONFIDENCE,
    corpus_wer_ci,
    mean_ci,
    summarise,
)
from speechbrain_v2s.prepare.files import SILENCE_WORDS, read_align

__all__ = [
    "AUDIO_EXTENSIONS",
    "BOOTSTRAP_RESAMPLES",
    "CONFIDENCE",
    "CSV_FIELDS",
    "METRICS",
    "PROG",
    "SILENCE_WORDS",
    "SPEAKER_COLUMN",
    "TABLE_COLUMNS",
    "EvaluationError",
    "attach_transcripts",
    "corpus_wer_ci",
    "evaluate_pairs",
    "find_pairs",
    "find_transcript",
    "latex_table",
    "load_synthesizer",
    "load_transcripts",
    "main",
    "make_speaker_model",
    "make_transcriber",
    "markdown_table",
    "mean_ci",
    "pair_has_text",
    "pairs_from_manifest",
    "plot_mels",
    "read_align",
    "reference_files",
    "run",
    "summarise",
    "write_csv",
    "write_vocoder_ceiling",
]
