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

import numpy as np
import soundfile
import torch

from speechbrain_v2s.atomic import atomic_open
from speechbrain_v2s.audio.features import SAMPLE_RATE, resample
from speechbrain_v2s.errors import FileError, first_line


# Still a RuntimeError, as it was before it shared FileError's shape.
class AudioReadError(FileError, RuntimeError):
    """An audio file that cannot be used, with the file and the reason.

    Example
    -------
    >>> str(AudioReadError("x.wav", "empty file"))
    'x.wav: empty file'
    """


# Formats libsndfile is the reference reader for: no fallback decoder.
_SNDFILE_NATIVE = (".wav", ".flac")


def _read_with_soundfile(path):
    return soundfile.read(path, dtype="float32", always_2d=True)


def _read_with_pyav(path):
    import av

    chunks, sr = [], None
    with av.open(path) as container:
        if not container.streams.audio:
            raise AudioReadError(path, "no audio stream")
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            sr = frame.sample_rate
            data = frame.to_ndarray()
            if frame.format.is_planar:
                data = data.T
            else:
                data = data.reshape(-1, len(frame.layout.channels))
            chunks.append(data.astype(np.float32))
    if not chunks:
        return np.zeros((0, 1), np.float32), sr or 0
    return np.concatenate(chunks), sr


def _read_with_torchaudio(path):
    import torchaudio

    wav, sr = torchaudio.load(path)
    return wav.numpy().T.astype(np.float32), sr


def read_audio(path):
    """Decode ``path`` to float32 ``[samples, channels]`` and its sample rate.

    The project's one audio decoder. ``soundfile`` first; for formats other
    than wav/flac (mp3, ogg, m4a, ...), whose libsndfile support depends on the
    build, PyAV and then ``torchaudio`` are tried before giving up.

    Raises
    ------
    AudioReadError
        Missing, empty or undecodable file, naming the file and every
        decoder's reason.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.flac")
    >>> soundfile.write(path, np.full(800, 0.25), 8000)
    >>> data, sr = read_audio(path)
    >>> data.shape, sr, round(float(data.max()), 2)
    ((800, 1), 8000, 0.25)
    >>> _ = open(path, "wb").write(b"not audio")
    >>> read_audio(path)
    Traceback (most recent call last):
    ...
    speechbrain_v2s.audio.io.AudioReadError: /...a.flac: unreadable audio (...)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AudioReadError(path, "file not found")
    if os.path.getsize(path) == 0:
        raise AudioReadError(path, "empty file (0 bytes)")
    readers = [("soundfile", _read_with_soundfile)]
    if not path.lower().endswith(_SNDFILE_NATIVE):
        readers += [("pyav", _read_with_pyav), ("torchaudio", _read_with_torchaudio)]
    errors = []
    for name, reader in readers:
        try:
            return reader(path)
        except AudioReadError:
            raise
        except Exception as err:  # each backend raises its own types
            errors.append(f"{name}: {first_line(err)}")
    raise AudioReadError(path, "unreadable audio (" + "; ".join(errors) + ")")


def load_audio(path, sample_rate=SAMPLE_RATE):
    """Load ``path`` as a mono float tensor ``[samples]`` at ``sample_rate``.

    Decoded by :func:`read_audio`; multi-channel files are averaged to mono;
    any rate is resampled.

    Arguments
    ---------
    path : str
        wav/flac, or any format :func:`read_audio` decodes (mp3, ogg, m4a...).
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
    data, sr = read_audio(path)
    if data.size == 0:
        raise AudioReadError(path, "no samples")
    wav = torch.from_numpy(np.ascontiguousarray(data.T)).mean(dim=0)
    return resample(wav, int(sr), sample_rate)


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
