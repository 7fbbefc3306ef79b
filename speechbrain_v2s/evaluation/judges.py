"""The judges of ``v2s-evaluate`` from their spec strings: the one place that
chooses a model for ``--asr`` (:func:`make_transcriber`) and for
``--speaker-model`` (:func:`make_speaker_model`).

It sits above the judges it chooses between: :mod:`speechbrain_v2s.asr`
(PocketSphinx, SpeechBrain ASR, the shipped synthetic-corpus judge),
:mod:`speechbrain_v2s.judges_hf` (Whisper, WavLM) and
:mod:`speechbrain_v2s.nnet.speaker` (SpeechBrain speaker models), so none of
them imports another to dispatch.

Example
-------
>>> make_transcriber("pocketsphinx:grid")
PocketsphinxTranscriber(grammar='grid')
"""

import os

from speechbrain_v2s.evaluation.errors import EvaluationError
from speechbrain_v2s.transcriber import TranscriberError, looks_like_path

WHISPER = "whisper"  # --asr prefix
WAVLM = "wavlm"  # --speaker-model prefix


def make_transcriber(spec, savedir=None, device=None):
    """Build a transcriber from a short spec string.

    Arguments
    ---------
    spec : str or None
        ``"pocketsphinx"`` (trigram LM), ``"pocketsphinx:grid"`` (GRID
        grammar), ``"pocketsphinx:<file.jsgf>"``, ``"synthetic"`` (the
        synthetic corpus's judge shipped with the package,
        :data:`~speechbrain_v2s.asr.SYNTHETIC_JUDGE`), ``"synthetic:<folder>"``
        (another export of ``recipes/Synthetic/ASR/train.py``; both load as an
        ``EncoderASR``), ``"whisper:<source>"`` (Whisper through
        ``transformers``, free decoding; folder or Hub id such as
        ``openai/whisper-small``), ``"whisper:<source>:grid"`` (the same,
        snapped to GRID sentences; see :mod:`speechbrain_v2s.judges_hf`),
        ``"speechbrain:<source>"`` or just a ``from_hparams`` source (folder
        or Hub id). ``None``, ``""`` or ``"none"`` give ``None`` (no ASR, no
        WER).
    savedir : str, optional
        Download folder for Hub models.
    device : str, optional
        Torch device of neural models (default: SpeechBrain models on the
        CPU, Whisper on CUDA when available).

    Returns
    -------
    Transcriber or None

    Example
    -------
    >>> make_transcriber("pocketsphinx:grid")
    PocketsphinxTranscriber(grammar='grid')
    >>> make_transcriber("none") is None
    True
    >>> from speechbrain_v2s.asr import SYNTHETIC_JUDGE
    >>> make_transcriber("synthetic").source == SYNTHETIC_JUDGE
    True
    >>> make_transcriber("synthetic:/no/asr")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.transcriber.TranscriberError: ASR model folder not found: /no/asr
    >>> make_transcriber("whisper:/no/w:grid")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.transcriber.TranscriberError: Whisper model folder not found: /no/w
    """
    # Imported here, as every judge: loading the evaluation loads no model code.
    from speechbrain_v2s.asr import (
        GRID_RULE,
        SYNTHETIC,
        SYNTHETIC_JUDGE,
        PocketsphinxTranscriber,
        SpeechBrainTranscriber,
    )

    if spec is None or str(spec).strip().lower() in ("", "none"):
        return None
    spec = str(spec).strip()
    run_opts = {"device": device} if device else None
    name, _, option = spec.partition(":")
    if name.lower() == "pocketsphinx":
        return PocketsphinxTranscriber(grammar=option or None)
    if name.lower() == SYNTHETIC:
        return SpeechBrainTranscriber(
            option or SYNTHETIC_JUDGE,
            savedir=savedir,
            interface="encoder",
            run_opts=run_opts,
        )
    if name.lower() == WHISPER:
        from speechbrain_v2s.judges_hf import WhisperTranscriber

        source, _, grammar = option.rpartition(":")
        if grammar.lower() not in ("grid", "free"):
            source, grammar = option, ""
        if not source:
            raise TranscriberError(
                "whisper needs a model: whisper:<folder or Hub id>[:grid]"
            )
        grammar = GRID_RULE if grammar.lower() == GRID_RULE else None
        return WhisperTranscriber(source, grammar=grammar, device=device)
    if name.lower() == "speechbrain" and option:
        return SpeechBrainTranscriber(option, savedir=savedir, run_opts=run_opts)
    return SpeechBrainTranscriber(spec, savedir=savedir, run_opts=run_opts)


def make_speaker_model(source, savedir=None, device=None):
    """The speaker embedder of ``--speaker-model``.

    ``wavlm:<folder or Hub id>`` is a ``transformers`` ``WavLMForXVector``
    (e.g. ``microsoft/wavlm-base-plus-sv``) through
    :class:`speechbrain_v2s.judges_hf.WavLMSpeakerEmbedder`; anything else
    is any SpeechBrain ``EncoderClassifier`` ``from_hparams`` source (e.g. an
    ECAPA-TDNN folder or Hub id) through
    :class:`speechbrain_v2s.nnet.speaker.SpeakerEmbedder`. Both resample the
    24 kHz audio to the model's 16 kHz. ``device`` is the torch device
    (default: SpeechBrain's CPU, WavLM on CUDA when available).

    Raises
    ------
    EvaluationError
        A missing folder, or a model that does not load (with the reason).

    Example
    -------
    >>> make_speaker_model("/no/spk")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.evaluation.EvaluationError: speaker model folder not found: /no/spk
    >>> make_speaker_model("wavlm:/no/wl")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.evaluation.EvaluationError: speaker model folder not found: /no/wl
    """
    from speechbrain_v2s.nnet.speaker import SpeakerEmbedder

    source = str(source)
    name, _, option = source.partition(":")
    if name.lower() == WAVLM:
        return _wavlm_speaker_model(option, device)
    if looks_like_path(source) and not os.path.isdir(source):
        raise EvaluationError(f"speaker model folder not found: {source}")
    if os.path.isdir(source) and not os.path.isfile(
        os.path.join(source, "hyperparams.yaml")
    ):
        raise EvaluationError(f"speaker model folder has no hyperparams.yaml: {source}")
    try:
        run_opts = {"device": device} if device else None
        return SpeakerEmbedder(source, savedir=savedir, run_opts=run_opts)
    except Exception as err:  # noqa: BLE001 - any failure: one clear message
        raise EvaluationError(
            f"cannot load speaker model {source!r}: {type(err).__name__}: {err}"
        ) from err


def _wavlm_speaker_model(source, device=None):
    from speechbrain_v2s.judges_hf import HFModelError, WavLMSpeakerEmbedder

    if not source:
        raise EvaluationError("wavlm needs a model: wavlm:<folder or Hub id>")
    try:
        return WavLMSpeakerEmbedder(source, device=device)
    except HFModelError as err:
        raise EvaluationError(str(err)) from err
