"""The built-in synthetic corpora: espeak-ng speech with matching mouth videos.

Nothing can be downloaded on the project's machines, so demos, tests and CI
train on corpora made here (``v2s-synth-corpus``, or
``python -m speechbrain_v2s.synthetic``). One concern a module (the names
below are importable from ``speechbrain_v2s.synthetic`` itself):

- :mod:`~speechbrain_v2s.synthetic.corpus`: :func:`generate_corpus`,
  :func:`ensure_corpus`, the command line and the corpus layout;
- :mod:`~speechbrain_v2s.synthetic.speakers`: :class:`SpeakerProfile`,
  :func:`make_speakers` (voices and looks);
- :mod:`~speechbrain_v2s.synthetic.utterances`: one utterance's sentence,
  speech, alignment, video and files, and the worker processes;
- :mod:`~speechbrain_v2s.synthetic.espeak`: the ctypes binding to
  libespeak-ng (speech with phoneme and word timings);
- :mod:`~speechbrain_v2s.synthetic.grid_grammar`: GRID's sentence grammar;
- :mod:`~speechbrain_v2s.synthetic.visemes`: phonemes to mouth parameters;
- :mod:`~speechbrain_v2s.synthetic.mouth_render`: mouth parameters to frames.

Layering: this package imports ``audio`` and ``video`` only; recipes, tests,
benchmarks and :mod:`speechbrain_v2s.asr` (for the GRID grammar) import it.

Example
-------
>>> import tempfile
>>> summary = ensure_corpus(tempfile.mkdtemp(), speakers=1,
...                         utterances_per_speaker=1, jobs=1, progress=False)
>>> summary["kind"], summary["speakers"]
('audio-visual', ['s1'])
"""

from speechbrain_v2s.synthetic.corpus import (
    CORPUS_FILE,
    CorpusError,
    ensure_corpus,
    generate_corpus,
    main,
)
from speechbrain_v2s.synthetic.espeak import Espeak, EspeakError
from speechbrain_v2s.synthetic.grid_grammar import GridSentence, sample_sentences
from speechbrain_v2s.synthetic.speakers import SpeakerProfile, make_speakers
from speechbrain_v2s.synthetic.utterances import (
    ALIGN_DIR,
    AUDIO_DIR,
    META_DIR,
    alignment_lines,
    default_jobs,
)

__all__ = [
    "ALIGN_DIR",
    "AUDIO_DIR",
    "CORPUS_FILE",
    "META_DIR",
    "CorpusError",
    "Espeak",
    "EspeakError",
    "GridSentence",
    "SpeakerProfile",
    "alignment_lines",
    "default_jobs",
    "ensure_corpus",
    "generate_corpus",
    "main",
    "make_speakers",
    "sample_sentences",
]
