"""Frame timing: decoded frames onto a constant frame rate by their timestamps,
and a check that a file decoded as far as its container says it should.

Videos are not always at a constant rate (phones record variable frame rate),
so the rate stored in the header does not place every frame in time: a 3 s
clip whose second half runs at 12.5 fps holds 50 frames, which read as 2 s at
a stated 25 fps. :class:`TimedResampler` places each frame at its presentation
time instead; on a constant-rate file it picks exactly the frames of
:func:`.io.resample_indices`.

Example
-------
>>> r = TimedResampler(25.0, 25.0)
>>> times = [0.0, 0.04, 0.08, 0.16]  # the 4th frame shows for two frame times
>>> picked = [out for i, t in enumerate(times) for out in r.push(i, t)]
>>> picked + r.finish()
[0, 1, 2, 2, 3]
"""

import logging
import math
from collections import deque

logger = logging.getLogger(__name__)

# A timestamp this close to a whole frame position is that position: Matroska
# stores milliseconds (a 59.94 fps frame is up to 0.03 frame off), and that
# rounding must not turn near-ties of the nearest-frame rule.
_SNAP = 0.1


class TimedResampler:
    """Nearest-in-time frame-rate conversion fed one decoded frame at a time.

    A frame's position is its time since the first frame in units of
    ``1 / source_fps``; output frame ``j`` (at position
    ``j * source_fps / target_fps``) takes the frame nearest to it, ties to the
    earlier one, and the last frame lasts ``1 / source_fps``. A frame without a
    usable timestamp (missing, or not after the previous one) is placed one
    position after the previous frame, as at a constant rate. Output ``j`` is
    released as soon as a frame at or after its time has arrived.

    Arguments
    ---------
    source_fps : float
        The file's stated rate: the unit of positions and the last frame's
        duration.
    target_fps : float or None
        Output rate; ``None`` passes every frame through in order.

    Example
    -------
    >>> r = TimedResampler(30.0, 25.0)
    >>> picked = [out for i in range(6) for out in r.push(i, i / 30)]
    >>> picked + r.finish(), r.seen, r.covered
    ([0, 1, 2, 4, 5], 6, 6.0)

    A skipped time, then one not after its predecessor (reordering jitter),
    keeps the count:

    >>> r = TimedResampler(25.0, 25.0)
    >>> times = [0.0, 0.04, 0.12, 0.12, 0.16]
    >>> picked = [out for i, t in enumerate(times) for out in r.push(i, t)]
    >>> picked + r.finish()
    [0, 1, 1, 2, 4]
    """

    def __init__(self, source_fps, target_fps):
        self.source_fps = float(source_fps)
        self.step = None if target_fps is None else self.source_fps / target_fps
        if self.step is not None and abs(self.source_fps - target_fps) < 1e-3:
            self.step = 1.0  # the stated rate is the target: positions are frames
        self.recent = deque()  # (position, frame) that may still be picked
        self.first_time = None
        self.last_pos = None
        self.skipped = 0
        self.seen = 0
        self.next_out = 0

    @property
    def covered(self):
        """Source positions spanned so far (the last frame lasting one).

        Example
        -------
        >>> r = TimedResampler(25.0, 25.0)
        >>> _ = r.push("a", 0.0), r.push("b", 0.2)
        >>> r.covered
        6.0
        """
        return 0.0 if self.last_pos is None else self.last_pos + 1.0

    def _position(self, time_s):
        if self.last_pos is None:
            if time_s is not None and math.isfinite(time_s):
                self.first_time = time_s
            return 0.0
        pos = None
        if self.first_time is not None and time_s is not None and math.isfinite(time_s):
            pos = (time_s - self.first_time) * self.source_fps
            if abs(pos - round(pos)) < _SNAP:
                pos = float(round(pos))
        if pos is not None and pos <= self.last_pos and self.skipped >= 1:
            # A time not after the previous one, once a slot was skipped, is
            # reordering jitter (MPEG-PS B-frames), not a rate change: this
            # frame shares the previous slot, which gives the skipped one back.
            self.skipped -= 1
            return self.last_pos
        if pos is None or pos <= self.last_pos:
            pos = self.last_pos + 1.0
        return pos

    def push(self, frame, time_s=None):
        """Add the next decoded frame (shown at ``time_s`` seconds, if known);
        returns the output frames now decided, in order.

        Example
        -------
        >>> r = TimedResampler(50.0, 25.0)
        >>> [r.push(i, i / 50) for i in range(3)]
        [[0], [], [2]]
        """
        pos = self._position(time_s)
        if self.last_pos is not None and 1.5 < pos - self.last_pos < 2.5:
            self.skipped += 1  # one slot skipped: jitter if a time repeats later
        self.last_pos = pos
        self.seen += 1
        if self.step is None:
            return [frame]
        self.recent.append((pos, frame))
        return self._release(final=False)

    def finish(self):
        """The output frames left once the last frame was pushed.

        Example
        -------
        >>> r = TimedResampler(12.5, 25.0)
        >>> r.push("a", 0.0), r.finish()
        (['a'], ['a'])
        """
        if self.step is None or self.seen == 0:
            return []
        return self._release(final=True)

    def _release(self, final):
        count = int(math.floor(self.covered / self.step + 0.5))
        if final:
            count = max(1, count)
        out = []
        while self.next_out < count:
            x = self.next_out * self.step
            if x > self.last_pos and not final:
                break  # a later frame may still be nearer
            # Drop frames that a later one at or before x makes farther.
            while len(self.recent) > 1 and self.recent[1][0] <= x:
                self.recent.popleft()
            before = self.recent[0]
            after = self.recent[1] if len(self.recent) > 1 else None
            pick = before
            if after is not None and after[0] - x < x - before[0]:
                pick = after
            out.append(pick[1])
            self.next_out += 1
        return out


def warn_if_short(path, resampler, declared_frames):
    """Log one warning naming ``path`` when the frames decoded cover clearly
    less time than the container declares (a truncated or damaged file whose
    index survived). Returns whether it warned.

    Arguments
    ---------
    path : str
        The file, for the message.
    resampler : TimedResampler
        Fed with every decoded frame.
    declared_frames : float
        The container's frame count (or duration times ``source_fps``); 0 or
        less when unknown.

    Example
    -------
    >>> r = TimedResampler(25.0, 25.0)
    >>> _ = [r.push(i, i / 25) for i in range(14)]
    >>> warn_if_short("cut.mp4", r, 50)
    True
    >>> warn_if_short("cut.mp4", r, 15)
    False
    """
    if resampler.seen == 0 or not declared_frames or not math.isfinite(declared_frames):
        return False  # nothing decoded is an error of its own; unknown: no claim
    missing = declared_frames - resampler.covered
    # Headers round and edit lists trim a frame or two: only a clear gap counts.
    if missing <= max(2.0, 0.05 * declared_frames):
        return False
    fps = resampler.source_fps
    logger.warning(
        "%s: only %d frames (%.2f s) decoded of the %d (%.2f s) the container "
        "declares; the file looks truncated or damaged",
        path,
        resampler.seen,
        resampler.covered / fps,
        round(declared_frames),
        declared_frames / fps,
    )
    return True


def declared_frames(stream, container, fps):
    """The frame count a PyAV video stream declares, else its (or its
    container's) duration times ``fps``; 0.0 when unknown.

    Example
    -------
    >>> from types import SimpleNamespace as NS
    >>> declared_frames(NS(frames=0, duration=None), NS(duration=2_000_000), 25.0)
    50.0
    """
    if stream.frames:
        return float(stream.frames)
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base) * fps
    if container.duration:  # microseconds
        return container.duration / 1e6 * fps
    return 0.0
