"""The parts of a several-part question, so that each part's evidence is looked for.

"Which company, reported by The Verge and TechCrunch, has been associated with
altering the internet's appearance, influencing Android app distribution, and is
accused of harming news publishers' revenues?" asks for one fact per clause,
often each from another article. One vector for the whole question blends the
clauses, and the best-matching clause takes the top of the ranking; a clause on
its own, matched against single sentences, finds its fact (README: evidence
recall@10 on MultiHop-RAG rises).

A part is a clause: the question split at commas, semicolons and question
marks, at "while", "whereas" and "but", and at "and" before a new predicate
("and is", "and has", ...). Outlet names are taken out of a part's text (they
are metadata, rarely in the text itself) and kept as the outlets it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .hints import outlet_mentions
from .text import tokenize

#: Clause boundaries. "and" splits only before what starts a new predicate, so
#: that "Apple and Google" or "fraud and conspiracy" stay whole. A comma before a
#: year ("December 5, 2023") or inside a number ("2,000 yards") is not one.
_BOUNDARY = re.compile(
    r",(?!\s*\d{4}\b)(?!(?<=\d,)\d)|[;?!]|\s(?:while|whereas|but)\s|\sand\s(?=(?:is|was|are|were|has|have|also|the|a|an)\s)",
    re.IGNORECASE,
)
_LEADING = re.compile(r"^(?:and|or|but|while|whereas)\s+", re.IGNORECASE)
#: A part needs this many distinct content words to say something of its own
#: ("as reported by both" says nothing once the outlets are taken out).
MIN_PART_WORDS = 3


@dataclass(frozen=True)
class Part:
    """One clause of a question: its text without outlet names, and those outlets."""

    text: str
    start: int
    end: int
    sources: tuple[str, ...] = ()


def question_parts(question: str, sources: list[str]) -> list[Part]:
    """The clauses of ``question`` with at least ``MIN_PART_WORDS`` content words.

    ``sources`` are the corpus's outlets: their mentions are cut out of each
    part's text and recorded in ``Part.sources``.
    """
    cuts = _merged_mentions(question, sources)
    masked = question
    for c_start, c_end, _ in cuts:
        # Boundaries inside an outlet's name ("The Independent - Life and Style") do not split.
        masked = masked[:c_start] + "x" * (c_end - c_start) + masked[c_end:]
    parts: list[Part] = []
    start = 0
    for boundary in [*_BOUNDARY.finditer(masked), None]:
        end = boundary.start() if boundary else len(question)
        pieces: list[str] = []
        named: list[str] = []
        cursor = start
        for c_start, c_end, names in cuts:
            if start <= c_start and c_end <= end:
                pieces.append(question[cursor:c_start])
                cursor = c_end
                named.extend(names)
        pieces.append(question[cursor:end])
        # Quotes left around a cut-out outlet name ("the 'Fortune' article").
        text = re.sub(r"(?<!\w)['‘’\"“”]\s*['‘’\"“”](?!\w)", " ", " ".join(pieces))
        text = " ".join(text.split()).strip(" '\"‘’“”")
        text = _LEADING.sub("", text)
        if len(set(tokenize(text))) >= MIN_PART_WORDS:
            parts.append(Part(text=text, start=start, end=end,
                              sources=tuple(dict.fromkeys(named))))
        start = boundary.end() if boundary else end
    return parts


def _merged_mentions(question: str, sources: list[str]) -> list[tuple[int, int, tuple[str, ...]]]:
    """Outlet mentions with overlapping ones ("The Roar" inside "The Roar | Sports
    Writers Blog") merged into one span naming all their outlets."""
    merged: list[tuple[int, int, tuple[str, ...]]] = []
    for m_start, m_end, source in outlet_mentions(question, sources):
        if merged and m_start < merged[-1][1]:
            last = merged[-1]
            names = last[2] if source in last[2] else (*last[2], source)
            merged[-1] = (last[0], max(last[1], m_end), names)
        else:
            merged.append((m_start, m_end, (source,)))
    return merged
