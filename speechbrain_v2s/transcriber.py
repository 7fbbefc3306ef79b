"""What every WER judge shares: the :class:`Transcriber` interface, its error,
the audio every model is given, and telling a model folder from a Hub id.

The judges implement it in :mod:`speechbrain_v2s.asr` (PocketSphinx,
SpeechBrain ASR) and :mod:`speechbrain_v2s.judges_hf` (Whisper); which one a
spec string names is decided above both, in
:func:`speechbrain_v2s.evaluation.judges.make_transcriber`, so neither judge
module imports the other.

Example
-------
>>> import torch
>>> class Constant(Transcriber):
...     def transcribe(self, wav, sample_rate=SAMPLE_RATE):
...         return "bin blue"
>>> Constant().transcribe_batch([torch.zeros(10), torch.zeros(20)])
['bin blue', 'bin blue']
"""

import os

import torch

from speechbrain_v2s.audio.features import SAMPLE_RATE, resample


class TranscriberError(RuntimeError):
    """An ASR model that cannot be loaded or run, with the reason.

    Example
    -------
    >>> str(TranscriberError("no model"))
    'no model'
    """


class Transcriber:
    """Speech to text: the interface the evaluation uses for WER.

    A subclass implements :meth:`transcribe` (one waveform) or
    :meth:`transcribe_batch` (several, for models that decode a padded
    batch); the other one comes from it. ``parallel_safe`` says whether a copy
    may be sent to worker processes (cheap to pickle, loads its model
    lazily); otherwise the evaluation runs ASR in the main process.

    Example
    -------
    >>> import torch
    >>> class Lengths(Transcriber):
    ...     def transcribe_batch(self, wavs, sample_rate=SAMPLE_RATE):
    ...         return [str(len(w)) for w in wavs]
    >>> Lengths().transcribe(torch.zeros(7))
    '7'
    >>> Transcriber().transcribe(torch.zeros(7))
    Traceback (most recent call last):
    ...
    NotImplementedError: Transcriber implements neither transcribe nor transcribe_batch
    """

    parallel_safe = False

    def transcribe(self, wav, sample_rate=SAMPLE_RATE):
        """Text of one mono waveform ``[samples]`` at ``sample_rate``."""
        if type(self).transcribe_batch is Transcriber.transcribe_batch:
            raise NotImplementedError(
                f"{type(self).__name__} implements neither transcribe nor "
                "transcribe_batch"
            )
        return self.transcribe_batch([wav], sample_rate)[0]

    def transcribe_batch(self, wavs, sample_rate=SAMPLE_RATE):
        """Texts of a list of mono waveforms (any lengths), in order.

        Arguments
        ---------
        wavs : list of torch.Tensor
            ``[samples]`` each.
        sample_rate : int
            Rate of all of them.

        Returns
        -------
        list of str
        """
        return [self.transcribe(wav, sample_rate) for wav in wavs]


def mono_at(wavs, sample_rate, rate):
    """Waveforms as the models take them: mono float32 CPU ``[samples]`` at ``rate``.

    Example
    -------
    >>> import torch
    >>> [w.shape for w in mono_at([torch.zeros(1, 2400)], 24000, 16000)]
    [torch.Size([1600])]
    """
    return [
        resample(
            torch.as_tensor(w, dtype=torch.float32).detach().cpu().reshape(-1),
            sample_rate,
            rate,
        )
        for w in wavs
    ]


def looks_like_path(source):
    """Whether a model ``source`` names a folder rather than a Hub id.

    Hub ids are ``<user>/<model>``: a source that is absolute, starts with
    ``.`` or ``~``, or has more than one ``/`` is a folder, and a missing one
    is an error rather than a download attempt.

    Example
    -------
    >>> looks_like_path("/models/asr"), looks_like_path("./asr")
    (True, True)
    >>> looks_like_path("speechbrain/asr-crdnn"), looks_like_path("runs/a/b")
    (False, True)
    """
    return (
        os.path.isabs(source)
        or source.startswith((".", "~"))
        or source.count("/") > 1
        or os.sep != "/"
        and os.sep in source
    )
