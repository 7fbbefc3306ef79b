"""Video: decoding, mouth regions, typed errors (see the modules).

The list of video containers lives here, not in :mod:`~speechbrain_v2s.video.io`,
so data preparation can use it without importing OpenCV in every worker.

Example
-------
>>> ".mpg" in VIDEO_EXTENSIONS and ".wav" not in VIDEO_EXTENSIONS
True
"""

import os

# OpenCV's bundled FFmpeg prints decoder complaints ("[mov,mp4,...] partial
# file") straight to stderr, between the one-line reports of bad inputs; the
# readers report what matters themselves. Read when OpenCV first opens a video;
# a level the user set wins.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET

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
