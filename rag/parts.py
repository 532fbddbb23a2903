"""The parts of a several-part question, so that each part's evidence is looked for.

"Which company, reported by The Verge and TechCrunch, has been associated with
altering the internet's appearance, influencing Android app distribution, and is
accused of harming news publishers' revenues?" asks for one fact per clause,
often each from another article. One vector for the whole question blends the
clauses, and the best-matching clause takes the top of the ranking; a clause on
its own, matched against single sentences, finds its fact (docs/experiments.md: evidence
recall@10 on MultiHop-RAG rises).

A part is a clause: the question split at commas, semicolons and question
marks, at "while", "whereas" and "but", and at "and" before a new predicate
("and is", "and has", ...). A clause that names a second report with a claim of
its own ("Does the Sportskeeda article suggest X compared to the CBSSports.com
article's assessment of Y?") is split where that report is named. Outlet names
are taken out of a part's text (they are metadata, rarely in the text itself)
and kept as the outlets it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

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
    boundaries = [(b.start(), b.end()) for b in _BOUNDARY.finditer(masked)]
    boundaries = sorted(boundaries + _second_reports(question, cuts, boundaries))
    parts: list[Part] = []
    start = 0
    for boundary in [*boundaries, None]:
        end = boundary[0] if boundary else len(question)
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
        start = boundary[1] if boundary else end
    return parts


def _second_reports(question: str, cuts: list[tuple[int, int, tuple[str, ...]]],
                    boundaries: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Where a clause names another report with a claim of its own: just before
    an outlet mention that follows an earlier one in the same clause, when at
    least ``MIN_PART_WORDS`` content words lie between the two and after it.

    "Does the TechCrunch article on Meta's moderation suggest a different problem
    than the TechCrunch article alleging privacy violations?" asks about two
    facts, one per report. "Did TechCrunch and The Verge both report ..." names
    two outlets for one claim, and stays one part.
    """
    ends = [b[0] for b in boundaries] + [len(question)]
    # Outlet names are cut out of a part's text, so they are not its words either.
    blank = question
    for c_start, c_end, _ in cuts:
        blank = blank[:c_start] + " " * (c_end - c_start) + blank[c_end:]

    def words_between(start: int, end: int) -> int:
        return len(set(tokenize(blank[start:end])))

    out: list[tuple[int, int]] = []
    for before, mention in pairwise(cuts):
        if any(before[1] <= b[0] < mention[0] for b in boundaries):
            continue  # another clause already
        clause_end = next(e for e in ends if e >= mention[1])
        if (words_between(before[1], mention[0]) >= MIN_PART_WORDS
                and words_between(mention[1], clause_end) >= MIN_PART_WORDS):
            out.append((mention[0], mention[0]))
    return out


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
