"""Probing candidate entries: each entry's files are checked (readable, not
silent, audio and video of the same length, duration within the filters) and
its ``duration``, ``sr``, ``frames`` and ``fps`` filled in; a bad file becomes
a report row, never an error.
"""

from speechbrain_v2s.audio.io import read_audio
from speechbrain_v2s.errors import FileError, first_line
from speechbrain_v2s.prepare.media import (
    SILENCE_PEAK,
    SILENCE_RMS,
    audio_info,
    silence_reason,
    video_audio_info,
    video_info,
)
from speechbrain_v2s.prepare.parallel import parallel_map
from speechbrain_v2s.prepare.reports import BadFileError

# An audio stream's duration in a container header includes the codec's
# priming/padding (AAC: 1024 priming samples plus up to one 1024-sample frame),
# so in-video audio gets this much extra slack before a length warning.
CODEC_PADDING_SAMPLES = 2048


def duration_reason(duration, min_duration=None, max_duration=None):
    """Why ``duration`` fails the filters, or ``None`` if it passes.

    Example
    -------
    >>> duration_reason(0.3, min_duration=0.5)
    'too short (0.3 s < 0.5 s)'
    >>> duration_reason(40.0, max_duration=30), duration_reason(3.0, 0.5, 30)
    ('too long (40 s > 30 s)', None)
    """
    if min_duration is not None and duration < min_duration:
        return f"too short ({duration:.3g} s < {min_duration:.3g} s)"
    if max_duration is not None and duration > max_duration:
        return f"too long ({duration:.3g} s > {max_duration:.3g} s)"
    return None


def av_mismatch(video_duration, audio_duration, fps, tolerance, slack=0.0):
    """Classify an audio/video length difference.

    Arguments
    ---------
    video_duration, audio_duration : float
        Seconds.
    fps : float
        Video frame rate (one frame's worth is the warning threshold).
    tolerance : float or None
        Seconds of difference above which the entry is skipped (``None``:
        always kept).
    slack : float
        Seconds added to the one-frame warning threshold (codec padding of an
        audio stream inside a container, see :data:`CODEC_PADDING_SAMPLES`).

    Returns
    -------
    tuple
        ``(action, reason)``: ``(None, None)`` when within one frame, else
        ``("kept" | "skipped", reason)``.

    Example
    -------
    >>> av_mismatch(3.0, 3.02, 25, 0.2)
    (None, None)
    >>> av_mismatch(3.0, 3.1, 25, 0.2)
    ('kept', 'audio/video length differ by 0.1 s (audio 3.1 s, video 3 s)')
    >>> av_mismatch(3.0, 1.5, 25, 0.2)[0]
    'skipped'
    >>> av_mismatch(3.0, 3.1, 25, 0.2, slack=0.128)
    (None, None)
    """
    difference = abs(audio_duration - video_duration)
    if difference <= 1.0 / fps + slack + 1e-6:
        return None, None
    reason = (
        f"audio/video length differ by {difference:.3g} s "
        f"(audio {audio_duration:.4g} s, video {video_duration:.4g} s)"
    )
    if tolerance is not None and difference > tolerance:
        return "skipped", reason
    return "kept", reason


def probe_settings(
    min_duration=None,
    max_duration=None,
    check_silence=True,
    silence_peak=SILENCE_PEAK,
    silence_rms=SILENCE_RMS,
    exact_frames="auto",
    av_tolerance=0.2,
):
    """The settings dict :func:`probe_entry` takes (defaults filled in).

    Arguments
    ---------
    min_duration, max_duration : float, optional
        Duration filters in seconds.
    check_silence : bool
        Decode separate audio files and skip silent ones.
    silence_peak, silence_rms : float
        Silence thresholds (see :func:`silence_reason`).
    exact_frames : bool or "auto"
        See :func:`video_info`.
    av_tolerance : float or None
        Audio/video length difference (s) above which an entry is skipped;
        above one frame it is only reported.

    Example
    -------
    >>> probe_settings(max_duration=10)["max_duration"]
    10
    """
    return {
        "min_duration": min_duration,
        "max_duration": max_duration,
        "check_silence": check_silence,
        "silence_peak": silence_peak,
        "silence_rms": silence_rms,
        "exact_frames": exact_frames,
        "av_tolerance": av_tolerance,
    }


def probe_entry(entry, settings=None):
    """Fill in ``duration``, ``sr`` (and ``frames``, ``fps`` for videos) of one entry.

    ``entry`` has ``wav`` (audio file) and/or ``video``; with
    ``audio_in_video`` true the audio is the video's own stream. For videos,
    ``duration`` is the video's (``frames / fps``), the length the aligned
    pipeline uses; otherwise the audio's.

    Arguments
    ---------
    entry : dict
        Candidate entry.
    settings : dict, optional
        From :func:`probe_settings`.

    Returns
    -------
    tuple
        ``(entry or None, rows)``: the completed entry (``None`` when skipped)
        and report rows for it.

    Example
    -------
    >>> import os, tempfile, soundfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> soundfile.write(path, np.full(4000, 0.1), 16000)
    >>> entry, rows = probe_entry({"id": "a", "wav": path})
    >>> entry["duration"], entry["sr"], rows
    (0.25, 16000, [])
    >>> probe_entry({"id": "a", "wav": path}, probe_settings(min_duration=1))[0] is None
    True
    """
    settings = settings or probe_settings()
    rows = []
    out = dict(entry)
    current = entry.get("video") or entry.get("wav")
    try:
        video = None
        if entry.get("video"):
            current = entry["video"]
            video = video_info(current, settings["exact_frames"])
            out["frames"], out["fps"] = video["frames"], video["fps"]
        audio = None
        if entry.get("audio_in_video"):
            audio = video_audio_info(entry["video"])
            if audio is None:
                raise BadFileError(entry["video"], "no audio stream in the video")
        elif entry.get("wav"):
            current = entry["wav"]
            audio = audio_info(current)
        if audio is not None:
            out["sr"] = audio["sr"]
        duration = video["duration"] if video else audio["duration"]
        out["duration"] = round(duration, 4)
        if video and audio and audio.get("duration"):
            in_video = entry.get("audio_in_video") and audio.get("sr")
            action, reason = av_mismatch(
                video["duration"],
                audio["duration"],
                video["fps"],
                settings["av_tolerance"],
                CODEC_PADDING_SAMPLES / audio["sr"] if in_video else 0.0,
            )
            if action == "skipped":
                raise BadFileError(current, reason)
            if action == "kept":
                rows.append({"file": current, "reason": reason, "action": "kept"})
        reason = duration_reason(
            duration, settings["min_duration"], settings["max_duration"]
        )
        if reason:
            raise BadFileError(current, reason)
        if (
            settings["check_silence"]
            and entry.get("wav")
            and not out.get("audio_in_video")
        ):
            current = entry["wav"]
            data, _ = read_audio(current)
            reason = silence_reason(
                data, settings["silence_peak"], settings["silence_rms"]
            )
            if reason:
                raise BadFileError(current, reason)
    except FileError as err:  # a skipped file gets no other (warning) row
        return None, [{"file": err.path, "reason": err.reason, "action": "skipped"}]
    except Exception as err:  # never let one file stop the preparation
        return None, [
            {
                "file": str(current),
                "reason": f"unexpected error ({type(err).__name__}: {first_line(err)})",
                "action": "skipped",
            }
        ]
    return out, rows


def _probe_task(task):
    return probe_entry(*task)


def probe_entries(
    entries, report, settings=None, num_workers=None, progress=True, desc="probing"
):
    """Probe candidate entries in parallel; return those kept, report the others.

    Arguments
    ---------
    entries : list of dict
        Candidates (see :func:`probe_entry`).
    report : PrepareReport
        Receives a row per skipped file and per warning.
    settings : dict, optional
        From :func:`probe_settings`.
    num_workers : int, optional
        Worker processes (see :func:`parallel_map`).
    progress : bool
        Show a progress bar.
    desc : str
        Progress bar label.

    Returns
    -------
    list of dict
        Completed entries, in input order.

    Example
    -------
    >>> import os, tempfile
    >>> from speechbrain_v2s.prepare.reports import PrepareReport
    >>> bad = os.path.join(tempfile.mkdtemp(), "bad.wav")
    >>> _ = open(bad, "wb").write(b"not audio")
    >>> report = PrepareReport()
    >>> probe_entries([{"id": "x", "wav": bad}], report, progress=False)
    []
    >>> print(report.rows[0]["reason"])
    unreadable audio (soundfile: Error opening ...: Format not recognised.)
    """
    settings = settings or probe_settings()
    tasks = [(entry, settings) for entry in entries]
    kept = []
    for entry, rows in parallel_map(
        _probe_task, tasks, num_workers, desc=desc, progress=progress
    ):
        report.extend(rows)
        if entry is not None:
            kept.append(entry)
    return kept


def fill_missing(entries, report, field, default, reason):
    """Set ``field`` to ``default`` where it is ``None``, with a report warning.

    Called after :func:`probe_entries`, so that files skipped anyway get no
    extra warning.

    Example
    -------
    >>> from speechbrain_v2s.prepare.reports import PrepareReport
    >>> report = PrepareReport()
    >>> entries = [{"id": "a", "video": "a.mp4", "text": None}]
    >>> fill_missing(entries, report, "text", "", "no transcript")[0]["text"]
    ''
    >>> report.rows
    [{'file': 'a.mp4', 'reason': 'no transcript', 'action': 'kept'}]
    """
    for entry in entries:
        if entry.get(field) is None:
            report.warn(entry.get("video") or entry.get("wav"), reason)
            entry[field] = default
    return entries


def drop_duplicates(entries, report, key="id"):
    """Keep the first entry of each ``key``; report the others.

    Example
    -------
    >>> from speechbrain_v2s.prepare.reports import PrepareReport
    >>> report = PrepareReport()
    >>> entries = [{"id": "a", "wav": "1.wav"}, {"id": "a", "wav": "2.wav"}]
    >>> [e["wav"] for e in drop_duplicates(entries, report)], report.rows[0]["reason"]
    (['1.wav'], 'duplicate id a (first: 1.wav)')
    """
    seen, kept = {}, []
    for entry in entries:
        first = seen.get(entry[key])
        if first is not None:
            path = entry.get("video") or entry.get("wav")
            report.skip(path, f"duplicate {key} {entry[key]} (first: {first})")
            continue
        seen[entry[key]] = entry.get("video") or entry.get("wav")
        kept.append(entry)
    return kept
