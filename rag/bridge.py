"""The name a wh-question's clauses share, found in the first passages retrieved.

"Who is the individual that, as The Verge reported, told a trader he could keep
withdrawing, and, according to Fortune, used a colleague as a front for secret
access to client funds?" asks about one person, whom no clause names: each
clause describes the answer. Matched alone, such a clause fits its fact's
sentence weakly, because the sentence names the person ("Bankman-Fried had
'secret access' to customer money") where the clause says "who". The first
passages retrieved for the whole question usually name that person, company or
team already: the name that most of them share is put in front of each clause,
and the clauses are matched again, with the name's words joining the question's
for BM25 (docs/experiments.md, "The name the clauses share").

Only questions that ask for a name (they open with "who", "which" or "what") are
read this way; a yes/no question names what it is about.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from .records import Hit
from .text import MONTHS, STOPWORDS, WEEKDAYS

#: How many of the first passages are read for names (measured on MultiHop-RAG:
#: 3 found fewer of the clauses' facts, 10 no more than 5).
BRIDGE_HITS = 5
#: A name must appear in this many different articles among them: one article's
#: own cast of names is no evidence of what the question is about.
BRIDGE_MIN_ARTICLES = 2

_ASKS_FOR_NAME = re.compile(r"\s*(?:who|which|what)\b", re.IGNORECASE)
_ASKS_WHO = re.compile(r"\s*who\b", re.IGNORECASE)
#: A run of capitalised words ("Sam Bankman-Fried", "New Zealand All Blacks").
_NAME = re.compile(r"\b[A-Z][\w'’&.-]*(?:\s+[A-Z][\w'’&.-]*)*")
_WORD = re.compile(r"[\w'’-]+")
_TRAILING = re.compile(r"(?:['’]s?|\.)+$")
#: A name word of this many letters or more is the question's when a question
#: word starts with all of it but its last letter (at least this many).
_FORM_PREFIX = 4
_CALENDAR = frozenset(MONTHS + WEEKDAYS)


def asks_for_name(question: str) -> bool:
    """Whether ``question`` asks who or what (its answer is a name)."""
    return bool(_ASKS_FOR_NAME.match(question))


def names(text: str) -> list[str]:
    """The capitalised names in ``text``, in order, repeats kept.

    A run of capitalised words ends with its sentence ("… Monday. On Tuesday …"
    is two). Its leading stopwords and month or day names are dropped ("The",
    "But", "On Monday"), and so are trailing punctuation and a possessive "'s".
    One capitalised word that opens a sentence is not taken for a name
    ("Regulators said"); a name is rarely only ever mentioned there.
    """
    found: list[str] = []
    for match in _NAME.finditer(text):
        opens = _opens_sentence(text, match.start())
        run: list[str] = []
        for word in match.group(0).split():
            run.append(word)
            if word.endswith(".") and sum(c.islower() for c in word) >= 2:
                found.extend(_name(run, opens))
                run, opens = [], True
        found.extend(_name(run, opens))
    return found


def _opens_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip(" \t\n\"“‘'(")
    return not before or before[-1] in ".!?:"


def _name(run: list[str], opens: bool) -> list[str]:
    """The name in a run of capitalised words, as a list of none or one."""
    words = [_TRAILING.sub("", w) for w in run]
    dropped = 0
    while dropped < len(words) and (words[dropped].lower() in STOPWORDS
                                    or words[dropped].lower() in _CALENDAR):
        dropped += 1
    words = [w for w in words[dropped:] if w]
    if not words or (opens and not dropped and len(words) == 1):
        return []
    return [" ".join(words)]


def shared_name(question: str, hits: Sequence[Hit], sources: Iterable[str]) -> str | None:
    """The name that the most articles among the first ``BRIDGE_HITS`` hits share,
    if at least ``BRIDGE_MIN_ARTICLES`` do; else None.

    Names the question already holds (every word of them in the question, in
    some form: "China" in "Chinese", "Korea" in "Korea's"), and outlet, month
    and day names, are not candidates; nor, when the question asks "who", are
    acronyms ("FTX" is the company, not the person asked about). Ties go to the
    name mentioned more often, then to the longer one.
    """
    asked = {_TRAILING.sub("", w.lower()) for w in _WORD.findall(question)}
    known = asked | _CALENDAR | {w.lower() for source in sources for w in _WORD.findall(source)}

    def held(word: str) -> bool:
        if word in known:
            return True
        # Another form of a question word: all but the last letter shared.
        stem = word[:max(_FORM_PREFIX, len(word) - 1)]
        return len(word) >= _FORM_PREFIX and any(q.startswith(stem) for q in asked)

    person = bool(_ASKS_WHO.match(question))
    articles: defaultdict[str, set[str]] = defaultdict(set)
    mentions: Counter[str] = Counter()
    for hit in hits[:BRIDGE_HITS]:
        for name in names(hit.text):
            if all(held(word) for word in name.lower().split()) or (
                    person and name.isupper()):
                continue
            articles[name].add(hit.article_id)
            mentions[name] += 1
    if not articles:
        return None
    best = max(articles, key=lambda n: (len(articles[n]), mentions[n], len(n)))
    return best if len(articles[best]) >= BRIDGE_MIN_ARTICLES else None


def full_form(name: str, hits: Sequence[Hit]) -> str:
    """The fullest form of ``name`` that the passages use: "Sam Bankman-Fried"
    for "Bankman-Fried", "Minnesota Vikings" for "Vikings".

    News names a person in full once and by surname after, so the name most
    articles share is often the short one; but "who" is answered by the full
    name. A longer form is a name in ``hits`` that ends with all of ``name``'s
    words; the one in the most passages wins, then the shorter one (so "Sam
    Bankman-Fried" beats "FTX CEO Sam Bankman-Fried"). No longer form: ``name``.
    """
    words = name.split()
    passages: Counter[str] = Counter()
    for hit in hits:
        for found in set(names(hit.text)):
            longer = found.split()
            if len(longer) > len(words) and longer[-len(words):] == words:
                passages[found] += 1
    if not passages:
        return name
    return max(passages, key=lambda f: (passages[f], -len(f.split()), f))
