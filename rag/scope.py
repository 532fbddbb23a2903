"""Candidate-only retrieval for large indexes: per-question work that does not grow with
the corpus.

On a small index retrieval scores every sentence of the corpus (the best
sentence's BM25 and vector for every chunk, each question part against every
sentence). That is exact, and fast below a few hundred thousand sentences. Above
``SCOPE_ABOVE`` sentences, a question first gathers **candidate articles** from
the store (dense top-k and BM25 top-k of chunks: for the question, for each
outlet or date it names, within the call's filters, and for each part of a
several-part question), and the whole of retrieval and the composer then run
unchanged on an :class:`IndexView` of just those articles: a few hundred chunks,
not millions.

Scores stay those of the whole corpus: the view's BM25 reads the full index's
postings (its IDF and lengths), restricted to the view's rows, so a chunk scores
the same in the view as in the index. Whole articles are taken, not only the
candidate chunks, because the commonest miss is the right article's other chunk:
inside the view, the best-sentence rankings can still find it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .config import Config
from .hints import Hints
from .index import LARGE_SENTENCES, Index
from .retrieve import Filters, several_parts
from .retrieve import _hint_masks as hint_masks
from .store import FILES, Restriction
from .text import tokenize

#: Above this many sentences, a question scores only its candidate articles.
SCOPE_ABOVE = LARGE_SENTENCES
#: Chunks each candidate list contributes (as retrieval's own lists).
LIST_DEPTH = 100
#: Chunks each question part contributes.
PART_DEPTH = 20


def scoped(index: Index, config: Config) -> bool:
    """Whether questions on ``index`` take the candidate-only path."""
    if config.scope is not None:
        return config.scope
    return len(index.sentences) > SCOPE_ABOVE


def _scores_at(csc: dict[str, Any], token_ids: Sequence[int], rows: np.ndarray) -> np.ndarray:
    """BM25 scores of the documents ``rows`` (sorted) from bm25s's postings: the sum
    over the query's tokens of each token's precomputed score in each document.

    A token's postings list its documents in order (bm25s sorts them by document
    within each token; tests/test_scope.py checks it on a real build), so the rows
    can be looked up in the postings, or the postings in the rows, whichever is
    shorter: a common word's postings grow with the corpus, the view's rows do not.
    """
    out = np.zeros(len(rows), dtype=np.float32)
    if not len(rows):
        return out
    data, indices, indptr = csc["data"], csc["indices"], csc["indptr"]
    for t in token_ids:
        lo, hi = int(indptr[t]), int(indptr[t + 1])
        if hi <= lo:
            continue
        docs = indices[lo:hi]
        if hi - lo > len(rows):
            at = np.searchsorted(docs, rows)
            found = np.minimum(at, hi - lo - 1)
            hit = (at < hi - lo) & (docs[found] == rows)
            out[hit] += data[lo:hi][found[hit]]
            continue
        at = np.searchsorted(rows, docs)
        hit = at < len(rows)
        hit[hit] = rows[at[hit]] == docs[hit]
        np.add.at(out, at[hit], data[lo:hi][hit])
    return out


class _BM25At:
    """bm25s's ``get_scores`` for some of an index's documents, with the index's own
    statistics (what :meth:`Index.bm25` returns on a view)."""

    def __init__(self, retriever: Any, rows: np.ndarray):
        self._retriever = retriever
        self._rows = rows

    def get_scores(self, terms: list[str]) -> np.ndarray:
        ids = self._retriever.get_tokens_ids(list(dict.fromkeys(terms)))
        return _scores_at(self._retriever.scores, ids, self._rows)


class IndexView(Index):
    """Some of an index's articles, whole, scored as in the full index."""

    def __init__(self, full: Index, article_positions: np.ndarray):
        positions = np.unique(article_positions).astype(np.int64)
        articles = [full.article_list[int(p)] for p in positions]
        if full.chunks_in_article_order:  # each article's chunks are one range of rows
            starts = np.searchsorted(full.chunk_article, positions, side="left")
            ends = np.searchsorted(full.chunk_article, positions, side="right")
            chunk_rows = (np.concatenate([np.arange(a, b) for a, b in zip(starts, ends,
                                                                          strict=True)])
                          .astype(np.int64) if len(positions) else np.zeros(0, dtype=np.int64))
        else:
            chunk_rows = np.flatnonzero(np.isin(full.chunk_article, positions))
        sentence_rows = np.concatenate(
            [np.arange(full.sentence_offsets[p], full.sentence_offsets[p + 1]) for p in positions]
        ).astype(np.int64) if len(positions) else np.zeros(0, dtype=np.int64)
        sentences = full.sentences[sentence_rows].copy()
        renumber = np.full(len(full.article_list), -1, dtype=np.int64)
        renumber[positions] = np.arange(len(positions))
        if len(sentences):
            sentences[:, 0] = renumber[sentences[:, 0]]
        super().__init__(
            full.path, full.manifest, articles, [full.chunks[int(r)] for r in chunk_rows],
            np.ascontiguousarray(full.chunk_vectors[chunk_rows]), None, sentences,
            np.asarray(full.sentence_vectors[sentence_rows], dtype=np.float32),
            None if full.part_vectors is None else full.part_vectors[sentence_rows],
        )
        self.full = full
        self.store = full.store
        self.approximate = False
        self._chunk_rows = chunk_rows
        self._sentence_rows = sentence_rows

    # The full index's models, outlets, dates and word statistics, not the view's.
    def embedder(self) -> Any:
        return self.full.embedder()

    def part_embedder(self) -> Any:
        return self.full.part_embedder()

    def sources(self) -> list[str]:
        return self.full.sources()

    def date_span(self) -> tuple[str, str] | None:
        return self.full.date_span()

    def idf(self) -> dict[str, float]:
        return self.full.idf()

    def bm25(self) -> Any:
        return _BM25At(self.full.bm25(), self._chunk_rows)

    def sentence_bm25(self, terms: list[str]) -> np.ndarray:
        self.full.bm25()  # builds both BM25 indexes on first use
        scores = np.zeros(len(self.sentences) + 1, dtype=np.float32)
        retriever = self.full._sentence_bm25
        if len(self.sentences) and retriever is not None:
            ids = retriever.get_tokens_ids(list(terms))
            scores[:-1] = _scores_at(retriever.scores, ids, self._sentence_rows)
        return scores


def _exact_scores(index: Index, vectors: list[np.ndarray]) -> list[np.ndarray | None]:
    """Every chunk's cosine with each of ``vectors`` when the index is exact and in its
    own folder, from one pass over the chunk vectors (memory-bound: one product per
    vector cost as much as all of them together); else None each (HNSW or the store
    searches)."""
    if (getattr(index.store, "kind", None) != FILES or index.approximate or not vectors
            or not len(index.chunk_vectors)):
        return [None] * len(vectors)
    matrix = np.ascontiguousarray(np.stack(vectors), dtype=np.float32)
    # (chunks x dim) @ (dim x m), then one row per vector: about 3 times faster than
    # (m x dim) @ (dim x chunks) with numpy's BLAS here.
    return list(np.ascontiguousarray((index.chunk_vectors @ matrix.T).T))


def candidate_articles(index: Index, question_vector: np.ndarray, terms: list[str],
                       restrictions: list[Restriction], part_vectors: np.ndarray | None,
                       part_terms: list[list[str]]) -> np.ndarray:
    """Article positions of the store's candidates for a question (see the module)."""
    parts = [] if part_vectors is None else list(zip(part_vectors, part_terms, strict=False))
    dense = _exact_scores(index, [question_vector, *(v for v, _ in parts)])
    candidates = index.store.candidates(index, question_vector, terms, dense[0], None)
    rows: list[np.ndarray] = []
    for restriction in restrictions:
        rows.append(candidates.dense(LIST_DEPTH, restriction))
        if terms:
            rows.append(candidates.lexical(LIST_DEPTH, restriction))
    first = restrictions[0] if restrictions else Restriction(None, None)
    for (vector, words), scores in zip(parts, dense[1:], strict=True):
        part = index.store.candidates(index, vector, words, scores, None)
        rows.append(part.dense(PART_DEPTH, first))
        if words:
            rows.append(part.lexical(PART_DEPTH, first))
    found = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    return np.unique(index.chunk_article[found.astype(np.int64)])


def narrow(index: Index, question: str, vector: np.ndarray, config: Config,
           filters: Filters | None, hints: Hints | None, part_texts: Sequence[str],
           part_vectors: np.ndarray | None) -> Index:
    """The index a question is scored on: ``index`` itself when it is small (or
    ``config.scope`` is False), else a view of the question's candidate articles."""
    if not scoped(index, config) or isinstance(index, IndexView):
        return index
    terms = list(dict.fromkeys(tokenize(question))) if config.hybrid else []
    active = filters is not None and filters.active
    mask = filters.chunk_mask(index) if filters is not None and active else None
    where = filters.where() if filters is not None else None
    if mask is not None and not mask.any():
        return IndexView(index, np.zeros(0, dtype=np.int64))
    restrictions = [Restriction(where, mask)]
    if hints is not None and config.hints:
        for _label, hint_where, hint_mask in hint_masks(index, hints):
            restrict = hint_mask if mask is None else hint_mask & mask
            if restrict.any():
                restrictions.append(Restriction(hint_where.both(where), restrict))
    part_terms = [tokenize(t) if config.hybrid else [] for t in part_texts]
    use_parts = config.parts and part_vectors is not None and several_parts(question)
    positions = candidate_articles(index, vector, terms, restrictions,
                                   part_vectors if use_parts else None, part_terms)
    return IndexView(index, positions)
