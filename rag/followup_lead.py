"""An elliptical follow-up is led by the quote that matches the user's own new words.

"What about in August?" after "By how much did exports rise in September?" is
answered as "By how much did exports rise in August?" (``rag.followup``). That
resolved question is mostly the previous one, so the sentences that answered
it before still match it best, and the answer quotes September again. What
the user asked for now is in the few words they wrote themselves ("August",
"people leading the meeting", "most of the items"): the previous question's
words are carried-over topic, the new ones are what changed.

So for a follow-up read as "what about X" or asked with the previous subject
(``Resolution.rule`` "what-about" or "context"), :func:`new_words` takes the
user's content words that the previous question did not have, and
:func:`focus_lead` leads with the candidate that holds most of them, when the
composer's lead holds fewer (each word weighed by its IDF). It chooses among
the candidates the composer already weighed for the lead (the cross-encoder's
pool, else the best by score), the best of those by the kind asked for
(``rag.lead``) and then by fit; nothing new is searched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .lead import asked_kind, given_numbers, holds_kind
from .text import STOPWORDS, stem, words

#: The resolution rules whose question is the previous one with the user's X put in.
ELLIPTICAL_RULES = frozenset({"what-about", "context"})
#: Words of an elliptical follow-up that say "the same again", not what is new.
_FOLLOWUP_WORDS = frozenset("about also and else instead too again then so ok okay well "
                            "now how what which who when where why".split())
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def new_words(asked: str, previous: str) -> tuple[str, ...]:
    """The stemmed content words of the follow-up as the user wrote it that the
    previous question did not have ("What about in August?" -> ("august",))."""
    before = {stem(w) for w in words(previous)}
    out = []
    for w in words(asked):
        if w in STOPWORDS or w in _FOLLOWUP_WORDS:
            continue
        s = stem(w)
        if s not in before and s not in out:
            out.append(s)
    return tuple(out)


def _held(focus: Sequence[str], text: str, weight: Mapping[str, float]) -> float:
    """How much of ``focus`` a sentence holds, each word by its weight (its IDF:
    "leading" says more about a sentence than "people")."""
    have = {stem(m.group(0).lower()) for m in _TOKEN.finditer(text)}
    unseen = weight.get("", 1.0)
    return sum(weight.get(f, unseen) for f in focus if f in have)


def focus_lead(question: str, focus: Sequence[str], texts: Sequence[str],
               scores: Sequence[float], order: Sequence[int], lead: int | None,
               pool: Mapping[int, float] | None = None, size: int = 10,
               weight: Mapping[str, float] | None = None) -> int | None:
    """The candidate to quote first for a follow-up whose new words are ``focus``.

    ``texts``, ``scores``, ``order``, ``lead``, ``pool`` and ``size`` are as
    for :func:`rag.lead.kind_lead`; ``weight`` weighs the words (IDF; 1 each
    without it). The lead is chosen from the same pool as the composer's own
    (``rag.answer.choose_lead``, which does not ask the pool to clear the
    quotes' floor either): the resolved question is mostly the previous one,
    so the sentence that holds the new words can score well below the best on
    the carried-over topic. Returns ``lead`` unchanged when there are no new
    words, or when no pool candidate holds more of them than the lead does;
    else the one that holds most, then holds the kind ``question`` asks for,
    then fits best.
    """
    current = lead if lead is not None else (order[0] if order else None)
    if not focus or current is None:
        return lead
    fit = dict(pool) if pool else {i: float(scores[i]) for i in list(order)[:size]}
    w = weight or {}
    kind, given = asked_kind(question), given_numbers(question)
    best = max(fit, key=lambda i: (_held(focus, texts[i], w),
                                   holds_kind(kind, texts[i], given), fit[i]))
    return best if _held(focus, texts[best], w) > _held(focus, texts[current], w) else lead
