"""A thin ctypes binding to libespeak-ng: speech with phoneme and word timings.

The library and its data come from the ``espeakng-loader`` wheel (espeak-ng is
GPL-3.0; it is loaded as a library while a corpus is generated, never shipped
in a model). ``V2S_ESPEAK_LIBRARY`` and ``V2S_ESPEAK_DATA`` point to another
``libespeak-ng`` and ``espeak-ng-data`` (e.g. Debian's ``libespeak-ng1``).

libespeak-ng keeps hidden state between calls (pitch flutter, noise), so the
same sentence said twice in one process differs by a few samples. Every
:func:`synthesize` call therefore loads a fresh copy of the library and unloads
it afterwards (about 3 ms): the output depends on the arguments only, not on
what the process said before, so corpora are identical whatever the number of
worker processes. The library is not thread-safe: use processes, not threads.

Example
-------
>>> wav, phonemes = synthesize("bin blue", sample_rate=16000)
>>> wav.dtype.name, phonemes[1][0], phonemes[-1][2] == len(wav) / 16000
('float32', 'b', True)
"""

import contextlib
import ctypes
import os
from dataclasses import dataclass, field

import numpy as np
import torch

from speechbrain_v2s.audio.features import SAMPLE_RATE, resample

try:  # dlclose is what makes every call start from a fresh library state
    from _ctypes import dlclose as _dlclose
except ImportError:  # pragma: no cover - not on POSIX
    _dlclose = None

LIBRARY_ENV = "V2S_ESPEAK_LIBRARY"
DATA_ENV = "V2S_ESPEAK_DATA"

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x1
_INIT_DONT_EXIT = 0x8000  # without it a bad data path calls exit()
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PHONEMES_INPUT = 0x100  # lets text hold [[phoneme mnemonics]]
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAM_RATE, _PARAM_PITCH, _PARAM_RANGE = 1, 3, 4
_MAX_DATA_PATH = 160  # longer paths overflow a fixed buffer inside espeak-ng


class EspeakError(RuntimeError):
    """libespeak-ng cannot be loaded or refuses a request.

    Example
    -------
    >>> str(EspeakError("cannot load libespeak-ng"))
    'cannot load libespeak-ng'
    """


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


def library_path():
    """The libespeak-ng to load: ``$V2S_ESPEAK_LIBRARY`` or the wheel's.

    Example
    -------
    >>> os.path.basename(library_path()).startswith("libespeak-ng")
    True
    """
    if os.environ.get(LIBRARY_ENV):
        return os.environ[LIBRARY_ENV]
    try:
        import espeakng_loader
    except ImportError as err:
        raise EspeakError(
            "espeakng-loader is not installed (pip install espeakng-loader), "
            f"and {LIBRARY_ENV} is not set"
        ) from err
    return espeakng_loader.get_library_path()


def data_path():
    """The espeak-ng-data folder: ``$V2S_ESPEAK_DATA`` or the wheel's.

    Example
    -------
    >>> os.path.isdir(os.path.join(data_path(), "voices"))
    True
    """
    if os.environ.get(DATA_ENV):
        return os.environ[DATA_ENV]
    try:
        import espeakng_loader

        return espeakng_loader.get_data_path()
    except (ImportError, RuntimeError) as err:
        raise EspeakError(f"no espeak-ng-data found ({err}); set {DATA_ENV}") from err


@dataclass
class Synthesis:
    """One synthesised utterance.

    Attributes
    ----------
    waveform : numpy.ndarray
        float32 mono samples in [-1, 1] at ``sample_rate``.
    sample_rate : int
        Rate of ``waveform``.
    phonemes : list of tuple
        ``(phoneme, start_s, end_s)`` covering the waveform without gaps;
        espeak mnemonics with stress marks (``'eI``), pauses start with ``_``.
    words : list of tuple
        ``(word_index, start_s, end_s)``: the span of each input word's
        phonemes (index into the ``words`` given to :meth:`Espeak.synthesize`).

    Example
    -------
    >>> s = Synthesis(np.zeros(10, np.float32), 10, [("_", 0.0, 1.0)], [])
    >>> s.duration
    1.0
    """

    waveform: np.ndarray
    sample_rate: int
    phonemes: list = field(default_factory=list)
    words: list = field(default_factory=list)

    @property
    def duration(self):
        """Length of ``waveform`` in seconds.

        Example
        -------
        >>> Synthesis(np.zeros(5, np.float32), 10).duration
        0.5
        """
        return len(self.waveform) / self.sample_rate


def _word_offsets(words):
    """Text for espeak and the 1-based ``[start, end)`` character span per word."""
    spans, text = [], ""
    for word in words:
        if text:
            text += " "
        start = len(text.encode("utf-8")) + 1
        text += word
        spans.append((start, len(text.encode("utf-8")) + 1))
    return text, spans


class Espeak:
    """libespeak-ng with phoneme events, loaded afresh for every utterance.

    Arguments
    ---------
    library : str, optional
        Shared library path (default :func:`library_path`).
    data : str, optional
        ``espeak-ng-data`` folder (default :func:`data_path`).

    Raises
    ------
    EspeakError
        The library cannot be loaded or initialised.

    Example
    -------
    >>> engine = Espeak()
    >>> engine.native_rate
    22050
    >>> out = engine.synthesize(["bin", "blue"], voice="en-us+m3", sample_rate=24000)
    >>> [i for i, _, _ in out.words], out.sample_rate
    ([0, 1], 24000)
    """

    def __init__(self, library=None, data=None):
        self.library = library or library_path()
        self.data = data or data_path()
        if len(self.data) >= _MAX_DATA_PATH:
            raise EspeakError(
                f"espeak-ng-data path is {len(self.data)} characters, "
                f"libespeak-ng needs fewer than {_MAX_DATA_PATH}: {self.data}"
            )
        if not os.path.isdir(os.path.join(self.data, "voices")):
            raise EspeakError(f"not an espeak-ng-data folder: {self.data}")
        self._chunks = []
        self._events = []
        self._callback = _CALLBACK(self._collect)  # kept alive with the engine
        with self._loaded(seed=0) as lib:
            version = ctypes.c_char_p()
            lib.espeak_Info.restype = ctypes.c_char_p
            self.version = (lib.espeak_Info(ctypes.byref(version)) or b"").decode()

    def _collect(self, wav, count, events):
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (count,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type in (_EVENT_WORD, _EVENT_PHONEME):
                name = bytes(event.id).split(b"\0")[0].decode("utf-8", "replace")
                self._events.append(
                    (event.type, event.text_position, event.sample, name)
                )
            i += 1
        return 0

    def _open(self):
        try:
            lib = ctypes.CDLL(self.library)
        except OSError as err:
            raise EspeakError(
                f"cannot load libespeak-ng from {self.library} ({err}); "
                f"install espeakng-loader or set {LIBRARY_ENV}"
            ) from err
        if not hasattr(lib, "espeak_Initialize"):
            raise EspeakError(f"{self.library} is not libespeak-ng")
        lib.espeak_Initialize.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        return lib

    @contextlib.contextmanager
    def _loaded(self, seed):
        """A freshly loaded, initialised library; unloaded on exit."""
        lib = self._open()
        handle = lib._handle
        initialised = False
        try:
            rate = lib.espeak_Initialize(
                _AUDIO_OUTPUT_SYNCHRONOUS,
                0,
                self.data.encode(),
                _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT,
            )
            if rate <= 0:
                raise EspeakError(
                    f"libespeak-ng failed to initialise with data {self.data}"
                )
            initialised = True
            self.native_rate = int(rate)
            lib.espeak_SetSynthCallback(self._callback)
            if hasattr(lib, "espeak_ng_SetRandSeed"):  # 1.52+
                lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
            yield lib
        finally:
            if initialised:
                lib.espeak_Terminate()
            del lib
            if _dlclose is not None:
                _dlclose(handle)

    def synthesize(
        self,
        words,
        voice="en-us",
        pitch=50,
        rate=175,
        pitch_range=50,
        sample_rate=SAMPLE_RATE,
        seed=0,
    ):
        """Speak ``words`` and time every phoneme and word.

        Arguments
        ---------
        words : str or list of str
            The text, or its words (a word may be ``[[phonemes]]`` in espeak
            mnemonics, e.g. ``[['eI]]`` for the letter name "a").
        voice : str
            espeak voice name with an optional ``+variant`` (``en+f3``).
        pitch, pitch_range : int
            0-100, relative to the voice's own range.
        rate : int
            Words per minute (80-450).
        sample_rate : int
            Output rate (espeak speaks at 22,050 Hz; resampled).
        seed : int
            Seed of espeak's noise generator.

        Returns
        -------
        Synthesis

        Example
        -------
        >>> out = Espeak().synthesize("bin blue", sample_rate=22050)
        >>> out.phonemes[1][0], round(out.duration, 1)
        ('b', 0.6)
        """
        if isinstance(words, str):
            words = words.split()
        if not words:
            raise EspeakError("nothing to say (empty text)")
        text, spans = _word_offsets(words)
        self._chunks, self._events = [], []
        with self._loaded(seed) as lib:
            name = voice.encode()
            if lib.espeak_SetVoiceByName(name) != 0:
                raise EspeakError(f"unknown espeak voice {voice!r}")
            for param, value in (
                (_PARAM_RATE, rate),
                (_PARAM_PITCH, pitch),
                (_PARAM_RANGE, pitch_range),
            ):
                lib.espeak_SetParameter(param, int(value), 0)
            data = text.encode("utf-8")
            status = lib.espeak_Synth(
                data,
                len(data) + 1,
                0,
                _POS_CHARACTER,
                0,
                _CHARS_UTF8 | _PHONEMES_INPUT,
                None,
                None,
            )
            if status != 0:
                raise EspeakError(f"espeak_Synth failed (status {status}) on {text!r}")
        if not self._chunks:
            raise EspeakError(f"espeak produced no audio for {text!r}")
        native = np.concatenate(self._chunks)
        phonemes, word_spans = self._timeline(native.size, spans)
        wav = native.astype(np.float32) / 32768.0
        if sample_rate != self.native_rate:
            wav = resample(torch.from_numpy(wav), self.native_rate, sample_rate)
            wav = wav.numpy().astype(np.float32, copy=False)
        # Times stay in seconds; the last phoneme ends exactly at the new length.
        scale = len(wav) / sample_rate / (native.size / self.native_rate)
        phonemes = [(p, s * scale, e * scale) for p, s, e in phonemes]
        word_spans = [(i, s * scale, e * scale) for i, s, e in word_spans]
        return Synthesis(wav, sample_rate, phonemes, word_spans)

    def _timeline(self, total, spans):
        """Phoneme and word spans (seconds) from the collected events."""
        rate = float(self.native_rate)
        starts, names, owners = [], [], []
        current = None
        for kind, position, sample, name in self._events:
            if kind == _EVENT_WORD:
                current = next(
                    (i for i, (a, b) in enumerate(spans) if a <= position < b),
                    current,
                )
                continue
            if starts and sample == starts[-1] and names[-1] == name:
                continue
            starts.append(min(max(sample, 0), total))
            names.append(name)
            owners.append(None if name.startswith("_") else current)
        if not starts or starts[0] > 0:
            # espeak starts with a few ms of silence it does not announce.
            starts.insert(0, 0)
            names.insert(0, "_")
            owners.insert(0, None)
        ends = starts[1:] + [total]
        phonemes, words = [], {}
        for name, owner, start, end in zip(names, owners, starts, ends):
            if end <= start:
                continue  # zero-length markers (e.g. ';')
            phonemes.append((name, start / rate, end / rate))
            if owner is not None:
                first = words.get(owner, (start, end))[0]
                words[owner] = (first, end)
        word_spans = [(i, s / rate, e / rate) for i, (s, e) in sorted(words.items())]
        return phonemes, word_spans


_ENGINE = None


def get_engine():
    """This process's :class:`Espeak` (created on first use).

    Example
    -------
    >>> get_engine() is get_engine()
    True
    """
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Espeak()
    return _ENGINE


def synthesize(
    text,
    voice="en-us",
    pitch=50,
    rate=175,
    pitch_range=50,
    sample_rate=SAMPLE_RATE,
    seed=0,
):
    """Speak ``text``: float32 waveform at ``sample_rate`` and phoneme timings.

    Arguments
    ---------
    text : str
        What to say (``[[...]]`` spans are espeak phoneme mnemonics).
    voice : str
        espeak voice with optional ``+variant`` (``en-us+m3``, ``en+f2``).
    pitch, pitch_range : int
        0-100.
    rate : int
        Words per minute.
    sample_rate : int
        Output rate.
    seed : int
        Noise seed.

    Returns
    -------
    tuple
        ``(waveform, phonemes)``: float32 ``[samples]`` and a list of
        ``(phoneme, start_s, end_s)``.

    Raises
    ------
    EspeakError
        The library cannot be loaded, or the voice is unknown.

    Example
    -------
    >>> wav, phonemes = synthesize("place", voice="en+f3")
    >>> [p for p, _, _ in phonemes]
    ['_', 'p', 'l', "'eI", 's', '_:', '_']
    """
    out = get_engine().synthesize(
        text,
        voice=voice,
        pitch=pitch,
        rate=rate,
        pitch_range=pitch_range,
        sample_rate=sample_rate,
        seed=seed,
    )
    return out.waveform, out.phonemes


def check_voice(name):
    """Whether ``name`` (``lang[+variant]``) names an installed voice and variant.

    espeak ignores an unknown variant silently, so it is checked here against
    ``espeak-ng-data/voices/!v``.

    Example
    -------
    >>> check_voice("en-us+m3"), check_voice("en-us+nobody")
    (True, False)
    """
    lang, _, variant = name.partition("+")
    if not lang:
        return False
    if variant:
        return os.path.isfile(os.path.join(data_path(), "voices", "!v", variant))
    return True
