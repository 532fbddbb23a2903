"""The answer composer: pick verbatim sentences that answer the question.

Extractive and light: the sentences of the retrieved passages are scored
against the question (their vectors were computed at build time, so nothing is
embedded per question but the question itself), near-duplicates are dropped,
and the best few become the answer's quotes. When even the best sentence is a
weak match, the composer abstains.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from .config import Config
from .index import Index
from .records import Answer, Citation, Hit
from .text import tokenize

#: Weight of question-word coverage against embedding similarity.
LEXICAL_WEIGHT = 0.35
#: Later quotes must score at least this share of the best one.
RELATIVE_FLOOR = 0.85
#: Sentences this similar to a chosen quote are near-duplicates.
DUPLICATE_COSINE = 0.9
#: Used only when no calibration is recorded for the model.
FALLBACK_THRESHOLD = 0.45

ABSTAIN_TEXT = "The articles don't answer this question."


@lru_cache(maxsize=8)
def calibrated_threshold(model: str) -> float:
    """The abstention threshold measured for ``model`` (see rag/data/calibration.json)."""
    try:
        data = json.loads((resources.files("rag") / "data" / "calibration.json").read_text())
    except (OSError, ValueError):
        return FALLBACK_THRESHOLD
    entry = data.get("models", {}).get(model, {})
    return float(entry.get("abstain_threshold", FALLBACK_THRESHOLD))


def _coverage(question_terms: list[str], sentence: str, idf: dict[str, float]) -> float:
    """IDF-weighted share of the question's content words found in the sentence."""
    if not question_terms:
        return 0.0
    present = set(tokenize(sentence))
    weights = {t: idf.get(t, idf.get("", 1.0)) for t in set(question_terms)}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total else 0.0


def _citation(n: int, index: Index, row: int, score: float, chunk_id: str | None) -> Citation:
    a_idx, start, end = (int(x) for x in index.sentences[row])
    article = index.article_list[a_idx]
    return Citation(
        n=n, quote=article.text[start:end], article_id=article.id, title=article.title,
        source=article.source, published=article.published, url=article.url,
        start=start, end=end, score=round(score, 4), chunk_id=chunk_id,
    )


def compose(
    index: Index,
    question: str,
    query_vector: np.ndarray,
    hits: list[Hit],
    config: Config,
) -> Answer:
    """Build an Answer from ``hits``: quotes with ``[n]`` markers, or an abstention."""
    threshold = (config.abstain_threshold if config.abstain_threshold is not None
                 else calibrated_threshold(index.model))
    rows: list[int] = []
    row_chunk: dict[int, str] = {}
    for hit in hits:
        a_idx = index.article_position[hit.article_id]
        lo, hi = index.sentence_offsets[a_idx], index.sentence_offsets[a_idx + 1]
        spans = index.sentences[lo:hi]
        overlap = (spans[:, 1] < hit.end) & (spans[:, 2] > hit.start)
        for row in np.nonzero(overlap)[0] + lo:
            if int(row) not in row_chunk:
                row_chunk[int(row)] = hit.chunk_id
                rows.append(int(row))
    if not rows:
        return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, hits=tuple(hits))

    vectors = index.sentence_vectors[rows]
    dense = vectors @ query_vector
    terms = tokenize(question)
    idf = index.idf()
    scores = np.array([
        (1 - LEXICAL_WEIGHT) * float(d)
        + LEXICAL_WEIGHT * _coverage(terms, _sentence_text(index, r), idf)
        for r, d in zip(rows, dense, strict=True)
    ])
    order = np.argsort(-scores, kind="stable")
    best = float(scores[order[0]])
    if best < threshold:
        return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, hits=tuple(hits),
                      confidence=round(best, 4))

    chosen: list[int] = []
    for i in order:
        if len(chosen) >= config.max_quotes or scores[i] < RELATIVE_FLOOR * best:
            break
        if any(float(vectors[i] @ vectors[j]) > DUPLICATE_COSINE for j in chosen):
            continue
        chosen.append(int(i))
    citations = tuple(
        _citation(n, index, rows[i], float(scores[i]), row_chunk[rows[i]])
        for n, i in enumerate(chosen, 1)
    )
    text = " ".join(f"“{c.quote}” [{c.n}]" for c in citations)
    return Answer(question=question, text=text, citations=citations, hits=tuple(hits),
                  confidence=round(best, 4))


def _sentence_text(index: Index, row: int) -> str:
    a_idx, start, end = index.sentences[row]
    return index.article_list[int(a_idx)].text[int(start):int(end)]


def idf_table(token_lists: list[list[str]]) -> dict[str, float]:
    """Smoothed inverse document frequencies; key "" holds the value for unseen words."""
    n = len(token_lists)
    df: dict[str, int] = {}
    for tokens in token_lists:
        for t in set(tokens):
            df[t] = df.get(t, 0) + 1
    table: dict[str, Any] = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
    table[""] = math.log(1 + (n + 0.5) / 0.5)
    return table
