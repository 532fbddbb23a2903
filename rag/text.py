"""Word-level text helpers shared by BM25 retrieval and the answer composer, and the
title given to an article that states none."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable
from typing import Any

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his
    how i if in into is it its itself just me more most my myself no nor not now of off
    on once only or other our ours ourselves out over own said same say says she should
    so some such than that the their theirs them themselves then there these they this
    those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves according did does tell
    much many whose
    """.split()
)
#: Month and weekday names, lower-cased, in calendar order.
MONTHS = tuple("january february march april may june july august september october "
               "november december".split())
WEEKDAYS = tuple("monday tuesday wednesday thursday friday saturday sunday".split())
_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)*%?|[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)


def stem(word: str) -> str:
    """A light suffix stripper: enough to match 'exports'/'exported'/'export'."""
    for suffix, keep in (("'s", 0), ("’s", 0), ("ies", 1), ("ing", 3), ("ed", 3),
                         ("es", 3), ("s", 3)):
        if word.endswith(suffix) and len(word) - len(suffix) >= keep + 2:
            base = word[: -len(suffix)]
            return base + ("y" if suffix == "ies" else "")
    return word


def words(text: str) -> list[str]:
    """Lower-cased word tokens (numbers kept whole, e.g. '30.75%')."""
    return [w.lower() for w in _WORD.findall(text)]


def tokenize(text: str) -> list[str]:
    """Stemmed content words (stopwords removed)."""
    terms = [_term(w) for w in _WORD.findall(text)]
    return [t for t in terms if t]


@functools.lru_cache(maxsize=1 << 20)
def _term(word: str) -> str:
    # A corpus has far fewer distinct words than words: building BM25 over a
    # million chunks lowers and stems each distinct word once ("" for a stopword).
    lowered = word.lower()
    return "" if lowered in STOPWORDS else stem(lowered)


def idf_table(token_lists: list[list[str]]) -> dict[str, float]:
    """Smoothed inverse document frequencies; key "" holds the value for unseen words."""
    n = len(token_lists)
    df: dict[str, int] = {}
    for tokens in token_lists:
        for t in set(tokens):
            df[t] = df.get(t, 0) + 1
    table: dict[str, Any] = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
    table[""] = math.log(1 + (n + 0.5) / 0.5)
    return table


# ---------------------------------------------------------------- titles

#: A title derived from an article's first sentence is at most this long.
TITLE_CHARS = 80
_LINE = re.compile(r"[^\r\n]+")
# A sentence ends with . ! ? or … (maybe closing quotes or brackets) before a space.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)")
_CALENDAR = frozenset((*MONTHS, *WEEKDAYS))


def wordy_count(line: str) -> int:
    """How many words of two letters or more ``line`` has, month and day names
    aside: "The Speaker" has 2, "Wednesday, 29 May 2024 – 22:46" has 0."""
    return sum(1 for w in words(line) if w.isalpha() and len(w) > 1 and w not in _CALENDAR)


def shorten(text: str, limit: int = TITLE_CHARS) -> str:
    """``text`` on one line; if longer than ``limit``, cut at a word and ended with "…".
    A final full stop is dropped (a title does not end with one)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text[:-1] if text.endswith(".") and not text.endswith("..") else text
    cut = text.rfind(" ", 0, limit)
    head = text[:cut] if cut > limit // 2 else text[: limit - 1]
    return head.rstrip(" ,;:–—-") + "…"


def first_sentence_title(text: str, skip: Iterable[tuple[int, int]] = ()) -> str:
    """A title for an article that states none: its first sentence, shortened
    (:func:`shorten`). Lines starting inside a ``skip`` span (boilerplate) and
    lines of fewer than four words (section headings such as "What's
    Happening?", outlet names, datelines) are passed over; failing any other,
    the first line is used."""
    spans = list(skip)
    lines = [m for m in _LINE.finditer(text) if m.group().strip()]
    chosen = next((m for m in lines
                   if not any(s <= m.start() < e for s, e in spans)
                   and wordy_count(m.group()) >= 4 and any(c.islower() for c in m.group())),
                  lines[0] if lines else None)
    if chosen is None:
        return shorten(text)
    line = chosen.group().strip()
    end = _SENTENCE_END.search(line)
    return shorten(line[: end.end()] if end else line)
