"""Offline speech recognition for the WER column of the evaluation tables.

Two implementations of :class:`~speechbrain_v2s.transcriber.Transcriber`
(``transcribe(wav_24k) -> str``, ``transcribe_batch(wavs) -> list``):

* :class:`PocketsphinxTranscriber`: CMU PocketSphinx 5 with the en-us acoustic
  model and dictionary bundled in its wheel, so it runs with no download. With
  ``grammar="grid"`` the search is restricted to GRID's six-slot sentences
  (:func:`grid_jsgf`), the usual setting for GRID; without it, the bundled
  general-English trigram language model is used.
* :class:`SpeechBrainTranscriber`: any SpeechBrain ASR model that
  ``EncoderDecoderASR.from_hparams`` or ``EncoderASR.from_hparams`` loads, from a
  local folder or a Hub id. The offline judge for the built-in synthetic corpus
  is one: the small GRID-word recogniser that ``recipes/Synthetic/ASR`` trains
  on the corpus's own audio (hundreds of espeak-ng voices) and exports as an
  ``EncoderASR`` folder. The package ships the recipe's default run
  (``speechbrain_v2s/judges/synthetic_grid``, :data:`SYNTHETIC_JUDGE`):
  ``"synthetic"`` loads it, ``"synthetic:<folder>"`` loads another export.
  pocketsphinx's HMMs, trained on real speech, reach only 37.5 % WER on clean
  espeak-ng GRID sentences.

:func:`speechbrain_v2s.evaluation.judges.make_transcriber` builds either (or
a Whisper judge of :mod:`speechbrain_v2s.judges_hf`) from a short spec string,
the form the ``v2s-evaluate --asr`` option takes.

Example
-------
>>> import torch
>>> asr = PocketsphinxTranscriber(grammar="grid")
>>> asr.transcribe(torch.zeros(24000))
''
"""

import math
import os
import re

import numpy as np
import torch

from speechbrain_v2s.audio.features import SAMPLE_RATE
from speechbrain_v2s.synthetic.grid_grammar import SLOTS as GRID_SLOTS

# Transcriber and TranscriberError were defined here: still importable from here.
from speechbrain_v2s.transcriber import (
    Transcriber,
    TranscriberError,
    looks_like_path,
    mono_at,
)

ASR_RATE = 16000  # what the bundled pocketsphinx model and most ASR models expect
GRID_RULE = "grid"
SYNTHETIC = "synthetic"  # --asr spec of the synthetic corpus's ASR
# The judge shipped with the package: recipes/Synthetic/ASR's default run,
# exported (see its README for how it was trained and its accuracy).
SYNTHETIC_JUDGE = os.path.join(os.path.dirname(__file__), "judges", "synthetic_grid")


def _letter_token(letter):
    # CMUdict spells the letter names with a trailing dot ("a." EY); the bare
    # "a" is the article first (AH), so the dotted entries are used.
    return f"{letter}."


def grid_jsgf(slots=GRID_SLOTS):
    """A JSGF grammar accepting exactly the GRID sentences.

    GRID's letters are spoken as letter names, which the CMU dictionary
    bundled with pocketsphinx spells ``a.``, ``b.``, ...; the transcriber
    removes the dots again.

    Arguments
    ---------
    slots : sequence of (str, sequence of str)
        Slot names and their words, in sentence order.

    Returns
    -------
    str

    Example
    -------
    >>> print(grid_jsgf().splitlines()[-1])
    public <grid> = <command> <colour> <preposition> <letter> <digit> <adverb>;
    """
    lines = ["#JSGF V1.0;", f"grammar {GRID_RULE};"]
    for name, words in slots:
        if name == "letter":
            words = [_letter_token(w) for w in words]
        lines.append(f"<{name}> = {' | '.join(words)};")
    sentence = " ".join(f"<{name}>" for name, _ in slots)
    lines.append(f"public <{GRID_RULE}> = {sentence};")
    return "\n".join(lines)


def _clean_words(text):
    """Drop pocketsphinx fillers and markers, undo letter dots and variants."""
    words = []
    for word in text.split():
        if word.startswith(("<", "[", "++")):  # <s>, [NOISE], ++FILLER++
            continue
        word = re.sub(r"\(\d+\)$", "", word)  # pronunciation variant "the(2)"
        if len(word) == 2 and word.endswith(".") and word[0].isalpha():
            word = word[0]
        words.append(word)
    return " ".join(words)


def _mono_16k_int16(wav, sample_rate, dither=0.0, seed=0):
    wav = mono_at([wav], sample_rate, ASR_RATE)[0].clamp(-1.0, 1.0)
    pcm = wav.numpy().astype(np.float64) * 32767.0
    if dither > 0:
        pcm += np.random.default_rng(seed).standard_normal(pcm.shape) * dither
    return np.clip(np.round(pcm), -32768, 32767).astype(np.int16)


class PocketsphinxTranscriber(Transcriber):
    """Offline ASR with pocketsphinx 5 and its bundled en-us model.

    Audio is resampled to 16 kHz and quantised to 16-bit PCM, the format the
    bundled acoustic model was trained on, with Gaussian dither of ``dither``
    LSB drawn from a generator seeded the same way for every utterance (so a
    result never depends on order or worker). Dither matters for clean
    synthetic audio with digital silence: on 20 espeak-ng GRID sentences the
    grammar WER fell from 51 % (none) to 37.5 % (1 LSB). The decoder is
    created on first use (and again in each worker process), so the object
    pickles cheaply.

    Arguments
    ---------
    grammar : str, optional
        ``None`` for the bundled trigram language model, ``"grid"`` for the
        GRID sentence grammar (:func:`grid_jsgf`), or a path to a JSGF file.
    dither : float
        Standard deviation of the added noise in 16-bit steps (0: none).
    **decoder_options
        Passed on to ``pocketsphinx.Decoder`` (e.g. ``hmm``, ``dict``, ``lm``).

    Example
    -------
    >>> import torch
    >>> PocketsphinxTranscriber(grammar="grid").transcribe(torch.zeros(12000))
    ''
    """

    parallel_safe = True

    def __init__(self, grammar=None, dither=1.0, **decoder_options):
        if grammar is not None and grammar != GRID_RULE:
            if not os.path.isfile(grammar):
                raise TranscriberError(
                    f"pocketsphinx grammar must be 'grid' or a JSGF file, "
                    f"got {grammar!r} (file not found)"
                )
        self.grammar = grammar
        self.dither = float(dither)
        self.decoder_options = dict(decoder_options)
        self._decoder = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_decoder"] = None  # a SWIG object; rebuilt where it is used
        return state

    def __repr__(self):
        return f"PocketsphinxTranscriber(grammar={self.grammar!r})"

    def _make_decoder(self):
        try:
            import pocketsphinx
        except ImportError as err:
            raise TranscriberError(
                "pocketsphinx is not installed: pip install pocketsphinx==5.1.1"
            ) from err
        options = {"samprate": ASR_RATE, "loglevel": "FATAL"}
        options.update(self.decoder_options)
        if self.grammar == GRID_RULE:
            # Filler words between grammar words made the decoder give up on a
            # third of clean synthetic GRID sentences (empty output); without
            # them WER fell from 66 % to 51 % there, and silence stays empty.
            options = {"fsgusefiller": False, **options}
            decoder = pocketsphinx.Decoder(lm=None, **options)
            decoder.add_jsgf_string(GRID_RULE, grid_jsgf())
            decoder.activate_search(GRID_RULE)
        elif self.grammar is not None:
            decoder = pocketsphinx.Decoder(jsgf=self.grammar, **options)
        else:
            decoder = pocketsphinx.Decoder(**options)
        return decoder

    @property
    def decoder(self):
        """The ``pocketsphinx.Decoder``, created on first access."""
        if self._decoder is None:
            self._decoder = self._make_decoder()
        return self._decoder

    def transcribe(self, wav, sample_rate=SAMPLE_RATE):
        """Text of ``wav`` (``[samples]`` at ``sample_rate``); ``''`` if none.

        Arguments
        ---------
        wav : torch.Tensor
            Mono waveform.
        sample_rate : int
            Its rate (24 kHz by default).

        Returns
        -------
        str
            Lower-case words separated by single spaces.
        """
        pcm = _mono_16k_int16(wav, sample_rate, self.dither)
        decoder = self.decoder
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), no_search=False, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return _clean_words(hyp.hypstr).lower() if hyp is not None else ""


GRID_CTC_WORDS = tuple(sorted({w for _, words in GRID_SLOTS for w in words}))


def grid_ctc_token_ids(blank_id=0):
    """Token ids of the GRID-word CTC labels: blank, then the sorted words.

    The layout of ``recipes/Synthetic/ASR``'s label encoder (``"<word> "``
    labels, blank first), which :func:`grid_ctc_decode` relies on.

    Example
    -------
    >>> ids = grid_ctc_token_ids()
    >>> len(ids), ids["a"], ids["zero"]
    (51, 1, 51)
    """
    offset = 1 if blank_id == 0 else 0
    return {word: i + offset for i, word in enumerate(GRID_CTC_WORDS)}


def _grid_path(lp, slots, blank_id):
    """Best CTC path through blank* (w1+ blank*) ... (w6+ blank*), or all blank.

    Viterbi over frames; each state keeps its best score and word history.
    """
    neg = -math.inf
    n = len(slots)
    blank = [neg] * (n + 1)  # blank after k words
    blank_hist = [()] * (n + 1)
    blank[0] = lp[0, blank_id]
    word = [
        [lp[0, tok] if k == 0 else neg for tok in slot] for k, slot in enumerate(slots)
    ]
    word_hist = [[(tok,) for tok in slot] for slot in slots]
    for t in range(1, lp.shape[0]):
        frame = lp[t]
        best = []  # best state of each word slot at t - 1
        for k in range(n):
            i = int(np.argmax(word[k]))
            best.append((word[k][i], word_hist[k][i]))
        new_blank, new_blank_hist = [], []
        for k in range(n + 1):
            score, hist = blank[k], blank_hist[k]
            if k and best[k - 1][0] > score:
                score, hist = best[k - 1]
            new_blank.append(score + frame[blank_id])
            new_blank_hist.append(hist)
        new_word, new_word_hist = [], []
        for k, slot in enumerate(slots):
            enter, enter_hist = blank[k], blank_hist[k]
            if k and best[k - 1][0] > enter:  # no blank between two words
                enter, enter_hist = best[k - 1]
            scores, hists = [], []
            for j, tok in enumerate(slot):
                if word[k][j] >= enter:
                    score, hist = word[k][j], word_hist[k][j]
                else:
                    score, hist = enter, enter_hist + (tok,)
                scores.append(score + frame[tok])
                hists.append(hist)
            new_word.append(scores)
            new_word_hist.append(hists)
        blank, blank_hist, word, word_hist = (
            new_blank,
            new_blank_hist,
            new_word,
            new_word_hist,
        )
    last = int(np.argmax(word[-1]))
    ends = [
        (blank[n], blank_hist[n]),
        (word[-1][last], word_hist[-1][last]),
        (blank[0], ()),  # no speech: no words
    ]
    return list(max(ends, key=lambda end: end[0])[1])


def grid_ctc_decode(log_probs, lens, blank_id=0):
    """CTC decoding restricted to GRID sentences (or nothing).

    Of all CTC paths that spell one GRID sentence (a command, colour,
    preposition, letter, digit and adverb, in order) or only blanks, the
    single best path is taken (Viterbi). A drop-in for
    ``speechbrain.decoders.ctc_greedy_decode`` in an ``EncoderASR``
    ``hyperparams.yaml``; the labels must be :func:`grid_ctc_token_ids`.
    The empty path lets silence stay empty instead of being forced into a
    sentence.

    Arguments
    ---------
    log_probs : torch.Tensor
        ``[batch, frames, labels]`` CTC log-probabilities.
    lens : torch.Tensor
        Relative lengths ``[batch]``.
    blank_id : int
        Index of the blank label.

    Returns
    -------
    list of list of int
        Token ids of each item (6 or 0 of them).

    Example
    -------
    >>> import torch
    >>> ids = grid_ctc_token_ids()
    >>> words = "bin blue at f two now".split()
    >>> lp = torch.full((1, 14, 52), -9.0)
    >>> for t in range(14):  # w1 _ w2 _ ... with "bin" twice (repeat)
    ...     lp[0, t, ids[words[t // 2]] if t % 2 == 0 and t < 12 else 0] = 0.0
    >>> lp[0, 1, 0], lp[0, 1, ids["bin"]] = -9.0, 0.0
    >>> [GRID_CTC_WORDS[i - 1] for i in grid_ctc_decode(lp, torch.ones(1))[0]]
    ['bin', 'blue', 'at', 'f', 'two', 'now']
    >>> grid_ctc_decode(torch.zeros(1, 5, 52).log_softmax(-1), torch.ones(1))
    [[]]
    """
    ids = grid_ctc_token_ids(blank_id)
    slots = [[ids[w] for w in words] for _, words in GRID_SLOTS]
    log_probs = log_probs.detach().float().cpu()
    frames = log_probs.shape[1]
    out = []
    for i in range(log_probs.shape[0]):
        n = max(1, min(frames, int(round(float(lens[i]) * frames))))
        out.append(_grid_path(log_probs[i, :n].numpy(), slots, blank_id))
    return out


class SpeechBrainTranscriber(Transcriber):
    """A SpeechBrain ASR model (``speechbrain.inference.ASR``) as a transcriber.

    The model is loaded with ``EncoderDecoderASR.from_hparams`` (attention or
    transducer models) or, when its ``hyperparams.yaml`` has no decoder,
    ``EncoderASR.from_hparams`` (CTC models). Audio is resampled to the
    model's ``sample_rate`` hyper-parameter (16 kHz if it has none).

    Arguments
    ---------
    source : str
        Local model folder or Hub id (``"speechbrain/asr-..."``).
    savedir : str, optional
        Where Hub files are stored (SpeechBrain's default if ``None``).
    interface : str
        ``"auto"``, ``"encoder_decoder"`` or ``"encoder"``.
    run_opts : dict, optional
        SpeechBrain run options, e.g. ``{"device": "cuda"}``.

    Raises
    ------
    TranscriberError
        A local folder that does not exist, or a model that does not load.

    Example
    -------
    >>> SpeechBrainTranscriber("/no/asr")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.transcriber.TranscriberError: ASR model folder not found: /no/asr
    """

    INTERFACES = ("auto", "encoder_decoder", "encoder")

    def __init__(self, source, savedir=None, interface="auto", run_opts=None):
        if interface not in self.INTERFACES:
            raise TranscriberError(
                f"interface must be one of {', '.join(self.INTERFACES)}, "
                f"got {interface!r}"
            )
        source = str(source)
        if not os.path.isdir(source) and looks_like_path(source):
            raise TranscriberError(f"ASR model folder not found: {source}")
        if os.path.isdir(source) and not os.path.isfile(
            os.path.join(source, "hyperparams.yaml")
        ):
            raise TranscriberError(
                f"ASR model folder has no hyperparams.yaml: {source}"
            )
        self.source = source
        self.savedir = savedir
        self.model = self._load(source, savedir, interface, run_opts or {})
        rate = getattr(getattr(self.model, "hparams", None), "sample_rate", None)
        self.model_rate = int(rate) if rate else ASR_RATE

    @staticmethod
    def _load(source, savedir, interface, run_opts):
        from speechbrain.inference.ASR import EncoderASR, EncoderDecoderASR

        classes = {
            "encoder_decoder": [EncoderDecoderASR],
            "encoder": [EncoderASR],
            "auto": [EncoderDecoderASR, EncoderASR],
        }[interface]
        errors = []
        for cls in classes:
            try:
                return cls.from_hparams(
                    source=source, savedir=savedir, run_opts=run_opts
                )
            except Exception as err:  # noqa: BLE001 - any failure: try the next
                errors.append(f"{cls.__name__}: {type(err).__name__}: {err}")
        raise TranscriberError(
            f"cannot load ASR model {source!r} ({'; '.join(errors)})"
        )

    def __repr__(self):
        return f"SpeechBrainTranscriber({self.source!r})"

    def transcribe_batch(self, wavs, sample_rate=SAMPLE_RATE):
        """Texts of several waveforms, decoded as one padded batch.

        Arguments
        ---------
        wavs : list of torch.Tensor
            ``[samples]`` each, at ``sample_rate``.
        sample_rate : int
            Their rate.

        Returns
        -------
        list of str
            Lower-case texts.
        """
        if not wavs:
            return []
        wavs = mono_at(wavs, sample_rate, self.model_rate)
        longest = max(w.shape[-1] for w in wavs)
        batch = torch.stack(
            [torch.nn.functional.pad(w, (0, longest - w.shape[-1])) for w in wavs]
        )
        lens = torch.tensor([w.shape[-1] / max(longest, 1) for w in wavs])
        with torch.no_grad():
            words = self.model.transcribe_batch(
                batch.to(self.model.device), lens.to(self.model.device)
            )[0]
        # CTC word models emit their labels' own spaces: keep one between words.
        return [
            " ".join((" ".join(w) if isinstance(w, list) else str(w)).split()).lower()
            for w in words
        ]
