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


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans within ``text[start:end]``, trimmed of whitespace.

    Line breaks always end a sentence (headlines, captions and paragraphs are
    separate units in scraped news).
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        base = start + line.start()
        segment = line.group()
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
