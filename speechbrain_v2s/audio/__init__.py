"""Audio: the one mel function and resampling, reading and writing files.

The list of audio formats lives here, not in :mod:`~speechbrain_v2s.audio.io`,
so data preparation can use it without importing torch in every worker.

Example
-------
>>> ".flac" in AUDIO_EXTENSIONS
True
"""

#: Audio files looked for in folders (libsndfile reads them all).
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
