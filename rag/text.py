"""Word-level text helpers shared by BM25 retrieval and the answer composer."""

from __future__ import annotations

import math
import re
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
    return [stem(w) for w in words(text) if w not in STOPWORDS]


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
