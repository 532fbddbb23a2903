"""Which sentences of an article may be quoted as an answer, and why the others may not.

A news page holds more than its story: the headline, photo captions and their
credits, bylines, breadcrumbs, share and print buttons, image markup. They stay
in the index (a caption can help find a passage) but are never quoted as an
answer, and neither is a fragment: a "sentence" that opens mid-sentence, or
that does not end like one. The rules describe how news pages are built, not
any one article:

- a **caption** repeats the alt text of the image above it, ends with a photo
  or agency credit ("[JOONGANG PHOTO]", "[NEWS1]", "(Reuters)", "(AP Photo/…)"),
  opens like one ("From left: …", "A photo released by … shows …", "This file
  photo, carried by …"), places its people (", right, shaking hands", "(L)"),
  or says "in this photo";
- a **photo credit** names who took or supplied a photo ("Photo by … on
  Shutterstock", "Image: Reuters");
- a **headline** is the article's title line, or a line of its own that does
  not end like a sentence ("Kim Jong Un leaves Beijing");
- a **byline** names the writers ("BY LEE YU-JUNG [[email protected]]", "By Jane
  Doe and Sam Roe"), or how the text was produced ("Translated … and edited by
  … staff");
- **breadcrumbs**, **share/print widgets** and **image markup** are recognised
  as cleaning recognises them (``rag.clean``);
- text that states nothing: shouted text, a dateline, a heading put as a
  question (:func:`states_something`).

Each rule looks at the sentence and the paragraph (line) it sits in, so every
sentence of a caption is a caption, not only the one that names the photo.
"""

from __future__ import annotations

import re

from .clean import MARKUP, is_breadcrumb, is_widget
from .text import MONTHS, WEEKDAYS, words

#: Reasons :func:`unquotable` gives.
CAPTION = "caption"
PHOTO_CREDIT = "photo credit"
HEADLINE = "headline"
BYLINE = "byline"
BREADCRUMB = "breadcrumb"
WIDGET = "share/print widget"
MARKUP_REASON = "image markup"
FRAGMENT = "fragment"
NO_STATEMENT = "states nothing"
#: The reasons that make a quote a caption, headline or fragment in ``rag eval``.
REASONS = (CAPTION, PHOTO_CREDIT, HEADLINE, BYLINE, BREADCRUMB, WIDGET, MARKUP_REASON,
           FRAGMENT, NO_STATEMENT)

#: A paragraph longer than this is prose, not a caption: its rules apply to the
#: sentence alone.
CAPTION_MAX_CHARS = 600
#: A line of its own longer than this that does not end like a sentence is a
#: fragment, not a title (``rag.articles.HEADLINE_MAX_CHARS``).
HEADLINE_MAX_CHARS = 120
_CLOSERS = "\"'”’)]"
_OPENERS = "\"'“‘([—–-"
_ENDS = ".!?…"

# ---------------------------------------------------------------- captions

_PHOTO = r"(?:photo(?:graph)?|image|picture|screenshot|screen ?grab|video grab|still|handout)s?"
_AGENCIES = (r"ap|afp|reuters|xinhua|yonhap|kcna|kcna via kns|epa|epa-efe|getty images|"
             r"bloomberg|aap|kyodo|tass|sputnik|anadolu|shutterstock|news1|newsis|pool|"
             r"ria novosti|ap photo|afp photo|reuters photo|file")
#: Ends with a credit: a bracketed label in capitals ("[JOONGANG PHOTO]", "[NEWS1]"),
#: or a photo or agency credit in parentheses ("(AP Photo/…)", "(Reuters)", "(KCNA via KNS)").
_LABEL_END = re.compile(r"\[[^\[\]a-z]*[A-Z][^\[\]a-z]*\]\s*$")
_CREDIT_END = re.compile(
    r"\((?:[^()]*\b" + _PHOTO + r"\b[^()]*|[^()]*\bvia\b[^()]*|"
    r"(?:" + _AGENCIES + r")(?:\s*/\s*[^()]+)?)\)\s*$", re.IGNORECASE)
#: Opens like a caption: "From left:", "Left to right,", "A photo released by … shows".
_CAPTION_START = re.compile(
    r"^(?:(?:from|pictured,?)\s+)?(?:left|right|top|bottom|above|below|clockwise)"
    r"(?:\s+to\s+right)?\s*[:,]", re.IGNORECASE)
_PHOTO_START = re.compile(
    r"^(?:an?|this|the|in\s+this|in\s+an?)\s+(?:[\w-]+,?\s+){0,3}?" + _PHOTO + r"\b",
    re.IGNORECASE)
_CAPTION_VERB = re.compile(
    r"\b(?:shows?|showing|shown|released|provided|taken|carried|distributed|supplied|"
    r"obtained|courtesy|seen|depicts?|made from)\b", re.IGNORECASE)
#: "in this photo provided by …", "seen in this handout image".
_IN_THIS_PHOTO = re.compile(r"\bin\s+(?:this|these)\s+(?:[\w-]+\s+){0,2}?" + _PHOTO + r"\b",
                            re.IGNORECASE)
#: People placed in the picture: "Xi Jinping, right, shaking hands", "(L)", "(2nd R)".
_PLACED = re.compile(
    r",\s*(?:left|right|center|centre|second\s+(?:from\s+)?(?:left|right)|"
    r"(?:far|top|bottom|front|back)\s+(?:left|right|row)|in\s+the\s+(?:front|back)\s+row)"
    r"\s*,", re.IGNORECASE)
_PLACED_MARK = re.compile(r"(?<![\w)])\((?:L|R|C|2nd [LR]|3rd [LR]|[Cc]ent(?:er|re)|[Ll]eft|"
                          r"[Rr]ight)\)")

_CREDIT_LINE = re.compile(
    r"^.{0,80}\b" + _PHOTO + r"\s+(?:by|credit|courtesy(?:\s+of)?)\b.{0,80}$|"
    r"^\s*" + _PHOTO + r"\s*(?:credit|source)?\s*[:|]\s*.{0,80}$|"
    r"[—–|-]\s*(?:\w+\s+){0,3}" + _PHOTO + r"\s*$", re.IGNORECASE)

# ---------------------------------------------------------------- bylines

_NAME_PART = r"(?:[A-Z][\w'’.-]*|and|&|de|da|van|von|der|la|le|al|bin|el)"
_BYLINE = re.compile(
    r"^\s*(?i:by)\s+[A-Z][\w'’.-]*(?:[\s,]+" + _NAME_PART + r")*\s*(?:[\[(|—–-].*)?$")
_BYLINE_MAX_WORDS = 14
#: How the text was made: "Reporting by …", "Translated from … and edited by …",
#: "This content was partially produced with the help of …".
_PRODUCED_BY = re.compile(
    r"^(?:(?:additional\s+)?reporting|writing|editing|edited|written|compiled|translated|"
    r"produced|photos?|graphics?)\s+(?:by|from|with)\b|"
    r"^(?:this|the)\s+(?:article|content|story|report|text|piece)\s+(?:was|were|has been|is)"
    r"\s+(?:\w+\s+){0,3}?(?:produced|written|translated|edited|reviewed|generated|compiled)\b",
    re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+|\[email\s*protected\]", re.IGNORECASE)

# ---------------------------------------------------------------- statements

#: Square-bracketed asides: editors' credits and notes, "[email protected]".
_BRACKETED = re.compile(r"\[[^\]]*\]+")
#: Words of three letters or more: the ones a title-cased heading capitalises.
_LONG_WORD = re.compile(r"[^\W\d_][\w'’]{2,}")
_DATELINE_WORDS = frozenset((*MONTHS, *WEEKDAYS,
                             *"jan feb mar apr jun jul aug sep sept oct nov dec am pm".split()))


def states_something(text: str) -> bool:
    """Whether ``text`` can be quoted as saying something.

    Text with no lower-case letter outside square brackets is shouted, not said: a
    photo credit ("[KOREAN CENTRAL NEWS AGENCY]"), a call to action ("CLICK HERE
    TO GET THE … APP"), a byline ("BY LEE YU-JUNG [[email protected]]"), a
    section label. A question with every word capitalised ("What's Next?") is a
    section heading; a question headline in sentence case ("Is Sam Bankman-Fried
    a bad 'man' or a good 'boy'?") stays, since it may be the only sentence that
    names the answer. A dateline ("Wednesday, 29 May 2024 – 22:46") is only a
    date. None of these states anything to quote.
    """
    if not any(ch.islower() for ch in _BRACKETED.sub("", text)):
        return False
    if text.rstrip(" " + _CLOSERS).endswith("?") and all(
            w[0].isupper() for w in _LONG_WORD.findall(text)):
        return False
    return any(not (w[0].isdigit() or w in _DATELINE_WORDS) for w in words(text))


# ---------------------------------------------------------------- the rules


def _paragraph(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of the line(s) holding ``text[start:end]``, trimmed."""
    lo = text.rfind("\n", 0, start) + 1
    hi = text.find("\n", end)
    hi = len(text) if hi < 0 else hi
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return lo, hi


def _previous_line(text: str, lo: int) -> str:
    """The nearest non-blank line before offset ``lo`` (a line start)."""
    for line in reversed(text[:lo].splitlines()):
        if line.strip():
            return line.strip()
    return ""


def _plain(text: str) -> str:
    return " ".join(words(text))


def is_caption(paragraph: str, previous: str = "") -> bool:
    """Whether ``paragraph`` (a line of an article) is a photo caption; ``previous``
    is the line above it (a caption often repeats the image markup's alt text)."""
    if len(paragraph) > CAPTION_MAX_CHARS:
        return False
    alt = re.match(r"^\s*!\[(.*)\]\(", previous)
    if alt and _plain(paragraph) and _plain(paragraph) in _plain(alt.group(1)):
        return True
    if (_LABEL_END.search(paragraph) or _CREDIT_END.search(paragraph)) and not _EMAIL.search(
            paragraph):
        return True
    if _CAPTION_START.match(paragraph) or _IN_THIS_PHOTO.search(paragraph):
        return True
    if _PHOTO_START.match(paragraph) and _CAPTION_VERB.search(paragraph):
        return True
    return bool(_PLACED.search(paragraph) or _PLACED_MARK.search(paragraph))


def is_byline(line: str) -> bool:
    """Whether ``line`` names the article's writers or says how it was produced."""
    line = line.strip()
    if _EMAIL.search(line) and len(line.split()) <= _BYLINE_MAX_WORDS:
        return True
    if _BYLINE.match(line) and len(line.split()) <= _BYLINE_MAX_WORDS:
        return True
    return bool(_PRODUCED_BY.search(line))


def _ends_like_a_sentence(sentence: str) -> bool:
    return sentence.rstrip().rstrip(_CLOSERS).endswith(tuple(_ENDS))


def starts_a_sentence(text: str, start: int) -> bool:
    """Whether a sentence may begin at ``text[start]``: at the start of the text or of
    a line, or after a sentence's end; and not on a lower-case word ("engagement
    between the two nations." is the end of a sentence the line break cut)."""
    head = text[start:start + 40].lstrip(_OPENERS + " ")
    first = re.match(r"[^\W_][\w'’-]*", head)
    if first is not None and first.group()[0].isalpha() and first.group() == first.group().lower():
        return False
    before = text[:start].rstrip(" \t")
    if not before or before.endswith("\n"):
        return True
    before = before.rstrip(_CLOSERS)
    return before.endswith(tuple(_ENDS)) or before.endswith(":")


def unquotable(text: str, start: int, end: int, title: str | None = None) -> str | None:
    """Why ``text[start:end]``, a sentence of an article whose text is ``text`` and
    whose headline is ``title``, cannot be quoted as an answer (one of
    :data:`REASONS`), or None when it can."""
    sentence = text[start:end].strip()
    lo, hi = _paragraph(text, start, end)
    paragraph = text[lo:hi]
    if MARKUP.search(sentence) or MARKUP.search(paragraph):
        return MARKUP_REASON
    if is_breadcrumb(paragraph):
        return BREADCRUMB
    if is_widget(paragraph):
        return WIDGET
    if is_byline(paragraph if len(paragraph) <= CAPTION_MAX_CHARS else sentence):
        return BYLINE
    if _CREDIT_LINE.search(paragraph) and not _ends_like_a_sentence(paragraph):
        return PHOTO_CREDIT
    if is_caption(paragraph, _previous_line(text, lo)) or is_caption(sentence):
        return CAPTION
    if not states_something(sentence):
        return NO_STATEMENT
    whole_line = sentence == paragraph
    if whole_line and title is not None and sentence == title.strip():
        return HEADLINE
    if not _ends_like_a_sentence(sentence):
        # A line of its own is a title, unless it is long or the next line goes on
        # with its sentence (a line break cut it).
        goes_on = re.match(r"\n[ \t]*[a-z]", text[hi:hi + 8]) is not None
        short = len(sentence) <= HEADLINE_MAX_CHARS
        return HEADLINE if whole_line and short and not goes_on else FRAGMENT
    if not starts_a_sentence(text, start + (len(text[start:end]) - len(text[start:end].lstrip()))):
        return FRAGMENT
    return None
