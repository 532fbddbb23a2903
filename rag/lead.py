"""The lead quote holds the kind of thing the question asks for, when one can.

A question names the kind of answer it wants in its first words: "When ..."
and "In what year ..." want a date, "How many ..." and "By how much ..." a
figure, "How much did it cost ..." a sum of money, "Which countries ..." and
"What are ..." several things at once. A news sentence that answers says so in
that form ("in early 2020", "a 30.75% rise", "$271.2 million", "soybean oil,
wool, and sugar"), while the sentences around it on the same topic often do
not ("the border reopened on Saturday", "trade surged"). The composer's
signals and the cross-encoder judge the topic well, the kind less so, so the
first quote can be a sentence on the topic that does not answer.

:func:`kind_lead` corrects that and nothing else: when the lead the composer
chose lacks the kind asked for, and one of the best-scoring sentences it
already considered for the lead (the cross-encoder's pool, all scoring at
least the composer's floor for a quote) holds it, that sentence leads instead.
No new search is made, and a question that names no kind is left as it is.

Money is asked for by what is paid or valued: price, cost, pay, worth, spend,
value, fee... ("share" is a part of a whole, not money: "What share of trade
...?" wants a figure).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .asked import FULL_DATE, IRREGULAR_PAST, NAME_RUN, NUMBER_WORDS
from .text import STOPWORDS, stem, words

DATE, FIGURE, MONEY, LIST = "date", "figure", "money", "list"

#: A lead-in before the question proper: "According to the report, when ...".
_LEAD_IN = re.compile(r"^(?:according to [^,]*,|in [^,]*,|so|and|but|also|then|ok|okay)\s*")
_DATE_Q = re.compile(r"^(?:when|since when|how long ago|(?:in|on|by|from|until|since)?\s*"
                     r"(?:what|which) (?:year|years|date|dates|month|months|day|days|time|"
                     r"period|decade))\b")
_FIGURE_Q = re.compile(r"^(?:(?:by|to|at|of) )?(?:how (?:many|much|often|long|far|old|big|"
                       r"large|high|fast)|(?:what|which) (?:percentage|percent|proportion|share|"
                       r"fraction|number|rate|figure|amount|total|sum|size|price|value|cost)|"
                       r"(?:what|which) (?:is|was|are|were) the (?:\w+ ){0,2}(?:percentage|"
                       r"proportion|share|number|rate|figure|amount|total|sum|size|price|value|"
                       r"cost)s?\b(?! of (?:the )?(?:meeting|visit|talks|event)))\b")
#: What is paid or valued; a figure asked of one of these is a sum of money.
_MONEY_WORDS = frozenset(
    "price prices priced cost costs costing pay pays paid paying payment payments worth "
    "spend spends spent spending value valued valuation fee fees fine fined salary wage "
    "wages revenue revenues budget money funding raised sell sold buy bought charge "
    "charged earn earned earnings profit profits loss losses".split())
_MONEY = re.compile(
    r"[$€£¥₩]\s?\d|\d\s?(?:[$€£¥₩]|usd|eur|gbp)\b|"
    r"\b\d[\d,.]*\s*(?:million|billion|trillion|thousand|bn|m)?\s*"
    r"(?:dollars?|euros?|pounds?|yuan|yen|won|rupees?|francs?|renminbi)\b",
    re.IGNORECASE)
#: The answer to "which ..."/"what ..." is several things when its noun is
#: plural (a regular plural, or one of these).
_PLURALS = frozenset("people goods items children men women media staff police data "
                     "personnel cattle".split())
_NOT_PLURAL = frozenset("news us this its was is has does series species status "
                        "process business crisis analysis basis".split())
_PREPOSITIONS = frozenset("of in on at to for by with from about between during after "
                          "before over under into against".split())
_AUX = frozenset("did do does are were is was have has had will would can could should "
                 "may might must".split())
_STOP_NOUN = _AUX | _PREPOSITIONS | frozenset("the a an that who which said says say "
                                              "according".split())
#: What starts a verb's object: after "Which company offers", "the".
_OBJECT_START = frozenset("the a an that this these those its his her their our".split())
#: Several things named one after another: "a, b and c", or "including a and b".
_ENUMERATION = re.compile(
    r"[^,;]+,[^,;]+,[^;]*\b(?:and|or)\b|"
    r"\b(?:includ(?:e|es|ed|ing)|such as|among them|namely)\b[^.;]*(?:,|\band\b)",
    re.IGNORECASE)


#: "Was X among the exports?", "Is X one of ...?", "Did the list include X?": whether
#: a thing is one of several is answered by the sentence that names them.
_MEMBERSHIP = re.compile(r"^(?:is|are|was|were|did|do|does|has|have|had)\b.*\b(?:among|one of|"
                         r"includ(?:e|es|ed|ing))\b")


def _plain(question: str) -> str:
    text = " ".join(words(question))
    return _LEAD_IN.sub("", text)


def _verb_like(token: str) -> bool:
    return token in IRREGULAR_PAST or (token.endswith("ed") and len(token) > 4)


def _plural(noun: str) -> bool:
    if noun in _PLURALS:
        return True
    return (noun.endswith("s") and len(noun) > 3 and noun not in _NOT_PLURAL
            and not noun.endswith(("ss", "us", "is")))


def _asks_several(text: str) -> bool:
    """Whether the question asks for several things: "What were the key exports
    ...?" (no verb after it: "What are the penalties imposed over?" asks why),
    "Which countries ...", "What goods did ...", "Which of the companies ..."."""
    m = re.match(r"^what (?:are|were) (.*)", text)
    if m is not None:
        return not any(_verb_like(t) or t in _AUX
                       for t in m.group(1).split())
    m = re.match(r"^(?:which|what)(?: (?:one|ones))? of (?:the|these|those) (\w+)", text)
    if m is not None:
        return _plural(m.group(1))
    m = re.match(r"^(?:which|what)\s+(.*)", text)
    if m is None:
        return False
    tokens = m.group(1).split()
    run: list[str] = []
    for token in tokens:
        if token in _STOP_NOUN or _verb_like(token) or len(run) == 3:
            break
        run.append(token)
    if not run:
        return False
    after = tokens[len(run)] if len(run) < len(tokens) else None
    # "Which company offers the ...": a word in -s before an object is its verb.
    return _plural(run[-1]) and after not in _OBJECT_START


def asked_kind(question: str) -> str | None:
    """The kind of answer the question's first words ask for: :data:`DATE`,
    :data:`MONEY`, :data:`FIGURE`, :data:`LIST`, or None."""
    text = _plain(question)
    if _DATE_Q.match(text):
        return DATE
    if _FIGURE_Q.match(text):
        return MONEY if _MONEY_WORDS & set(text.split()) else FIGURE
    if _asks_several(text) or _MEMBERSHIP.match(text):
        return LIST
    return None


_FIGURE = re.compile(rf"\d|\b(?:{'|'.join(NUMBER_WORDS)})\b", re.IGNORECASE)
_PATTERNS = {DATE: FULL_DATE, MONEY: _MONEY, FIGURE: _FIGURE, LIST: _ENUMERATION}


def given_numbers(question: str) -> frozenset[str]:
    """The numbers a question states itself ("in 2023", "the past 11 seasons")."""
    return frozenset(w for w in words(question) if w[:1].isdigit())


def kind_spans(kind: str, text: str, given: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """Where ``text`` holds an answer of this kind, as character spans.

    A figure is not one that is part of a date ("arrested in December 2022"
    counts nothing) or one the question states itself (``given``: "How many
    home runs did he hit in 2023?" is not answered by "In 2023, ...")."""
    spans = [m.span() for m in _PATTERNS[kind].finditer(text)]
    if kind != FIGURE:
        return spans
    dated = [m.span() for m in FULL_DATE.finditer(text)]
    return [(s, e) for s, e in spans
            if not any(ds <= s < de for ds, de in dated)
            and not (given and _number_at(text, s) in given)]


def _number_at(text: str, start: int) -> str:
    found = words(text[start:start + 24])
    return found[0] if found else ""


def holds_kind(kind: str | None, text: str, given: frozenset[str] = frozenset()) -> bool:
    """Whether a sentence holds an answer of this kind (True for no kind)."""
    return kind is None or bool(kind_spans(kind, text, given))


#: A date, figure or list answers the question when it is written this close (in
#: words) to what the question asks about: "since the border was *sealed* in early
#: 2020" dates the sealing; "the highest since December 2019" dates something else.
NEAR_WORDS = 6
_ASKING = frozenset("year years date month months day days time period decade percentage "
                    "percent proportion share fraction number rate figure amount total sum "
                    "size among one include includ long far old big large high fast often "
                    "ago since".split())
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def topic_words(question: str) -> set[str]:
    """The question's own topic words, stemmed: not its names (every sentence on
    the topic repeats them), stopwords or the words that ask for the kind."""
    names = {w for m in NAME_RUN.finditer(question) for w in words(m.group(1))}
    return {stem(w) for w in words(question)
            if w not in STOPWORDS and w not in names and w not in _ASKING and not w.isdigit()}


def near_topic(kind: str, text: str, topic: set[str], given: frozenset[str] = frozenset()) -> bool:
    """Whether an answer of this kind in ``text`` is within :data:`NEAR_WORDS`
    words of one of the question's topic words."""
    tokens = [(m.start(), m.end(), stem(m.group(0).lower())) for m in _TOKEN.finditer(text)]
    at = [i for i, (_, _, t) in enumerate(tokens) if t in topic]
    if not at:
        return False
    for start, end in kind_spans(kind, text, given):
        inside = [i for i, (s, e, _) in enumerate(tokens) if s < end and e > start]
        if not inside:
            continue
        lo, hi = inside[0] - NEAR_WORDS, inside[-1] + NEAR_WORDS
        if any(lo <= i <= hi for i in at):
            return True
    return False


def kind_lead(question: str, texts: Sequence[str], scores: Sequence[float],
              order: Sequence[int], lead: int | None, floor: float,
              pool: Mapping[int, float] | None = None, size: int = 10) -> int | None:
    """The candidate to quote first so that it holds the kind asked for.

    ``texts`` and ``scores`` are the composer's candidates, ``order`` them by
    score, ``lead`` its choice (None: the best by score leads), ``floor`` the
    least score a quote may have. ``pool`` maps the candidates the
    cross-encoder read for the lead to their fit (score and logit); without
    it, the best ``size`` by score are the pool, ranked by score. Returns
    ``lead`` unchanged unless it lacks the kind and a pool candidate scoring at
    least ``floor`` has it; then the best such candidate.
    """
    kind = asked_kind(question)
    current = lead if lead is not None else (order[0] if order else None)
    given = given_numbers(question)
    if kind is None or current is None or holds_kind(kind, texts[current], given):
        return lead
    fit = dict(pool) if pool else {i: float(scores[i]) for i in list(order)[:size]}
    holding = [i for i in fit if scores[i] >= floor and holds_kind(kind, texts[i], given)]
    if not holding:
        return lead
    # One that gives it beside what the question asks about first, then by fit.
    topic = topic_words(question)
    return max(holding, key=lambda i: (near_topic(kind, texts[i], topic, given), fit[i]))
