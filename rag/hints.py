"""Read outlet and date hints from a question, relative to the corpus.

"as reported by TechCrunch", "published on September 26, 2023", "after
October 4, 2023", "in September", "the latest" — each becomes a deterministic
steer for retrieval. Dates resolve against the corpus's own date span, never the
wall clock: "in September" means the September the articles cover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from .text import MONTHS

_MONTHS = {m: i + 1 for i, m in enumerate(MONTHS)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|" \
         r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
# A calendar day with its year, in groups to read it as an ISO day (rag.asked.FULL_DATE
# finds any date-like words, "three weeks ago" too, and reads none).
_CALENDAR_DAY = re.compile(
    rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b|"
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH},?\s+(\d{{4}})\b|"
    r"\b(\d{4})-(\d{2})-(\d{2})\b",
    re.IGNORECASE,
)
_MONTH_ONLY = re.compile(rf"\b(?:in|during|of|from)\s+(?:early |late |mid-?)?{_MONTH}"
                         r"(?:\s+(\d{4}))?\b(?!\s+\d)", re.IGNORECASE)
_BEFORE = re.compile(r"\b(before|prior to|earlier than|until|by)\s*$", re.IGNORECASE)
_AFTER = re.compile(r"\b(after|since|following|later than|from)\s*$", re.IGNORECASE)
_LATEST = re.compile(r"\b(latest|most recent(ly)?|newest|last reported|more recent)\b",
                     re.IGNORECASE)
_EARLIEST = re.compile(r"\b(earliest|first reported|oldest|less recent)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Hints:
    """What the question says about outlets and dates."""

    sources: tuple[str, ...] = ()
    #: Outlets grouped by mention: "The Independent" names all its sections.
    source_groups: tuple[tuple[str, ...], ...] = ()
    days: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    latest: bool = False
    earliest: bool = False

    def describe(self) -> tuple[str, ...]:
        """Human-readable notes on what was applied, for ``Answer.hints``."""
        notes = [f"outlet named: {' / '.join(g)}" for g in self.source_groups]
        notes += [f"date named: {d}" for d in self.days]
        if self.since:
            notes.append(f"published on or after {self.since}")
        if self.until:
            notes.append(f"published on or before {self.until}")
        if self.latest:
            notes.append("prefers the most recent articles")
        if self.earliest:
            notes.append("prefers the earliest articles")
        return tuple(notes)

    @property
    def any(self) -> bool:
        return bool(self.sources or self.days or self.since or self.until or self.latest
                    or self.earliest)


def outlet_aliases(source: str) -> set[str]:
    """Ways a question may name an outlet: 'The Independent - Sports' -> 'The Independent'."""
    names = {source}
    for sep in (" - ", " | ", ": ", " – "):
        if sep in source:
            names.add(source.split(sep)[0])
    for name in list(names):
        if name.lower().startswith("the "):
            names.add(name[4:])
        if name.endswith(".com"):
            names.add(name[:-4])
    return {n.strip() for n in names if len(n.strip()) >= 3}


def outlet_mentions(question: str, sources: list[str]) -> list[tuple[int, int, str]]:
    """Every mention of a corpus outlet in the question: ``(start, end, source)``."""
    found: list[tuple[int, int, str]] = []
    for source in sources:
        for alias in outlet_aliases(source):
            for m in re.finditer(rf"(?<![\w-]){re.escape(alias)}(?![\w-])", question,
                                 re.IGNORECASE):
                # Lower-case mentions count only for multi-word names, so that
                # "fortune" in ordinary prose does not pick an outlet.
                if m.group(0)[0].isupper() or " " in alias:
                    found.append((m.start(), m.end(), source))
    return sorted(found)


def find_outlets(question: str, sources: list[str]) -> tuple[tuple[str, ...], ...]:
    """Outlets of the corpus named in the question, grouped by mention, in order."""
    first: dict[str, int] = {}
    for start, _, source in outlet_mentions(question, sources):
        first.setdefault(source, start)
    mentions: dict[int, list[str]] = {}
    for source, start in first.items():
        mentions.setdefault(start, []).append(source)
    return tuple(tuple(sorted(group)) for _, group in sorted(mentions.items()))


def _year_for(month: int, span: tuple[str, str] | None) -> int | None:
    """The latest year in which ``month`` overlaps the corpus's date span, if any."""
    if span is None:
        return None
    lo, hi = date.fromisoformat(span[0]), date.fromisoformat(span[1])
    for year in range(hi.year, lo.year - 1, -1):
        if date(year, month, 1) <= hi and _month_end(year, month) >= lo:
            return year
    return None


def _month_end(year: int, month: int) -> date:
    return (date(year, month, 28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def find_hints(question: str, sources: list[str], span: tuple[str, str] | None) -> Hints:
    """All hints in ``question`` for a corpus with these outlets and date span."""
    days: list[str] = []
    since: date | None = None
    until: date | None = None
    for m in _CALENDAR_DAY.finditer(question):
        g = m.groups()
        try:
            if g[0]:
                d = date(int(g[2]), _MONTHS[g[0].lower()[:3]], int(g[1]))
            elif g[4]:
                d = date(int(g[5]), _MONTHS[g[4].lower()[:3]], int(g[3]))
            else:
                d = date(int(g[6]), int(g[7]), int(g[8]))
        except (ValueError, KeyError):
            continue
        before = question[: m.start()]
        if _AFTER.search(before):
            since = d + timedelta(days=1)
        elif _BEFORE.search(before):
            until = d - timedelta(days=1)
        else:
            days.append(d.isoformat())
    if not days and since is None and until is None:
        for m in _MONTH_ONLY.finditer(question):
            month = _MONTHS[m.group(1).lower()[:3]]
            year = int(m.group(2)) if m.group(2) else _year_for(month, span)
            if year is None:
                continue
            start, end = date(year, month, 1), _month_end(year, month)
            since = start if since is None else min(since, start)
            until = end if until is None else max(until, end)
    groups = find_outlets(question, sources)
    return Hints(
        sources=tuple(s for group in groups for s in group),
        source_groups=groups,
        days=tuple(dict.fromkeys(days)),
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
        latest=bool(_LATEST.search(question)),
        earliest=bool(_EARLIEST.search(question)) and not _LATEST.search(question),
    )
