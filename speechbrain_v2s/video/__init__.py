"""Video: decoding, mouth regions, typed errors (see the modules).

The list of video containers lives here, not in :mod:`~speechbrain_v2s.video.io`,
so data preparation can use it without importing OpenCV in every worker.

Example
-------
>>> ".mpg" in VIDEO_EXTENSIONS and ".wav" not in VIDEO_EXTENSIONS
True
"""

#: Video containers looked for in folders, by preprocessing and data preparation.
VIDEO_EXTENSIONS = (
    ".mp4",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".avi",
    ".mov",
    ".mkv",
    ".webm",
    ".flv",
    ".wmv",
    ".3gp",
)
