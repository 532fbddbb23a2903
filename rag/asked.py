"""What a question asks for, and whether a sentence or the passages can give it.

The composer's type signals (``rag.answer``): the kind of answer asked for (a
number for "how many", a date for "when", a name for "who" or "where"), whether
a sentence holds one, and for "how many"/"how much" of a thing, whether any
passage gives a figure for that thing.
"""

from __future__ import annotations

import re

from .records import Hit
from .text import MONTHS, STOPWORDS, stem, words

NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve dozen dozens hundred "
    "hundreds thousand thousands million millions billion billions trillion half double "
    "twice first second third fourth fifth sixth seventh eighth ninth tenth percent"
).split()
_MONTH = "|".join((*MONTHS, *"jan feb mar apr jun jul aug sep sept oct nov dec".split()))
#: A date that says when on its own: a year ("December 2019", "in 2011"), a day of
#: a month ("Sept. 4", "29 May"), or a span back from now ("three years ago").
#: A weekday, "last month" or a bare month name is a date only against the
#: article's own, unstated here: a sentence holding only those does not answer "when".
FULL_DATE = re.compile(
    rf"\b(?:1[89]|20)\d\d\b|\b(?:{_MONTH})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b|"
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH})\b|"
    r"\b(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|several|few)\s+"
    r"(?:years?|months?|weeks?|days?|decades?)\s+ago\b",
    re.IGNORECASE)

_TYPE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("number", re.compile(r"^(how (much|many|often|long|far|old|big|large|high)|"
                          r"(what|which) (percentage|percent|share|amount|number|value|"
                          r"proportion|price|sum|total|rate|figure|size))\b")),
    ("date", re.compile(r"^(when|(what|which|in what) (year|date|month|day|time|period)|"
                        r"since when|how long ago)\b")),
    ("person", re.compile(r"^(who|whom|whose)\b")),
    ("place", re.compile(r"^(where|(what|which|in which|in what) (city|country|town|"
                         r"province|region|place|capital|port|location))\b")),
]


def answer_type(question: str) -> str | None:
    """The kind of answer asked for: number, date, person, place, or None."""
    q = " ".join(words(question))
    # Skip a lead-in such as "according to the report," or "in 2023,".
    q = re.sub(r"^(according to [^,]*,|in [^,]*,|so|and|but|also)\s*", "", q)
    for kind, pattern in _TYPE_PATTERNS:
        if pattern.search(q):
            return kind
    return None


def _has_number(tokens: list[str], text: str) -> bool:
    return bool(re.search(r"\d", text)) or any(t in NUMBER_WORDS for t in tokens)


def _has_date(text: str) -> bool:
    return bool(FULL_DATE.search(text))


# A capitalised word, and where one may start a name: not at a sentence's start.
_NAME_WORD = r"(?:[A-Z][a-zA-Z'’.-]+|[A-Z]{2,})"
_NAME_START = r"(?<![.!?]\s)(?<!^)\b"
_NAME = re.compile(rf"{_NAME_START}({_NAME_WORD})")
NAME_RUN = re.compile(rf"{_NAME_START}({_NAME_WORD}(?:\s+{_NAME_WORD})*)")


def _names(text: str) -> list[str]:
    """Capitalised words that are not sentence-initial: a cheap proper-noun detector."""
    found = []
    for match in _NAME.finditer(text):
        word = match.group(1).strip(".'’").lower()
        if word and word not in STOPWORDS:
            found.append(word)
    return found


def fits_type(kind: str | None, text: str) -> bool:
    if kind is None:
        return True
    tokens = words(text)
    if kind == "number":
        return _has_number(tokens, text)
    if kind == "date":
        return _has_date(text)
    return bool(_names(text))  # person or place


# "How many barrels of crude oil ...": what is counted, the noun right after
# "how many"/"how much". Generic ones say nothing about the passage that answers
# ("how many people" is answered by "14 staff members", "how much more" by a
# percentage), so they are not checked.
_COUNTED_GENERIC = frozenset(
    "people person persons time times more less other others money thing things".split())
_COUNT_LEAD = re.compile(r"\bhow (?:many|much)\b")
#: A figure counts a noun when it comes at most this many words before it
#: ("14 staff members", "tens of thousands of tourists").
_COUNT_NEAR = 4
#: Units written as a sign beside the figure ("$228 million").
_UNIT_SIGNS = {"dollar": "$", "euro": "€", "pound": "£", "yen": "¥", "yuan": "¥",
               "percent": "%", "percentage": "%"}


# The noun run ends where the verb starts: "how many tourists visited", "how
# many people came back". Without a tagger, past forms are the usual tell.
IRREGULAR_PAST = frozenset(
    "became bought brought built came died fell fled gave got held kept left lost made "
    "met paid ran rose sat saw sent sold spent stood took told went won wrote".split())


def _looks_like_verb(token: str) -> bool:
    return token in IRREGULAR_PAST or (token.endswith("ed") and len(token) > 4)


def counted_noun(question: str) -> str | None:
    """The stemmed noun a "how many"/"how much" question counts, or None.

    "How many North Korean workers are ..." counts "worker"; "How much coal did
    ..." counts "coal"; "How many people ..." and "How much did ..." name
    nothing specific.
    """
    tokens = words(question)
    text = " ".join(tokens)
    match = _COUNT_LEAD.search(text)
    if match is None:
        return None
    run: list[str] = []
    for token in text[match.end():].split():
        if token in STOPWORDS or not token.isalpha() or _looks_like_verb(token):
            break
        run.append(token)
    if not run or run[-1] in _COUNTED_GENERIC:
        return None
    return stem(run[-1])


def gives_count(noun: str, text: str) -> bool:
    """Whether ``text`` gives a figure for ``noun``: a number shortly before it,
    or for a unit written as a sign, a figure with that sign."""
    sign = _UNIT_SIGNS.get(noun)
    if sign is not None and re.search(rf"{re.escape(sign)}\s?\d|\d\s?{re.escape(sign)}", text):
        return True
    tokens = words(text)
    for i, token in enumerate(tokens):
        if stem(token) == noun and any(
            _has_number([t], t) for t in tokens[max(0, i - _COUNT_NEAR): i]
        ):
            return True
    return False


def missing_count(question: str, hits: list[Hit]) -> float:
    """1.0 when the question counts a thing (:func:`counted_noun`) and no retrieved
    passage gives a figure for it, else 0.0.

    A passage on the right topic is no answer to "how many barrels of crude
    oil" unless it gives a number of barrels; the composer cannot tell that
    from similarity alone (docs/experiments.md, seed set).
    """
    noun = counted_noun(question)
    if noun is None:
        return 0.0
    return 0.0 if any(gives_count(noun, hit.text) for hit in hits) else 1.0


