"""A rule of conversation for the follow-up resolver.

:func:`degree_word`: "this"/"that" before a word of degree ("this high", "that
many") measures a quantity of the question's own subject ("When was trade
between China and North Korea this high?"); it points back at the previous turn
only when the question names no subject of its own ("Was it ever this high?").
That follows from how people ask, not from any article or eval question.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Words of degree that "this"/"that" can stand before as an adverb: "this high".
DEGREE = frozenset(
    "high low much many big large small far long early late bad good strong weak "
    "fast slow close deep steep sharp old young expensive cheap hot cold busy tense "
    "severe serious".split())
#: A question with this many content words besides the degree phrase names its
#: own subject ("trade between China and North Korea"), not just "it".
OWN_SUBJECT_WORDS = 2


def degree_word(tokens: Sequence[str], at: int) -> bool:
    """Whether the demonstrative at ``tokens[at]`` is an adverb of degree: "this
    high", "that many" (the quantity it measures is named by the question)."""
    return at + 1 < len(tokens) and tokens[at + 1] in DEGREE
