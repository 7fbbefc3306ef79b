"""Drawing grayscale mouth-region frames from per-frame mouth parameters.

A frame is a close-up of a mouth like the 88x88 crops the V2A models read:
shaded skin, two lips, and, when the lips part, the dark mouth cavity with
upper teeth and tongue. Shapes follow the viseme parameters of
:mod:`speechbrain_v2s.synthetic.visemes` (``open``, ``width``, ``round``, ``teeth``,
``tongue``); the look (lip shape and thickness, skin/lip tones, head jitter,
sensor noise) is a per-speaker :class:`Appearance`. Drawing is anti-aliased
polygon filling with OpenCV (sub-pixel coordinates), about 0.1 ms a frame.

Example
-------
>>> import numpy as np
>>> track = np.array([[0.0, 0.5, 0.1, 0.0, 0.0], [0.9, 0.6, 0.0, 0.5, 0.2]])
>>> frames = render_frames(track, Appearance(), seed=0)
>>> frames.shape, frames.dtype.name
((2, 88, 88), 'uint8')
>>> bool(cavity_area(frames[0]) < 5 < 200 < cavity_area(frames[1]))
True
"""

from dataclasses import asdict, dataclass
from statistics import NormalDist

import cv2
import numpy as np

from speechbrain_v2s.synthetic.visemes import OPEN, ROUND, TEETH, TONGUE, WIDTH

DEFAULT_SIZE = 88
_SHIFT = 4  # fixed-point bits of OpenCV coordinates (1/16 px)
_POINTS = 24  # points per lip contour
CAVITY_THRESHOLD = 45  # gray levels below this are the mouth cavity
# Standard normal quantiles at the centres of 256 equal-probability bins.
_GAUSS_LUT = np.array(
    [NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)], np.float32
)
_GAUSS_LUT /= _GAUSS_LUT.std()  # unit variance after binning


@dataclass
class Appearance:
    """How one speaker's mouth looks (sizes relative to an 88-px frame).

    Attributes
    ----------
    skin, lip, cavity, teeth, tongue : float
        Gray levels (0-255); the cavity is always the darkest.
    mouth_width : float
        Mouth width at rest, as a fraction of the frame width.
    upper_lip, lower_lip : float
        Lip thickness (px).
    max_open : float
        Lip opening at ``open = 1`` (px).
    bow : float
        Depth of the upper lip's Cupid's bow (px).
    corner_lift : float
        Mouth-corner height (px; > 0: corners up).
    centre_y : float
        Mouth centre height as a fraction of the frame height.
    shading : float
        Strength of the light gradient over the face (gray levels).
    jitter : float
        Standard deviation (px) of the slow head movement.
    noise : float
        Standard deviation of the sensor noise (gray levels).

    Example
    -------
    >>> Appearance().cavity < CAVITY_THRESHOLD < Appearance().lip
    True
    """

    skin: float = 165.0
    lip: float = 110.0
    cavity: float = 22.0
    teeth: float = 215.0
    tongue: float = 80.0
    mouth_width: float = 0.55
    upper_lip: float = 6.0
    lower_lip: float = 8.0
    max_open: float = 26.0
    bow: float = 2.0
    corner_lift: float = 0.0
    centre_y: float = 0.55
    shading: float = 25.0
    jitter: float = 0.8
    noise: float = 3.0

    def to_dict(self):
        """Plain dict (for ``speakers.json``).

        Example
        -------
        >>> Appearance().to_dict()["mouth_width"]
        0.55
        """
        return {key: round(float(value), 4) for key, value in asdict(self).items()}


SKIN_RANGE = (135.0, 205.0)


def random_appearance(rng, skin=None):
    """A plausible, random :class:`Appearance` (tones keep their order).

    Arguments
    ---------
    rng : numpy.random.Generator
    skin : float, optional
        Skin gray level (default: random in :data:`SKIN_RANGE`).

    Example
    -------
    >>> a = random_appearance(np.random.default_rng(0))
    >>> a.cavity < CAVITY_THRESHOLD < a.tongue < a.lip < a.skin < a.teeth
    True
    """
    draw = rng.uniform(*SKIN_RANGE)  # drawn anyway: same stream either way
    skin = float(np.clip(draw if skin is None else skin, *SKIN_RANGE))
    lip = skin - rng.uniform(40, 55)
    return Appearance(
        skin=skin,
        lip=lip,
        cavity=rng.uniform(12, 30),
        teeth=rng.uniform(max(skin, 190) + 10, 245),
        tongue=rng.uniform(CAVITY_THRESHOLD + 12, min(lip, 100) - 10),
        mouth_width=rng.uniform(0.46, 0.64),
        upper_lip=rng.uniform(4.0, 8.0),
        lower_lip=rng.uniform(5.5, 10.5),
        max_open=rng.uniform(20.0, 30.0),
        bow=rng.uniform(0.5, 3.5),
        corner_lift=rng.uniform(-2.5, 2.5),
        centre_y=rng.uniform(0.5, 0.6),
        shading=rng.uniform(10, 40),
        jitter=rng.uniform(0.3, 1.2),
        noise=rng.uniform(1.5, 4.5),
    )


def _background(size, appearance):
    """Skin with light from above and a darker chin/nose region."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    light = appearance.shading * (0.5 - y) + 0.3 * appearance.shading * (
        1.0 - 4.0 * (x - 0.5) ** 2
    )
    return (appearance.skin + light).astype(np.float32)


def _arch(u, power):
    """0 at the mouth corners (u = +-1), 1 in the middle (broadcasts)."""
    return np.power(np.clip(1.0 - u * u, 0.0, 1.0), power)


def _polygons(xs, top, bottom):
    """Closed contours ``[T, 2P, 2]`` in OpenCV fixed point: top, then bottom."""
    pts = np.empty((len(top), 2 * top.shape[1], 2))
    pts[:, : top.shape[1], 0] = xs
    pts[:, top.shape[1] :, 0] = xs[:, ::-1]
    pts[:, : top.shape[1], 1] = top
    pts[:, top.shape[1] :, 1] = bottom[:, ::-1]
    return np.round(pts * (1 << _SHIFT)).astype(np.int32)


def _geometry(track, appearance, size, motion):
    """Contours of lips, cavity, teeth and tongue for every frame at once
    (vectorised: per-frame numpy calls would cost more than the drawing)."""
    scale = size / DEFAULT_SIZE
    col = track.T[:, :, None]  # [5, T, 1]
    open_, width, round_ = col[OPEN], col[WIDTH], col[ROUND]
    teeth, tongue = col[TEETH], col[TONGUE]
    cx = size / 2 + motion[:, :1]
    cy = size * appearance.centre_y + motion[:, 1:]
    half = 0.5 * size * appearance.mouth_width * (0.8 + 0.4 * width - 0.35 * round_)
    gap = appearance.max_open * scale * open_ * (1.0 + 0.35 * round_)
    thick = 1.0 + 0.35 * round_  # protruded lips look fuller
    u = np.linspace(-1.0, 1.0, _POINTS)[None, :]
    xs = cx + half * u
    lift = appearance.corner_lift * scale * (u * u)
    # Rounded mouths are more circular: a flatter arch.
    inner = _arch(u, 0.6 - 0.25 * round_)
    mid_top = cy - 0.5 * gap * inner - lift
    mid_bottom = cy + 0.5 * gap * inner - lift
    bow = appearance.bow * scale * np.exp(-((u / 0.25) ** 2)) * (1.0 - round_)
    dip = 0.6 * appearance.bow * scale * np.exp(-(((np.abs(u) - 0.22) / 0.12) ** 2))
    outer_top = mid_top - appearance.upper_lip * scale * thick * _arch(u, 0.5)
    outer_top += 0.5 * bow - dip * (1.0 - round_)
    outer_bottom = mid_bottom + appearance.lower_lip * scale * thick * _arch(u, 0.7)
    inner_x = cx + 0.92 * half * u
    inside = np.abs(u[0]) < 0.72
    opening = mid_bottom - mid_top
    # Upper teeth hang from the upper lip, at most half the opening; the
    # tongue rises from the lower lip.
    teeth_depth = np.minimum(teeth * 5.0 * scale, 0.5 * opening)
    tongue_height = np.minimum(tongue * 6.0 * scale, 0.45 * opening)
    tongue_top = mid_bottom - tongue_height * _arch(u / 0.72, 0.5)
    return {
        "lips": _polygons(xs, outer_top, outer_bottom),
        "cavity": _polygons(inner_x, mid_top, mid_bottom),
        "teeth": _polygons(
            inner_x[:, inside], mid_top[:, inside], (mid_top + teeth_depth)[:, inside]
        ),
        "tongue": _polygons(
            inner_x[:, inside], tongue_top[:, inside], mid_bottom[:, inside]
        ),
        "seam": np.round(
            np.stack([xs, 0.5 * (mid_top + mid_bottom)], axis=-1) * (1 << _SHIFT)
        ).astype(np.int32),
        "open": gap[:, 0] > 0.6,
        "teeth_on": teeth[:, 0] > 0.05,
        "tongue_on": tongue[:, 0] > 0.05,
    }


def _draw(canvas, shapes, k, appearance):
    """Draw frame ``k`` of ``shapes`` on ``canvas`` (float32, in place)."""
    cv2.fillPoly(canvas, shapes["lips"][k : k + 1], appearance.lip, cv2.LINE_AA, _SHIFT)
    if not shapes["open"][k]:
        # Closed lips: a darker seam where they meet (still lip, not cavity).
        cv2.polylines(
            canvas,
            shapes["seam"][k : k + 1],
            False,
            appearance.lip - 30,
            1,
            cv2.LINE_AA,
            _SHIFT,
        )
        return
    for name, tone, on in (
        ("cavity", appearance.cavity, True),
        ("teeth", appearance.teeth, shapes["teeth_on"][k]),
        ("tongue", appearance.tongue, shapes["tongue_on"][k]),
    ):
        if on:
            cv2.fillPoly(canvas, shapes[name][k : k + 1], tone, cv2.LINE_AA, _SHIFT)


def _head_motion(rng, count, jitter):
    """Slow random head movement (px): smoothed random walk, zero mean."""
    steps = rng.standard_normal((count + 8, 2))
    kernel = np.hanning(9)
    kernel /= kernel.sum()
    path = np.stack(
        [np.convolve(steps[:, i], kernel, mode="valid") for i in range(2)], axis=1
    )[:count]
    path -= path.mean(axis=0)
    spread = path.std(axis=0).max()
    return path * (jitter / spread if spread > 1e-9 else 0.0)


def render_frames(track, appearance, size=DEFAULT_SIZE, seed=0):
    """Frames of a talking mouth, one per row of ``track``.

    Arguments
    ---------
    track : numpy.ndarray
        ``[T, 5]`` mouth parameters (see :mod:`~speechbrain_v2s.synthetic.visemes`).
    appearance : Appearance
        The speaker's look.
    size : int
        Frame height and width in pixels.
    seed : int or sequence of int
        Seed of head movement and sensor noise.

    Returns
    -------
    numpy.ndarray
        uint8 ``[T, size, size]``.

    Example
    -------
    >>> frames = render_frames(np.zeros((3, 5)), Appearance(), size=64)
    >>> frames.shape
    (3, 64, 64)
    """
    track = np.asarray(track, dtype=np.float64).reshape(-1, 5)
    count = len(track)
    rng = np.random.default_rng(seed)
    background = _background(size, appearance)
    motion = _head_motion(rng, count, appearance.jitter * size / DEFAULT_SIZE)
    shapes = _geometry(track, appearance, size, motion)
    frames = np.empty((count, size, size), np.float32)
    for k in range(count):
        frames[k] = background
        _draw(frames[k], shapes, k, appearance)
        cv2.GaussianBlur(frames[k], (3, 3), 0.6, dst=frames[k])  # optics
    # Sensor noise: random bytes through a Gaussian quantile table, several
    # times cheaper than drawing normal variates.
    noise = rng.bytes(frames.size)
    frames += _GAUSS_LUT[np.frombuffer(noise, np.uint8)].reshape(frames.shape) * (
        np.float32(appearance.noise)
    )
    frames += 0.5
    np.clip(frames, 0, 255, out=frames)
    return frames.astype(np.uint8)


def cavity_area(frame, threshold=CAVITY_THRESHOLD):
    """Pixels of the dark mouth cavity in a frame: how open the mouth is.

    Measured from the image alone, so it can check decoded videos.

    Example
    -------
    >>> cavity_area(np.full((8, 8), 200, np.uint8)), cavity_area(np.zeros((8, 8)))
    (0, 64)
    """
    return int(np.count_nonzero(np.asarray(frame) < threshold))
