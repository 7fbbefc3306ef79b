"""Phonemes to mouth shapes: viseme targets and coarticulated per-frame tracks.

Each phoneme (espeak-ng mnemonic) has a target mouth shape, five numbers in
[0, 1] (:data:`PARAMETERS`): ``open`` (lip opening), ``width`` (spread),
``round`` (rounding/protrusion), ``teeth`` and ``tongue`` (visibility). The
track is driven by the phoneme *timeline*, never by the audio: targets are
held over each phoneme, weighted by how strongly the phoneme constrains each
parameter (its *dominance*: lips must close for /p b m/, a velar barely
constrains them), smoothed with a Gaussian so that neighbours blend
(coarticulation), and sampled at the video frame times.

Example
-------
>>> track = viseme_track([("_", 0.0, 0.2), ("p", 0.2, 0.3), ("A:", 0.3, 0.6)], 15)
>>> track.shape
(15, 5)
>>> bool(track[6, 0] < 0.1 < 0.6 < track[11, 0])  # closed for /p/, open for /A:/
True
"""

from dataclasses import dataclass

import numpy as np

from speechbrain_v2s.audio.features import VIDEO_FPS

PARAMETERS = ("open", "width", "round", "teeth", "tongue")
OPEN, WIDTH, ROUND, TEETH, TONGUE = range(len(PARAMETERS))
STRESS_MARKS = "'\",%=!"


@dataclass(frozen=True)
class Viseme:
    """Target mouth shape of a phoneme and how strongly it holds it.

    Attributes
    ----------
    open, width, round, teeth, tongue : float
        Targets in [0, 1].
    dominance : tuple of float
        Weight of each target when blended with neighbours (per parameter).

    Example
    -------
    >>> Viseme(0.5, 0.5, 0.0, 0.3, 0.0).targets
    (0.5, 0.5, 0.0, 0.3, 0.0)
    """

    open: float
    width: float
    round: float
    teeth: float
    tongue: float
    dominance: tuple = (1.0, 1.0, 1.0, 1.0, 1.0)

    @property
    def targets(self):
        """The five targets in :data:`PARAMETERS` order.

        Example
        -------
        >>> viseme_for("m").targets[0]
        0.0
        """
        return (self.open, self.width, self.round, self.teeth, self.tongue)


def _v(open_, width, round_, teeth, tongue, dominance=1.0, lips=None):
    """A viseme; ``lips`` overrides the dominance of open/width/round."""
    lips = dominance if lips is None else lips
    return Viseme(
        open_, width, round_, teeth, tongue, (lips, lips, lips, dominance, dominance)
    )


# Rest (pauses): lips lightly together; weak, so short pauses keep the shape.
REST = _v(0.03, 0.45, 0.15, 0.0, 0.0, dominance=0.6)
_VOWEL = _v(0.5, 0.5, 0.1, 0.4, 0.1)
_CONSONANT = _v(0.25, 0.5, 0.1, 0.5, 0.1, dominance=0.7)

# espeak-ng English mnemonics (stress marks removed). Open vowels wide open,
# close vowels nearly closed, rounded vowels narrow and protruded.
VISEMES = {
    # open and open-mid vowels
    "a": _v(0.80, 0.70, 0.00, 0.50, 0.15),
    "aa": _v(0.85, 0.65, 0.00, 0.45, 0.15),
    "a#": _v(0.55, 0.55, 0.05, 0.45, 0.10),
    "A:": _v(0.95, 0.55, 0.05, 0.35, 0.10),
    "A@": _v(0.85, 0.55, 0.10, 0.35, 0.10),
    "A": _v(0.90, 0.55, 0.05, 0.35, 0.10),
    "0": _v(0.80, 0.45, 0.40, 0.30, 0.10),
    "V": _v(0.70, 0.55, 0.05, 0.40, 0.10),
    "aI": _v(0.80, 0.65, 0.00, 0.45, 0.15),
    "aU": _v(0.80, 0.50, 0.30, 0.40, 0.10),
    "O:": _v(0.65, 0.35, 0.70, 0.30, 0.05),
    "O@": _v(0.65, 0.40, 0.60, 0.30, 0.05),
    "O": _v(0.65, 0.35, 0.70, 0.30, 0.05),
    "OI": _v(0.60, 0.40, 0.60, 0.30, 0.05),
    # mid vowels
    "E": _v(0.60, 0.70, 0.00, 0.60, 0.20),
    "e": _v(0.55, 0.70, 0.00, 0.60, 0.20),
    "e@": _v(0.60, 0.65, 0.00, 0.55, 0.20),
    "eI": _v(0.50, 0.75, 0.00, 0.65, 0.20),
    "@": _v(0.40, 0.50, 0.05, 0.40, 0.10),
    "@L": _v(0.40, 0.50, 0.05, 0.50, 0.40),
    "@5": _v(0.40, 0.50, 0.05, 0.50, 0.40),
    "3": _v(0.40, 0.50, 0.05, 0.40, 0.10),
    "3:": _v(0.40, 0.45, 0.35, 0.35, 0.05),
    "oU": _v(0.50, 0.30, 0.80, 0.25, 0.05),
    "o@": _v(0.50, 0.35, 0.70, 0.25, 0.05),
    # close vowels
    "i:": _v(0.22, 0.95, 0.00, 0.80, 0.10),
    "i": _v(0.25, 0.85, 0.00, 0.75, 0.10),
    "I": _v(0.30, 0.80, 0.00, 0.70, 0.10),
    "i@": _v(0.30, 0.80, 0.00, 0.70, 0.10),
    "I2": _v(0.30, 0.75, 0.00, 0.65, 0.10),
    "u:": _v(0.20, 0.10, 1.00, 0.10, 0.00),
    "U": _v(0.30, 0.25, 0.70, 0.20, 0.05),
    "U@": _v(0.35, 0.30, 0.65, 0.20, 0.05),
    # bilabials: lips shut, whatever the neighbours do
    "p": _v(0.00, 0.50, 0.10, 0.00, 0.00, dominance=1.0, lips=8.0),
    "b": _v(0.00, 0.50, 0.10, 0.00, 0.00, dominance=1.0, lips=8.0),
    "m": _v(0.00, 0.50, 0.10, 0.00, 0.00, dominance=1.0, lips=8.0),
    # labiodentals: upper teeth on the lower lip
    "f": _v(0.10, 0.55, 0.00, 1.00, 0.00, dominance=3.0),
    "v": _v(0.10, 0.55, 0.00, 1.00, 0.00, dominance=3.0),
    # dentals: tongue tip between the teeth
    "T": _v(0.22, 0.55, 0.00, 0.85, 1.00, dominance=2.5),
    "D": _v(0.22, 0.55, 0.00, 0.85, 1.00, dominance=2.5),
    # alveolars
    "t": _v(0.20, 0.55, 0.05, 0.80, 0.40, dominance=1.2),
    "d": _v(0.20, 0.55, 0.05, 0.80, 0.40, dominance=1.2),
    "n": _v(0.20, 0.55, 0.05, 0.75, 0.40, dominance=1.0),
    "l": _v(0.30, 0.55, 0.05, 0.70, 0.70, dominance=1.0),
    "s": _v(0.12, 0.65, 0.00, 1.00, 0.10, dominance=2.0),
    "z": _v(0.12, 0.65, 0.00, 1.00, 0.10, dominance=2.0),
    "t#": _v(0.25, 0.55, 0.05, 0.70, 0.40, dominance=0.8),
    # post-alveolars: protruded, teeth showing
    "S": _v(0.18, 0.30, 0.70, 0.80, 0.05, dominance=2.5),
    "Z": _v(0.18, 0.30, 0.70, 0.80, 0.05, dominance=2.5),
    "tS": _v(0.15, 0.30, 0.70, 0.80, 0.05, dominance=2.5),
    "dZ": _v(0.15, 0.30, 0.70, 0.80, 0.05, dominance=2.5),
    # velars, glottals: the tongue works out of sight, lips follow the vowels
    "k": _v(0.35, 0.55, 0.05, 0.50, 0.05, dominance=0.3),
    "g": _v(0.35, 0.55, 0.05, 0.50, 0.05, dominance=0.3),
    "N": _v(0.30, 0.55, 0.05, 0.50, 0.05, dominance=0.3),
    "h": _v(0.45, 0.55, 0.05, 0.40, 0.05, dominance=0.2),
    "?": _v(0.30, 0.50, 0.05, 0.40, 0.05, dominance=0.3),
    # approximants
    "w": _v(0.10, 0.05, 1.00, 0.05, 0.00, dominance=4.0),
    "W": _v(0.10, 0.05, 1.00, 0.05, 0.00, dominance=4.0),
    "r": _v(0.25, 0.35, 0.55, 0.50, 0.10, dominance=1.5),
    "r-": _v(0.25, 0.35, 0.55, 0.50, 0.10, dominance=1.5),
    "j": _v(0.20, 0.80, 0.00, 0.70, 0.10, dominance=1.2),
}

VOWEL_LETTERS = set("aeiouAEIOUV03@")


def normalise_phoneme(name):
    """Strip stress and length marks: ``'u:`` → ``u:``, ``,eI`` → ``eI``.

    Example
    -------
    >>> normalise_phoneme("'aU"), normalise_phoneme(",I2")
    ('aU', 'I2')
    """
    return name.strip().lstrip(STRESS_MARKS)


def is_pause(name):
    """Whether an espeak phoneme is a pause (``_``, ``_:``, ``_!``...).

    Example
    -------
    >>> is_pause("_:"), is_pause("p")
    (True, False)
    """
    name = normalise_phoneme(name)
    return not name or name.startswith("_")


def viseme_for(name):
    """The :class:`Viseme` of an espeak phoneme; unknown ones by their class.

    Example
    -------
    >>> viseme_for("'A:").open > 0.9, viseme_for("b").open
    (True, 0.0)
    >>> viseme_for("_:") is REST, viseme_for("xyz").open
    (True, 0.25)
    """
    if is_pause(name):
        return REST
    name = normalise_phoneme(name)
    for key in (name, name.rstrip(":#-;2"), name[:2], name[:1]):
        if key in VISEMES:
            return VISEMES[key]
    return _VOWEL if name[0] in VOWEL_LETTERS else _CONSONANT


def viseme_track(
    phonemes,
    num_frames,
    fps=VIDEO_FPS,
    smoothing=0.03,
    articulation=1.0,
    resolution=0.002,
):
    """Per-frame mouth parameters from a phoneme timeline.

    Arguments
    ---------
    phonemes : list of tuple
        ``(phoneme, start_s, end_s)``; time not covered is rest (pause).
    num_frames : int
        Frames to produce; frame ``k`` shows time ``(k + 0.5) / fps``.
    fps : float
        Video frame rate.
    smoothing : float
        Standard deviation (s) of the Gaussian that blends neighbouring
        targets (the lips' inertia).
    articulation : float
        Scales the opening (a speaker's habit: > 1 wide, < 1 mumbled).
    resolution : float
        Time step (s) of the internal grid.

    Returns
    -------
    numpy.ndarray
        float32 ``[num_frames, 5]`` in :data:`PARAMETERS` order, in [0, 1].

    Example
    -------
    >>> track = viseme_track([("m", 0.0, 0.12), ("u:", 0.12, 0.4)], 10)
    >>> bool(track[:2, 0].max() < 0.1), bool(track[7, 2] > 0.8)
    (True, True)
    """
    duration = num_frames / fps
    steps = max(1, int(np.ceil(duration / resolution)))
    times = (np.arange(steps) + 0.5) * resolution
    rest = np.asarray(REST.targets, np.float64)
    target = np.tile(rest, (steps, 1))
    weight = np.tile(np.asarray(REST.dominance, np.float64), (steps, 1))
    for name, start, end in phonemes:
        lo, hi = np.searchsorted(times, [start, end])
        if hi <= lo:
            continue
        viseme = viseme_for(name)
        target[lo:hi] = viseme.targets
        weight[lo:hi] = viseme.dominance
    # Dominance-weighted smoothing: a strong target (closure) wins over weak
    # neighbours instead of being averaged away.
    radius = max(1, int(round(3 * smoothing / resolution)))
    offsets = np.arange(-radius, radius + 1) * resolution
    kernel = np.exp(-0.5 * (offsets / smoothing) ** 2)
    numerator = _smooth(weight * target, kernel)
    denominator = _smooth(weight, kernel)
    blended = numerator / np.maximum(denominator, 1e-9)
    frame_times = (np.arange(num_frames) + 0.5) / fps
    idx = np.clip((frame_times / resolution).astype(np.int64), 0, steps - 1)
    track = blended[idx]
    track[:, OPEN] *= articulation
    return np.clip(track, 0.0, 1.0).astype(np.float32)


def _smooth(values, kernel):
    """Convolve each column with ``kernel``, edges extended."""
    radius = len(kernel) // 2
    padded = np.pad(values, ((radius, radius), (0, 0)), mode="edge")
    out = np.empty_like(values)
    for column in range(values.shape[1]):
        out[:, column] = np.convolve(padded[:, column], kernel, mode="valid")
    return out
