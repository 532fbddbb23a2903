"""Split text into sentences with character offsets (for quoting).

A small rule-based splitter: news prose is regular enough, and offsets must be
exact so that every quote is ``text[start:end]`` of its article.
"""

from __future__ import annotations

import re

# Abbreviations after which a period does not end a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "gen", "col", "lt", "sgt", "capt",
    "gov", "sen", "rep", "rev", "hon", "pres", "vs", "etc", "inc", "corp", "co", "ltd",
    "no", "nos", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "u.s", "u.k", "u.n", "e.g", "i.e", "a.m", "p.m", "approx", "est", "fig",
    "dept", "univ", "mt", "ft", "al",
}
_BOUNDARY = re.compile(r"[.!?]+[\"”’')\]]*(?=\s+[\"“‘'(\[]?[A-Z0-9])")
_MIN_CHARS = 3


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the period at ``dot`` ends an abbreviation or an initial."""
    if text[dot] != ".":
        return False
    start = dot
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    word = text[start:dot].lower()
    if word in _ABBREVIATIONS:
        return True
    # Single letters ("Kim J. Un", "U.S.") are initials, not sentence ends.
    return len(word.replace(".", "")) == 1


# A line that ends like a sentence: . ! ? or … maybe followed by closing quotes or brackets.
_LINE_END = re.compile(r"[.!?…][\"'”’)\]]*\s*$")
# A line that continues the one before it: it opens on a lower-case word.
_CONTINUES = re.compile(r"[ \t]*[a-z]")


def _units(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The lines of ``text[start:end]``, a line joined to the one before it when that
    one does not end like a sentence and this one opens lower-case: a sentence
    hard-wrapped, or split by a line break in scraping ("... highlighting a renewed
    economic" / "engagement between the two nations.")."""
    units: list[tuple[int, int]] = []
    previous_end = -1
    for line in re.finditer(r"[^\n]+", text[start:end]):
        s, e = start + line.start(), start + line.end()
        if (units and previous_end == s - 1 and _CONTINUES.match(line.group())
                and text[units[-1][0]:units[-1][1]].strip()
                and not _LINE_END.search(text[units[-1][0]:units[-1][1]])):
            units[-1] = (units[-1][0], e)
        else:
            units.append((s, e))
        previous_end = e
    return units


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans within ``text[start:end]``, trimmed of whitespace.

    A line break ends a sentence (headlines, captions and paragraphs are
    separate units in scraped news), except a single line break inside a
    sentence: when the line before it does not end like a sentence and the
    line after it opens on a lower-case word, the two lines are one sentence
    (which then holds that line break; its offsets are still exact).
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for base, unit_end in _units(text, start, end):
        segment = text[base:unit_end]
        cursor = 0
        for match in _BOUNDARY.finditer(segment):
            first_dot = match.start()
            if _is_abbreviation(segment, first_dot) and match.end() - match.start() == 1:
                continue
            spans.append((base + cursor, base + match.end()))
            cursor = match.end()
        spans.append((base + cursor, base + len(segment)))
    out = []
    for s, e in spans:
        piece = text[s:e]
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece) - len(piece.rstrip())
        s, e = s + lead, e - trail
        if e - s >= _MIN_CHARS:
            out.append((s, e))
    return out
