"""The GRID corpus grammar: six-word commands and GRID-style utterance ids.

A GRID sentence is *command colour preposition letter digit adverb*, e.g.
"bin blue at f two now". Its id is one character per word (``bbaf2n``): the
first letter of each word, the letter itself, and the digit as a numeral
(``z`` for zero, which keeps ids six characters long and unambiguous).

Example
-------
>>> sentence = GridSentence.from_id("bbaf2n")
>>> sentence.text
'bin blue at f two now'
>>> sample_sentences(3, seed=0) == sample_sentences(3, seed=0)
True
"""

from dataclasses import dataclass

import numpy as np

COMMANDS = ("bin", "lay", "place", "set")
COLOURS = ("blue", "green", "red", "white")
PREPOSITIONS = ("at", "by", "in", "with")
LETTERS = tuple("abcdefghijklmnopqrstuvxyz")  # GRID has no "w"
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight")
DIGITS = DIGITS + ("nine",)
ADVERBS = ("again", "now", "please", "soon")
SLOTS = (
    ("command", COMMANDS),
    ("colour", COLOURS),
    ("preposition", PREPOSITIONS),
    ("letter", LETTERS),
    ("digit", DIGITS),
    ("adverb", ADVERBS),
)
NUM_SENTENCES = int(np.prod([len(words) for _, words in SLOTS]))  # 64,000
DIGIT_CODES = ("z",) + tuple(str(d) for d in range(1, 10))

# What espeak is given for a word: the letter "a" said alone would be the
# article (schwa), so it is written as the letter name in espeak mnemonics.
SPOKEN_FORMS = {"a": "[['eI]]"}


def _code(slot, word):
    if slot == "digit":
        return DIGIT_CODES[DIGITS.index(word)]
    return word[0]


@dataclass(frozen=True)
class GridSentence:
    """One GRID sentence.

    Attributes
    ----------
    words : tuple of str
        Six words, one per slot of :data:`SLOTS`.

    Example
    -------
    >>> s = GridSentence(("set", "white", "with", "p", "zero", "please"))
    >>> s.utterance_id, s.text
    ('swwpzp', 'set white with p zero please')
    >>> GridSentence(("set",))
    Traceback (most recent call last):
    ...
    ValueError: a GRID sentence has 6 words, got 1: ('set',)
    """

    words: tuple

    def __post_init__(self):
        words = tuple(self.words)
        if len(words) != len(SLOTS):
            raise ValueError(
                f"a GRID sentence has {len(SLOTS)} words, got {len(words)}: {words}"
            )
        for word, (slot, vocabulary) in zip(words, SLOTS):
            if word not in vocabulary:
                raise ValueError(f"{word!r} is not a GRID {slot}")
        object.__setattr__(self, "words", words)

    @property
    def text(self):
        """The transcript, words separated by spaces.

        Example
        -------
        >>> GridSentence.from_id("lgiz1a").text
        'lay green in z one again'
        """
        return " ".join(self.words)

    @property
    def utterance_id(self):
        """GRID-style id, one character per word.

        Example
        -------
        >>> GridSentence.from_id("prbz9s").utterance_id
        'prbz9s'
        """
        return "".join(_code(slot, w) for w, (slot, _) in zip(self.words, SLOTS))

    @property
    def spoken(self):
        """The words as given to espeak (see :data:`SPOKEN_FORMS`).

        Example
        -------
        >>> GridSentence.from_id("bbaa1n").spoken
        ('bin', 'blue', 'at', "[['eI]]", 'one', 'now')
        """
        return tuple(SPOKEN_FORMS.get(word, word) for word in self.words)

    @classmethod
    def from_id(cls, utterance_id):
        """The sentence an id stands for.

        Example
        -------
        >>> GridSentence.from_id("bbaf2n").words
        ('bin', 'blue', 'at', 'f', 'two', 'now')
        >>> GridSentence.from_id("xxxxxx")
        Traceback (most recent call last):
        ...
        ValueError: not a GRID utterance id: 'xxxxxx'
        """
        if len(utterance_id) != len(SLOTS):
            raise ValueError(f"not a GRID utterance id: {utterance_id!r}")
        words = []
        for char, (slot, vocabulary) in zip(utterance_id, SLOTS):
            found = [w for w in vocabulary if _code(slot, w) == char]
            if not found:
                raise ValueError(f"not a GRID utterance id: {utterance_id!r}")
            words.append(found[0])
        return cls(tuple(words))

    @classmethod
    def from_index(cls, index):
        """Sentence number ``index`` in ``[0, NUM_SENTENCES)`` (mixed radix).

        Example
        -------
        >>> GridSentence.from_index(0).text
        'bin blue at a zero again'
        >>> GridSentence.from_index(NUM_SENTENCES - 1).utterance_id
        'swwz9s'
        """
        if not 0 <= index < NUM_SENTENCES:
            raise ValueError(f"index must be in [0, {NUM_SENTENCES}), got {index}")
        words = []
        for _, vocabulary in reversed(SLOTS):
            index, digit = divmod(index, len(vocabulary))
            words.append(vocabulary[digit])
        return cls(tuple(reversed(words)))


def sample_sentences(count, seed=0, unique=True):
    """``count`` random GRID sentences, the same for the same ``seed``.

    Arguments
    ---------
    count : int
        How many.
    seed : int or sequence of int
        Seed (a sequence, e.g. ``(corpus_seed, speaker)``, gives independent
        streams).
    unique : bool
        No sentence twice (GRID ids must be unique within a speaker).

    Returns
    -------
    list of GridSentence

    Example
    -------
    >>> [s.utterance_id for s in sample_sentences(3, seed=(1, 2))]
    ['swab4p', 'prbe1s', 'lwar4p']
    """
    if unique and count > NUM_SENTENCES:
        raise ValueError(
            f"only {NUM_SENTENCES} distinct GRID sentences, {count} asked for"
        )
    rng = np.random.default_rng(seed)
    if unique:
        indices = rng.choice(NUM_SENTENCES, size=count, replace=False)
    else:
        indices = rng.integers(0, NUM_SENTENCES, size=count)
    return [GridSentence.from_index(int(i)) for i in indices]
