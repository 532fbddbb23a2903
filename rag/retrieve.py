"""Retrieval: dense (FAISS) and BM25 candidates fused by reciprocal rank."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from .config import Config
from .errors import QuestionError
from .index import Index
from .records import Hit
from .text import tokenize

# Reciprocal-rank-fusion constant (Cormack et al. 2009 use 60).
RRF_K = 60
# Candidates taken from each retriever before fusion.
CANDIDATES = 100


def validate_question(question: object, config: Config) -> str:
    """The question, stripped of control characters; QuestionError if unusable."""
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, got {type(question).__name__}")
    if len(question) > config.max_question_chars:
        raise QuestionError(
            f"the question is {len(question):,} characters long; the limit is "
            f"{config.max_question_chars:,}. Ask something shorter"
        )
    cleaned = "".join(
        " " if unicodedata.category(ch).startswith("C") else ch for ch in question
    )
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise QuestionError("the question is empty; type a question about the articles")
    return cleaned


def validate_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise QuestionError(f"k must be a whole number of at least 1, got {k!r}")
    return k


def _as_date(value: object, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        from .articles import normalise_date

        iso = normalise_date(value)
        if iso:
            return iso[:10]
    raise QuestionError(f"{name} must be a date such as 2023-10-04, got {value!r}")


@dataclass(frozen=True)
class Filters:
    """Outlet and date filters. They fail closed: nothing matches, nothing returned."""

    sources: tuple[str, ...] | None = None
    since: str | None = None
    until: str | None = None

    @classmethod
    def make(cls, sources: Iterable[str] | str | None, since: object, until: object) -> Filters:
        if isinstance(sources, str):
            sources = [sources]
        src = tuple(s.strip() for s in sources if s and s.strip()) if sources is not None else None
        return cls(src, _as_date(since, "since"), _as_date(until, "until"))

    @property
    def active(self) -> bool:
        return self.sources is not None or self.since is not None or self.until is not None

    def chunk_mask(self, index: Index) -> np.ndarray:
        """Boolean mask over the index's chunks that pass the filters."""
        keep = np.ones(len(index.article_list), dtype=bool)
        if self.sources is not None:
            wanted = {s.casefold() for s in self.sources}
            keep &= np.array([(a.source or "").casefold() in wanted for a in index.article_list])
        if self.since is not None or self.until is not None:
            for i, a in enumerate(index.article_list):
                day = a.published[:10] if a.published else None
                if day is None or (self.since and day < self.since) or (
                    self.until and day > self.until
                ):
                    keep[i] = False
        return keep[index.chunk_article] if len(index.chunks) else np.zeros(0, dtype=bool)


def _top(scores: np.ndarray, n: int, mask: np.ndarray | None) -> np.ndarray:
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    n = min(n, len(scores))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    part = part[np.argsort(-scores[part], kind="stable")]
    return part[np.isfinite(scores[part])]


def retrieve(
    index: Index,
    question: str,
    query_vector: np.ndarray,
    *,
    k: int,
    config: Config,
    filters: Filters | None = None,
) -> list[Hit]:
    """The top ``k`` chunks for an already validated question and its vector."""
    if not index.chunks:
        return []
    mask = filters.chunk_mask(index) if filters and filters.active else None
    if mask is not None and not mask.any():
        return []
    dense = index.chunk_vectors @ query_vector
    dense_top = _top(dense, CANDIDATES, mask)
    fused: dict[int, float] = {}
    for rank, row in enumerate(dense_top):
        fused[int(row)] = 1.0 / (RRF_K + rank + 1)
    if config.hybrid:
        terms = tokenize(question)
        if terms:
            lexical = index.bm25().get_scores(terms)
            lexical_top = _top(lexical, CANDIDATES, mask)
            for rank, row in enumerate(r for r in lexical_top if lexical[r] > 0):
                fused[int(row)] = fused.get(int(row), 0.0) + 1.0 / (RRF_K + rank + 1)
    order = sorted(fused, key=lambda r: (-fused[r], -dense[r]))[:k]
    hits = []
    for rank, row in enumerate(order, 1):
        chunk = index.chunks[row]
        article = index.articles[chunk.article_id]
        hits.append(Hit(
            text=chunk.text, score=round(float(fused[row]), 6), rank=rank, chunk_id=chunk.id,
            article_id=article.id, title=article.title, source=article.source,
            published=article.published, url=article.url, start=chunk.start, end=chunk.end,
        ))
    return hits
