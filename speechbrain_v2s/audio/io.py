"""Reading and writing audio files at the project's sample rate.

Example
-------
>>> import tempfile, os, torch
>>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
>>> write_audio(path, torch.zeros(2400), 24000)
>>> load_audio(path, sample_rate=16000).shape
torch.Size([1600])
"""

import os

import soundfile
import torch
from speechbrain.dataio import audio_io

from speechbrain_v2s.atomic import atomic_open
from speechbrain_v2s.audio.features import SAMPLE_RATE, resample
from speechbrain_v2s.errors import FileError


# Still a RuntimeError, as it was before it shared FileError's shape.
class AudioReadError(FileError, RuntimeError):
    """An audio file that cannot be used, with the file and the reason.

    Example
    -------
    >>> str(AudioReadError("x.wav", "empty file"))
    'x.wav: empty file'
    """


def load_audio(path, sample_rate=SAMPLE_RATE):
    """Load ``path`` as a mono float tensor ``[samples]`` at ``sample_rate``.

    Multi-channel files are averaged to mono; any rate is resampled.

    Arguments
    ---------
    path : str
        wav/flac/ogg/mp3 (whatever libsndfile reads).
    sample_rate : int
        Output rate (24 kHz by default).

    Returns
    -------
    torch.Tensor

    Raises
    ------
    AudioReadError
        Missing, unreadable or empty file, naming the file.

    Example
    -------
    >>> load_audio("/nonexistent.wav")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.audio.io.AudioReadError: /nonexistent.wav: file not found
    """
    if not os.path.isfile(path):
        raise AudioReadError(path, "file not found")
    try:
        wav, sr = audio_io.load(str(path), dtype=torch.float32)
    except Exception as err:  # libsndfile's errors vary by format
        raise AudioReadError(
            path, f"unreadable audio ({err.__cause__ or err})"
        ) from err
    if wav.numel() == 0:
        raise AudioReadError(path, "no samples")
    wav = wav.mean(dim=0)
    return resample(wav, sr, sample_rate)


def write_audio(path, wav, sample_rate=SAMPLE_RATE, format=None):
    """Write a mono ``[samples]`` float tensor as 16-bit PCM, atomically.

    The file is written under a temporary name beside ``path`` and renamed
    (:func:`speechbrain_v2s.atomic.atomic_open`): a killed run never leaves
    half a file under the final name. It is written through an open file, so
    any file name works (libsndfile refuses names that are not UTF-8).

    Arguments
    ---------
    path : str or os.PathLike
        Output file; its folder is created.
    wav : torch.Tensor
        Samples in [-1, 1] (clipped).
    sample_rate : int
        Their rate.
    format : str, optional
        libsndfile format (``"WAV"``, ``"FLAC"``); by default from the
        extension of ``path``.

    Example
    -------
    >>> import tempfile, os, torch
    >>> p = os.path.join(tempfile.mkdtemp(), "b.wav")
    >>> write_audio(p, torch.ones(10) * 0.5, 24000)
    >>> round(float(load_audio(p)[0]), 3), os.listdir(os.path.dirname(p))
    (0.5, ['b.wav'])
    >>> write_audio(p + ".part", torch.zeros(10))
    Traceback (most recent call last):
    ...
    ValueError: ...b.wav.part: no audio format for the extension '.part' ...
    """
    if format is None:
        ext = os.path.splitext(os.fsdecode(path))[1]
        format = ext[1:].upper()
        if format not in soundfile.available_formats():
            raise ValueError(
                f"{path}: no audio format for the extension {ext!r} "
                "(use .wav or .flac, or give format=)"
            )
    samples = torch.as_tensor(wav).detach().float().cpu().reshape(-1).clamp(-1, 1)
    with atomic_open(path) as handle:
        soundfile.write(
            handle, samples.numpy(), sample_rate, subtype="PCM_16", format=format
        )
