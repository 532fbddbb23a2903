"""Drop whole boilerplate lines from scraped article text, never altering kept text.

Cleaning returns *which* lines to leave out (as spans with a reason) and the
contiguous blocks of text that remain; the article text itself is untouched, so
every quote taken from a block is verbatim in the source.

Lines are dropped by how news pages are built, not by any one site's wording:
image markup, breadcrumb trails (short capitalised items between ">"), share,
print and font-size buttons (a line of nothing but their labels), teasers,
social and comment prompts, copyright lines, photo credits and repeats.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .records import Dropped

_IMAGE = re.compile(r"^\s*!\[.*\]\([^()\s]*\)\s*$")
#: Markdown image or link markup anywhere in a line: ``![alt](url)``, ``[text](https://…)``.
MARKUP = re.compile(r"!\[[^\]]*\]\([^)\s]*\)|\]\((?:https?:)?//[^)\s]*\)")
_TEASER = re.compile(
    r"^\s*(read next|see also|read more|also read|related|recommended|more from|trending)"
    r"(\s+(articles?|stories|news|reading))?\s*(:|$)",
    re.IGNORECASE,
)
_NAVIGATION = re.compile(
    r"^\s*(skip to (main )?content|advertisement|back to top)\s*$",
    re.IGNORECASE,
)
# Breadcrumbs: short items, each starting with a capital or digit, between ">"
# (or "›", "»"; "|" or "/" with spaces): "Home > National > North Korea".
_CRUMB_SEP = re.compile(r"\s*[>›»]\s*|\s+[|/]\s+")
_CRUMB_HOME = frozenset("home news main index start".split())
_CRUMB_MAX_WORDS = 4
_CRUMB_MAX_CHARS = 32
# Share, print and font-size buttons, scraped as a line of their labels
# ("print dictionary print", "Share on Facebook Twitter", "A A").
_WIDGET_WORDS = frozenset(
    """share shares sharing print printer printing email e-mail mail tweet facebook twitter x
    linkedin whatsapp telegram reddit pinterest kakao kakaotalk kakaostory naver band line
    messenger sms flipboard weibo wechat copy copied link url dictionary font size text a
    save saved bookmark listen audio subscribe follow us on close menu search zoom in out
    reset increase decrease larger smaller comment comments this article page story via
    more or to""".split())
_WIDGET_MAX_CHARS = 80
_WIDGET_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def is_breadcrumb(line: str) -> bool:
    """Whether ``line`` is a breadcrumb trail: two or more short items that start with
    a capital or digit, separated by ">" (three or more unless the first is "Home")."""
    line = line.strip()
    if not line or len(line) > 4 * _CRUMB_MAX_CHARS:
        return False
    items = [i.strip() for i in _CRUMB_SEP.split(line)]
    if len(items) < 2 or (len(items) < 3 and items[0].lower() not in _CRUMB_HOME):
        return False
    return all(item and len(item) <= _CRUMB_MAX_CHARS
               and len(item.split()) <= _CRUMB_MAX_WORDS
               and (item[0].isupper() or item[0].isdigit())
               and not item.endswith((".", "!", "?", ",", ";", ":"))
               for item in items)


def is_widget(line: str) -> bool:
    """Whether ``line`` holds only the labels of share, print or font-size buttons."""
    line = line.strip()
    if not line or len(line) > _WIDGET_MAX_CHARS or line.endswith((".", "!", "?")):
        return False
    found = _WIDGET_WORD.findall(line.lower())
    rest = _WIDGET_WORD.sub("", line.lower())
    return bool(found) and all(w in _WIDGET_WORDS for w in found) and not any(
        ch.isdigit() for ch in rest)


_SOCIAL = [
    re.compile(r"\b(log|sign)\s?(in|on|up)\b.{0,60}\b(account|twitter|facebook|google|comment)",
               re.IGNORECASE),
    re.compile(r"\bto (write|post|leave|add) (a )?comments?\b", re.IGNORECASE),
    re.compile(r"\bsocial comment\b", re.IGNORECASE),
    re.compile(r"\(\d+\s*/\s*\d+\S*\)\s*$"),  # comment-box character counters
    re.compile(r"^\s*(\d+\s+)?comments?\s*$", re.IGNORECASE),
]
_COPYRIGHT = re.compile(r"^\s*(©|\(c\)\s|copyright\b)|\ball rights reserved\b", re.IGNORECASE)
_PHOTO_CREDIT = re.compile(
    r"^.{0,80}\b(photo|image|picture)s?\s+(by|credit|courtesy of)\b.{0,80}$|"
    r"^\s*(photo|image|picture)\s*(credit|source)?\s*:\s*.{0,80}$",
    re.IGNORECASE,
)
# Credits are labels; a line ending like a sentence is a caption or prose, so kept.
_BYLINE = re.compile(r"^by\s+\S", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?\"”’]\s*$")

# A line shorter than this that sits next to a dropped social-widget line is a
# fragment of that widget ("lock icon", "s", "with the ... Daily"), not prose.
_FRAGMENT_MAX = 40
# Repeats shorter than this (e.g. "What's Next?") may be legitimate; longer exact
# repeats are scraped captions or titles shown twice.
_REPEAT_MIN = 20


def _lines(text: str) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each line's content, without its line break."""
    pos = 0
    n = len(text)
    while pos <= n:
        nl = text.find("\n", pos)
        end = n if nl < 0 else nl
        line_end = end - 1 if end > pos and text[end - 1] == "\r" else end
        yield pos, line_end
        if nl < 0:
            break
        pos = nl + 1


def _classify(line: str) -> str | None:
    if _IMAGE.match(line):
        return "image markdown"
    if _TEASER.match(line):
        return "teaser"
    if _NAVIGATION.match(line) or is_breadcrumb(line):
        return "navigation"
    if is_widget(line):
        return "share/print widget"
    if len(line) <= 200 and any(p.search(line) for p in _SOCIAL):
        return "social/comment prompt"
    if len(line) <= 200 and _COPYRIGHT.search(line):
        return "copyright"
    if _PHOTO_CREDIT.match(line) and not _SENTENCE_END.search(line):
        return "photo credit"
    return None


def find_boilerplate(text: str) -> tuple[Dropped, ...]:
    """Return the boilerplate lines of ``text`` as spans, in order."""
    spans = list(_lines(text))
    reasons: list[str | None] = []
    seen: set[str] = set()
    for start, end in spans:
        line = text[start:end]
        stripped = line.strip()
        reason = _classify(line) if stripped else None
        if reason is None and len(stripped) >= _REPEAT_MIN:
            if stripped in seen:
                reason = "repeated paragraph"
            seen.add(stripped)
        reasons.append(reason)

    # Widget fragments: short unpunctuated lines beside a dropped social line.
    nonblank = [i for i, (s, e) in enumerate(spans) if text[s:e].strip()]
    changed = True
    while changed:
        changed = False
        for pos, i in enumerate(nonblank):
            if reasons[i] is not None:
                continue
            line = text[spans[i][0]:spans[i][1]].strip()
            if (len(line) > _FRAGMENT_MAX or line.endswith((".", "!", '"', "”"))
                    or _BYLINE.match(line)):
                continue
            neighbours = [nonblank[j] for j in (pos - 1, pos + 1) if 0 <= j < len(nonblank)]
            if any(reasons[j] == "social/comment prompt" for j in neighbours):
                reasons[i] = "social/comment prompt"
                changed = True

    return tuple(
        Dropped(start, end, reason)
        for (start, end), reason in zip(spans, reasons, strict=True)
        if reason is not None
    )


def kept_blocks(text: str, dropped: tuple[Dropped, ...]) -> list[tuple[int, int]]:
    """Contiguous spans of ``text`` left after removing ``dropped`` lines.

    Blocks are trimmed of surrounding whitespace; empty blocks are omitted.
    """
    blocks: list[tuple[int, int]] = []
    cursor = 0
    for d in sorted(dropped, key=lambda d: d.start):
        blocks.append((cursor, d.start))
        cursor = d.end
    blocks.append((cursor, len(text)))
    out = []
    for start, end in blocks:
        segment = text[start:end]
        lead = len(segment) - len(segment.lstrip())
        trail = len(segment) - len(segment.rstrip())
        s, e = start + lead, end - trail
        if e > s:
            out.append((s, e))
    return out
