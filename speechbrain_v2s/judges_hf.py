"""The community's standard judges through ``transformers``: Whisper for WER
and WavLM x-vectors for speaker similarity.

* :class:`WhisperTranscriber` (``v2s-evaluate --asr whisper:<source>`` and
  ``whisper:<source>:grid``): ``WhisperForConditionalGeneration`` with its
  ``WhisperProcessor``, greedy decoding (no sampling, one beam, no
  temperature fallback), so the same audio always gives the same text. Our
  24 kHz audio is resampled with :func:`speechbrain_v2s.audio.features.resample`
  to the feature extractor's rate (16 kHz). Whisper writes cased, punctuated
  text with numerals ("Bin blue at F2 now."); the output is normalised like
  every other judge's (:func:`speechbrain_v2s.metrics.normalise_text`), single
  digits are spelled out and a letter glued to a digit is split
  (:func:`whisper_words`), since reference texts spell numbers as words.
  With ``:grid`` the free transcript is snapped to the closest GRID sentence,
  slot by slot (:func:`snap_to_grid`); Whisper's decoder is not constrained.
* :class:`WavLMSpeakerEmbedder` (``--speaker-model wavlm:<source>``):
  ``WavLMForXVector`` with its ``AutoFeatureExtractor``; the evaluation takes
  the cosine similarity of the generated and reference x-vectors per
  utterance.

``<source>`` is a local folder (loaded with ``local_files_only=True``, never
touching the network) or a Hub id (``openai/whisper-small``,
``microsoft/wavlm-base-plus-sv``). A Hub id is first looked up in the local
Hugging Face cache; only when it is not there is the Hub contacted, and with
``HF_HUB_OFFLINE=1`` or an unreachable Hub that is one clear error instead of
minutes of download retries (:func:`load_pretrained`).

Example
-------
>>> snap_to_grid("Bin blue at F2 now.")
'bin blue at f two now'
"""

import logging
import os
import socket
from urllib.parse import urlparse

import torch

from speechbrain_v2s.audio.features import SAMPLE_RATE, resample
from speechbrain_v2s.metrics import normalise_text
from speechbrain_v2s.synthetic.grid_grammar import DIGITS, SLOTS
from speechbrain_v2s.transcriber import (
    Transcriber,
    TranscriberError,
    looks_like_path,
    mono_at,
)

WHISPER_WINDOW_S = 30.0  # Whisper's fixed input window
HUB_PROBE_TIMEOUT_S = 5.0

logger = logging.getLogger(__name__)

# Whisper sometimes writes a GRID letter as its name; which slot it is in
# decides whether "you" is the letter u, so these apply to the letter slot only.
LETTER_NAMES = {
    "ay": "a", "bee": "b", "be": "b", "see": "c", "sea": "c", "dee": "d",
    "ee": "e", "eff": "f", "gee": "g", "aitch": "h", "eye": "i", "jay": "j",
    "kay": "k", "el": "l", "ell": "l", "em": "m", "en": "n", "oh": "o",
    "pea": "p", "pee": "p", "queue": "q", "cue": "q", "are": "r", "ar": "r",
    "ess": "s", "tea": "t", "tee": "t", "you": "u", "vee": "v", "ex": "x",
    "why": "y", "zed": "z", "zee": "z",
}  # fmt: skip


class HFModelError(RuntimeError):
    """A ``transformers`` model that cannot be found or loaded, in one line.

    Example
    -------
    >>> str(HFModelError("no model"))
    'no model'
    """


def _hub_reachable():
    """Whether the Hub endpoint answers a TCP connection within a few seconds."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), HUB_PROBE_TIMEOUT_S).close()
    except (OSError, TypeError):
        return False
    return True


def _offline_env():
    flag = os.environ.get("HF_HUB_OFFLINE", "") or os.environ.get(
        "TRANSFORMERS_OFFLINE", ""
    )
    return flag.strip().lower() in ("1", "true", "yes", "on")


def load_pretrained(loaders, source, what):
    """Load ``transformers`` objects from a folder or a Hub id, failing fast.

    A folder is loaded with ``local_files_only=True``. A Hub id is tried in
    the local cache first; the Hub is contacted only when it is not cached,
    ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` are not set and the Hub
    answers a connection (otherwise ``huggingface_hub`` would retry each file
    for minutes).

    Arguments
    ---------
    loaders : sequence of callable
        ``from_pretrained``-like functions, each called as
        ``loader(source, local_files_only=...)``.
    source : str
        Folder or Hub id.
    what : str
        What is loaded, for the messages (``"Whisper model"``).

    Returns
    -------
    list
        What each loader returned, in order.

    Raises
    ------
    HFModelError
        A missing folder, an id that cannot be fetched, or a load failure.

    Example
    -------
    >>> load_pretrained([lambda s, **kw: s], "/no/dir", "Whisper model")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.judges_hf.HFModelError: Whisper model folder not found: /no/dir
    """
    source = str(source)
    if os.path.isdir(source):
        return _call_loaders(loaders, source, what, local_files_only=True)
    if looks_like_path(source) or not source:
        raise HFModelError(f"{what} folder not found: {source}")
    try:
        return [loader(source, local_files_only=True) for loader in loaders]
    except Exception:  # noqa: BLE001 - not (fully) cached: maybe download
        pass
    if _offline_env():
        raise HFModelError(
            f"{what} {source!r} is not a folder and not in the local Hugging Face "
            "cache, and HF_HUB_OFFLINE is set"
        )
    if not _hub_reachable():
        raise HFModelError(
            f"{what} {source!r} is not a folder and not in the local Hugging Face "
            "cache, and the Hub cannot be reached (download it once online, or "
            "give a folder)"
        )
    return _call_loaders(loaders, source, what, local_files_only=False)


def _call_loaders(loaders, source, what, **kwargs):
    try:
        return [loader(source, **kwargs) for loader in loaders]
    except Exception as err:  # noqa: BLE001 - any failure: one clear line
        reason = " ".join(str(err).split())
        raise HFModelError(
            f"cannot load {what} {source!r}: {type(err).__name__}: {reason}"
        ) from err


def _default_device(device):
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def whisper_words(text):
    """Whisper's text as the other judges write it: normalised words, digits
    spelled out.

    Lower case and punctuation go (:func:`~speechbrain_v2s.metrics.normalise_text`);
    a lone digit becomes its word and a letter glued to a digit (``F2``) is
    split, as in GRID's reference texts. Longer numbers are left alone.

    Example
    -------
    >>> whisper_words("Bin blue at F2 now.")
    'bin blue at f two now'
    >>> whisper_words("Set red by 7, please! 1984")
    'set red by seven please 1984'
    """
    words = []
    for word in normalise_text(text).split():
        if len(word) == 2 and word[0].isalpha() and word[1].isdigit():
            words += [word[0], DIGITS[int(word[1])]]
        elif len(word) == 1 and word.isdigit():
            words.append(DIGITS[int(word)])
        else:
            words.append(word)
    return " ".join(words)


def _edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _slot_match(slot, word):
    """Best word of ``slot`` for the heard ``word`` and its cost in [0, 1]."""
    name, choices = slot
    if name == "letter" and LETTER_NAMES.get(word) in choices:
        return LETTER_NAMES[word], 0.0
    costs = [
        (_edit_distance(word, w) / max(len(word), len(w)), i)
        for i, w in enumerate(choices)
    ]
    cost, i = min(costs)
    return choices[i], cost


def snap_to_grid(text, slots=SLOTS):
    """The GRID sentence closest to a free transcript, slot by slot.

    The transcript's words (:func:`whisper_words`) are aligned with the six
    slots by dynamic programming: a word in a slot costs its normalised
    character edit distance to the slot's closest word (0 for an exact word
    or, in the letter slot, a letter name such as ``eff``), a skipped word
    or an empty slot costs 1 (words after a full sentence go first on a
    tie). Empty slots take the slot's first word, so the
    result is always a full GRID sentence, except for an empty transcript,
    which stays empty (silence is not forced into a sentence).

    Arguments
    ---------
    text : str
        The free transcript.
    slots : sequence of (str, sequence of str)
        The grammar's slots in order (GRID's by default).

    Returns
    -------
    str
        Six words, or ``""``.

    Example
    -------
    >>> snap_to_grid("Bin blew at eff 2 now please")
    'bin blue at f two now'
    >>> snap_to_grid("lay green with you six again")
    'lay green with u six again'
    >>> snap_to_grid("place red in")
    'place red in a zero again'
    >>> snap_to_grid("...")
    ''
    """
    words = whisper_words(text).split()
    if not words:
        return ""
    n, m = len(slots), len(words)
    inf = float("inf")
    # cost[i][j]: first i slots filled from the first j words; back: the move.
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    back = [[None] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            here = cost[i][j]
            if here == inf:
                continue
            moves = []
            if j < m:  # the heard word fits no slot: skip it
                # Ties go to the earlier words: Whisper's extra words trail.
                moves.append((i, j + 1, 1.0 - 1e-6 * (i == n), None))
            if i < n:  # the slot heard nothing
                moves.append((i + 1, j, 1.0, slots[i][1][0]))
            if i < n and j < m:
                word, c = _slot_match(slots[i], words[j])
                moves.append((i + 1, j + 1, c, word))
            for ni, nj, c, word in moves:
                if here + c < cost[ni][nj]:
                    cost[ni][nj] = here + c
                    back[ni][nj] = (i, j, word)
    out, i, j = [], n, m
    while (i, j) != (0, 0):
        i, j, word = back[i][j]
        if word is not None:  # a slot move (skipped words carry none)
            out.append(word)
    return " ".join(reversed(out))


class WhisperTranscriber(Transcriber):
    """Whisper (``transformers``) as a transcriber, greedy and deterministic.

    Arguments
    ---------
    source : str
        Folder written by ``save_pretrained`` (model and processor) or a Hub
        id such as ``"openai/whisper-small"``.
    grammar : str, optional
        ``None`` for free decoding, ``"grid"`` to snap each transcript to the
        closest GRID sentence (:func:`snap_to_grid`).
    device : str, optional
        Torch device; CUDA when available by default.
    language : str
        Spoken language given to multilingual checkpoints (English-only
        ``*.en`` checkpoints take none).
    batch_size : int
        Clips decoded together by :meth:`transcribe_batch`.

    Raises
    ------
    TranscriberError
        A bad grammar, a missing folder or a model that does not load.

    Example
    -------
    >>> WhisperTranscriber("/no/w")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.transcriber.TranscriberError: Whisper model folder not found: /no/w
    """

    GRAMMARS = (None, "grid")

    def __init__(self, source, grammar=None, device=None, language="en", batch_size=8):
        if grammar not in self.GRAMMARS:
            raise TranscriberError(
                f"Whisper grammar must be 'grid' or none, got {grammar!r}"
            )
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        self.source, self.grammar = str(source), grammar
        self.batch_size = max(1, int(batch_size))
        try:
            self.processor, self.model = load_pretrained(
                [
                    WhisperProcessor.from_pretrained,
                    WhisperForConditionalGeneration.from_pretrained,
                ],
                self.source,
                "Whisper model",
            )
        except HFModelError as err:
            raise TranscriberError(str(err)) from err
        self.device = _default_device(device)
        self.model.to(self.device).eval()
        self.feature_extractor = self.processor.feature_extractor
        self.model_rate = int(self.feature_extractor.sampling_rate)
        config = self.model.generation_config
        multilingual = getattr(config, "is_multilingual", None) and hasattr(
            config, "lang_to_id"
        )
        self.generate_options = {"do_sample": False, "num_beams": 1}
        if multilingual and language:
            self.generate_options.update(language=language, task="transcribe")

    def __repr__(self):
        grammar = f", grammar={self.grammar!r}" if self.grammar else ""
        return f"WhisperTranscriber({self.source!r}{grammar})"

    def transcribe_batch(self, wavs, sample_rate=SAMPLE_RATE):
        """Texts of several mono waveforms (any lengths), in order.

        Arguments
        ---------
        wavs : list of torch.Tensor
            ``[samples]`` each, at ``sample_rate``; resampled to the
            feature extractor's rate. Whisper hears the first 30 s.
        sample_rate : int
            Their rate.

        Returns
        -------
        list of str
            Normalised words (:func:`whisper_words`); with the GRID grammar
            a GRID sentence or ``""``.
        """
        texts = []
        for start in range(0, len(wavs), self.batch_size):
            texts += self._decode(wavs[start : start + self.batch_size], sample_rate)
        return texts

    @torch.no_grad()
    def _decode(self, wavs, sample_rate):
        if not wavs:
            return []
        clips = [w.numpy() for w in mono_at(wavs, sample_rate, self.model_rate)]
        if max(len(c) for c in clips) > WHISPER_WINDOW_S * self.model_rate:
            logger.warning("Whisper hears only the first 30 s of a longer clip")
        features = self.feature_extractor(
            clips,
            sampling_rate=self.model_rate,
            return_tensors="pt",
            return_attention_mask=True,
        )
        ids = self.model.generate(
            features.input_features.to(self.device, self.model.dtype),
            attention_mask=features.attention_mask.to(self.device),
            **self.generate_options,
        )
        texts = self.processor.batch_decode(ids.cpu(), skip_special_tokens=True)
        if self.grammar == "grid":
            return [snap_to_grid(t) for t in texts]
        return [whisper_words(t) for t in texts]


class WavLMSpeakerEmbedder:
    """x-vector speaker embeddings ``[batch, emb]`` of 24 kHz clips with
    ``WavLMForXVector``.

    The evaluation's speaker embedder (``--speaker-model wavlm:<source>``):
    clips are resampled to the feature extractor's rate (16 kHz) and padded
    with an attention mask.

    Arguments
    ---------
    source : str
        Folder written by ``save_pretrained`` (model and feature extractor)
        or a Hub id such as ``"microsoft/wavlm-base-plus-sv"``.
    device : str, optional
        Torch device; CUDA when available by default.

    Raises
    ------
    HFModelError
        A missing folder or a model that does not load.

    Example
    -------
    >>> WavLMSpeakerEmbedder("/no/wavlm")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.judges_hf.HFModelError: speaker model folder not found: /no/wavlm
    """

    def __init__(self, source, device=None):
        from transformers import AutoFeatureExtractor, WavLMForXVector

        self.source = str(source)
        self.feature_extractor, self.model = load_pretrained(
            [AutoFeatureExtractor.from_pretrained, WavLMForXVector.from_pretrained],
            self.source,
            "speaker model",
        )
        self.device = _default_device(device)
        self.model.to(self.device).eval()
        self.model_rate = int(self.feature_extractor.sampling_rate)

    def __repr__(self):
        return f"WavLMSpeakerEmbedder({self.source!r})"

    @torch.no_grad()
    def __call__(self, wavs, sample_rate=SAMPLE_RATE):
        """``wavs``: ``[batch, samples]`` (or ``[samples]``) → ``[batch, emb]``."""
        wavs = torch.as_tensor(wavs, dtype=torch.float32).detach().cpu()
        if wavs.dim() == 1:
            wavs = wavs.unsqueeze(0)
        clips = [c.numpy() for c in resample(wavs, sample_rate, self.model_rate)]
        inputs = self.feature_extractor(
            clips,
            sampling_rate=self.model_rate,
            padding=True,
            return_tensors="pt",
            return_attention_mask=True,
        )
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        return self.model(**inputs).embeddings.float().cpu()
