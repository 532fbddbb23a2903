"""Typed records passed between the pipeline's steps.

Small frozen dataclasses with ``to_dict()`` so every step's output is JSON-ready.
Offsets (``start``/``end``) are character offsets into ``Article.text``:
``article.text[start:end] == chunk.text`` always holds.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any

from .text import first_sentence_title

#: Shown where an article states no outlet, or no date.
OUTLET_NOT_STATED = "outlet not stated"
DATE_NOT_STATED = "date not stated"


def content_id(*parts: str, length: int = 16) -> str:
    """A deterministic id: the first ``length`` hex digits of sha256 over ``parts``."""
    h = hashlib.sha256()
    for i, part in enumerate(parts):
        if i:
            h.update(b"\x1f")
        h.update(part.encode("utf-8"))
    return h.hexdigest()[:length]


def source_label(source: str | None) -> str:
    """The outlet as shown to a reader: as stated, or "outlet not stated"."""
    return source or OUTLET_NOT_STATED


def date_label(published: str | None, note: str | None = None) -> str:
    """The date as shown to a reader: the stated day (``2024-05-29``), else
    "date not stated", with what the text says about its date (``note``) if anything."""
    if published:
        return published[:10]
    return f"{DATE_NOT_STATED} ({note})" if note else DATE_NOT_STATED


def _fill_labels(obj: Any) -> None:
    """Set a record's empty ``source_label``/``date_label`` from its metadata."""
    if not obj.source_label:
        object.__setattr__(obj, "source_label", source_label(obj.source))
    if not obj.date_label:
        object.__setattr__(obj, "date_label", date_label(obj.published))


def _to_dict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, tuple):
            value = [v.to_dict() if hasattr(v, "to_dict") else v for v in value]
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        elif hasattr(value, "to_dict"):
            value = value.to_dict()
        out[f.name] = value
    return out


@dataclass(frozen=True)
class Dropped:
    """A boilerplate line removed by cleaning: ``article.text[start:end]``."""

    start: int
    end: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True)
class Article:
    """One news article. ``text`` is the body exactly as in the source file.

    Metadata the source does not state is ``None``; nothing is invented.
    ``title`` is the one stated (metadata, or a .txt file's headline line); the
    loader gives an article that states none the start of its first sentence
    (``rag.text.first_sentence_title``). ``date_note`` says what the text
    states about its date when it gives no publication date ("photo URLs dated
    2025/04/08"). ``dropped`` lists boilerplate lines that cleaning leaves out
    of chunks (the text itself is never altered).
    """

    id: str
    text: str
    title: str | None = None
    source: str | None = None
    published: str | None = None
    url: str | None = None
    author: str | None = None
    path: str | None = None
    dropped: tuple[Dropped, ...] = ()
    date_note: str | None = None

    @staticmethod
    def make_id(text: str) -> str:
        return content_id(text)

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Article:
        d = dict(d)
        d["dropped"] = tuple(Dropped(**x) for x in d.get("dropped") or ())
        return cls(**d)

    @property
    def label(self) -> str:
        """The title shown to a reader: the title, else the start of the first sentence
        (an article built by hand, or loaded from an index built before titles were
        derived)."""
        return self.title or first_sentence_title(
            self.text, ((x.start, x.end) for x in self.dropped))

    @property
    def source_label(self) -> str:
        """The outlet shown to a reader (:func:`source_label`)."""
        return source_label(self.source)

    @property
    def date_label(self) -> str:
        """The date shown to a reader (:func:`date_label`)."""
        return date_label(self.published, self.date_note)


@dataclass(frozen=True)
class Chunk:
    """A passage of one article: ``text == article.text[start:end]``."""

    id: str
    article_id: str
    start: int
    end: int
    text: str
    ordinal: int = 0
    n_tokens: int = 0

    @staticmethod
    def make_id(article_id: str, start: int, text: str) -> str:
        return content_id(article_id, str(start), text)

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True)
class Sentence:
    """A sentence of one article, by offsets: ``article.text[start:end]``."""

    article_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its article's metadata. ``rank`` starts at 1.

    ``score`` is the fused retrieval score. ``rerank_score`` is the
    cross-encoder's score of the chunk's best sentence when it read the chunk
    (a one-part question, among the first ``Config.rerank_depth``); those
    hits are ranked by it, ahead of the rest. ``rerank_span`` is that
    sentence's ``(start, end)`` in the article's text. ``hints`` says why the
    chunk was found: "outlet named: …", "date named: …", or "part of the
    question: …" for the passage of a clause's best-matching sentence, with
    "part read as about: …" when the clause was matched with the name the
    question's first passages share (``rag.bridge``).
    """

    text: str
    score: float
    rank: int
    chunk_id: str
    article_id: str
    title: str | None
    source: str | None
    published: str | None
    url: str | None
    start: int
    end: int
    hints: tuple[str, ...] = ()
    rerank_score: float | None = None
    rerank_span: tuple[int, int] | None = None
    source_label: str = ""
    date_label: str = ""

    def __post_init__(self) -> None:
        _fill_labels(self)

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True)
class Citation:
    """One ``[n]`` marker of an answer: a verbatim quote and where it comes from.

    ``quote == article.text[start:end]`` for the article ``article_id``.
    ``source_label`` and ``date_label`` are as in :class:`Hit`.
    """

    n: int
    quote: str
    article_id: str
    title: str | None
    source: str | None
    published: str | None
    url: str | None
    start: int
    end: int
    score: float = 0.0
    chunk_id: str | None = None
    source_label: str = ""
    date_label: str = ""

    def __post_init__(self) -> None:
        _fill_labels(self)

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True)
class Answer:
    """An answer made of verbatim quotes.

    ``text`` holds the quotes with ``[n]`` markers; ``citations[n-1]`` is marker n.
    When ``abstained`` is True the articles do not answer the question; ``hits``
    then lists the closest passages, which do *not* answer it, ``reason`` says
    why in plain words for a reader ("None of the closest passages mentions Pak
    Myong Ho."; "The closest sentences do not match the question well enough to
    quote them as an answer."), and ``reason_detail`` gives the numbers behind it
    ("the best sentence scores 0.12: 0.12 is below the threshold 0.18"; "... no
    passage gives a figure for what is counted: barrel (-0.30) ...").

    ``resolved_question`` is the question actually answered when ``question``
    leaned on an earlier turn of the conversation ("What about in 2023?" asked
    as the previous question with its date swapped; see ``rag.followup``);
    None when ``question`` was answered as asked.
    """

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    abstained: bool = False
    hits: tuple[Hit, ...] = ()
    hints: tuple[str, ...] = ()
    confidence: float = 0.0
    reason: str = ""
    reason_detail: str = ""
    #: "direct" (the quotes answer the question), "indirect" (evidence weak but
    #: not absent: ``text`` then opens with "The articles don't say directly;
    #: closest passages:") or "none" (abstained).
    confidence_label: str = "direct"
    timings_ms: dict[str, float] = field(default_factory=dict)
    resolved_question: str | None = None

    def __post_init__(self) -> None:
        if self.abstained and self.confidence_label == "direct":
            object.__setattr__(self, "confidence_label", "none")

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)
