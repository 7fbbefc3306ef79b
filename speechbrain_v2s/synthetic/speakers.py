"""Synthetic speakers: an espeak-ng voice and a drawn mouth each.

Voices (accent, variant, pitch, rate) and looks
(:class:`~speechbrain_v2s.synthetic.mouth_render.Appearance`) follow from a
seed, spread so that no two speakers of a corpus share a pitch or a skin tone.

Example
-------
>>> [s.voice.split("+")[1][0] for s in make_speakers(4, seed=0)]
['m', 'f', 'm', 'f']
"""

from dataclasses import dataclass, field

import numpy as np

from speechbrain_v2s.synthetic.mouth_render import (
    SKIN_RANGE,
    Appearance,
    random_appearance,
)

ACCENTS = (
    "en-us",
    "en",
    "en-gb-x-rp",
    "en-gb-scotland",
    "en-us-nyc",
    "en-029",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m6", "m7")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4")
# espeak pitch settings per gender: measured mean F0 about 70-110 Hz (male
# variants) and 140-230 Hz (female), so no male and female speaker share an F0.
PITCH_RANGES = {"m": (0, 45), "f": (15, 70)}
AV, AUDIO_ONLY = 0, 1  # seed stream of each corpus kind


@dataclass
class SpeakerProfile:
    """One synthetic speaker: an espeak voice and a mouth.

    Attributes
    ----------
    name : str
        ``s1``... (audio-visual) or ``a1``... (audio-only).
    accent : str
        espeak language voice (``en-us``, ``en-gb-scotland``...).
    variant : str
        espeak voice variant (``m1``-``m7``, ``f1``-``f4``).
    pitch, pitch_range : int
        espeak pitch and range, 0-100.
    rate : int
        Words per minute.
    articulation : float
        Scale of the mouth opening.
    appearance : Appearance
        The mouth's look.

    Example
    -------
    >>> profile = SpeakerProfile("s1", "en-us", "m3", 40, 50, 170)
    >>> profile.voice
    'en-us+m3'
    >>> SpeakerProfile.from_dict(profile.to_dict()) == profile
    True
    """

    name: str
    accent: str
    variant: str
    pitch: int
    pitch_range: int
    rate: int
    articulation: float = 1.0
    appearance: Appearance = field(default_factory=Appearance)

    @property
    def voice(self):
        """espeak voice name, ``accent+variant``.

        Example
        -------
        >>> SpeakerProfile("a1", "en", "f2", 50, 50, 160).voice
        'en+f2'
        """
        return f"{self.accent}+{self.variant}"

    def to_dict(self):
        """JSON-ready dict.

        Example
        -------
        >>> SpeakerProfile("s1", "en", "m1", 50, 50, 160).to_dict()["voice"]
        'en+m1'
        """
        return {
            "name": self.name,
            "voice": self.voice,
            "accent": self.accent,
            "variant": self.variant,
            "pitch": self.pitch,
            "pitch_range": self.pitch_range,
            "rate": self.rate,
            "articulation": round(float(self.articulation), 4),
            "appearance": self.appearance.to_dict(),
        }

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`.

        Example
        -------
        >>> SpeakerProfile.from_dict({"name": "s2", "accent": "en", "variant": "m1",
        ...     "pitch": 1, "pitch_range": 2, "rate": 150}).rate
        150
        """
        keys = ("name", "accent", "variant", "pitch", "pitch_range", "rate")
        return cls(
            **{key: data[key] for key in keys},
            articulation=data.get("articulation", 1.0),
            appearance=Appearance(**data.get("appearance", {})),
        )


def make_speakers(count, seed=1234, prefix="s", stream=AV):
    """``count`` distinct speaker profiles, the same for the same seed.

    Genders alternate; within a gender, pitches are spread evenly over
    :data:`PITCH_RANGES` (in shuffled order) so that no two speakers share a
    pitch, and skin tones are spread the same way.

    Example
    -------
    >>> speakers = make_speakers(3, seed=0)
    >>> [s.name for s in speakers], len({s.pitch for s in speakers[::2]})
    (['s1', 's2', 's3'], 2)
    """
    rng = np.random.default_rng([seed, stream, 1000])
    genders = ["m" if i % 2 == 0 else "f" for i in range(count)]
    pitches, variants = {}, {}
    for gender, pool in (("m", MALE_VARIANTS), ("f", FEMALE_VARIANTS)):
        n = genders.count(gender)
        low, high = PITCH_RANGES[gender]
        if n > 1:
            slots = np.linspace(low, high, n)
        else:
            slots = np.array([rng.uniform(low + 10, high - 10)])
        pitches[gender] = list(rng.permutation(np.round(slots).astype(int)))
        order = list(rng.permutation(pool))
        variants[gender] = [order[i % len(order)] for i in range(n)]
    # Skin tones spread like the pitches: speakers look different, too.
    skins = rng.permutation(np.linspace(*SKIN_RANGE, count)) if count > 1 else [None]
    speakers = []
    for i, gender in enumerate(genders):
        own = np.random.default_rng([seed, stream, 1001, i])
        speakers.append(
            SpeakerProfile(
                name=f"{prefix}{i + 1}",
                accent=str(ACCENTS[int(own.integers(len(ACCENTS)))]),
                variant=str(variants[gender].pop(0)),
                pitch=int(pitches[gender].pop(0)),
                pitch_range=int(own.integers(35, 80)),
                rate=int(own.integers(150, 200)),
                articulation=float(own.uniform(0.85, 1.15)),
                appearance=random_appearance(own, skins[i]),
            )
        )
    return speakers
