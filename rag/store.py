"""Where retrieval gets its candidate chunks: dense top-k and BM25 top-k, by outlet and date.

Two stores answer the same two questions for a query:

- the **file store** (the default): the index folder's FAISS vectors and bm25s
  index, in this process;
- the **Milvus store** (``rag build --store milvus://…``): a Milvus collection,
  embedded (Milvus Lite, a file) or a server, see :mod:`rag.milvus_store`.

Which one an index uses is chosen at build time and recorded in its manifest
(``"store"``), so ``ask()``, the CLI and the chat need no other change. Only the
candidates come from the store: sentence-level scoring and the composer run
locally over them, from the index folder's tables.

A restriction is given both ways: as a :class:`Where` (outlets, days, a period),
which Milvus turns into a filter expression, and as the same restriction's mask
over the index's chunks, which the file store applies. They fail closed alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

# ``index`` below is a loaded rag.index.Index (not imported: it imports this module).

FILES = "files"


@dataclass(frozen=True)
class Where:
    """A restriction on candidates by outlet and publication day; fields AND together.

    ``sources`` match case-insensitively; ``days`` is a set of ISO days; ``since``
    and ``until`` bound the day (inclusive). An undated chunk passes only a
    restriction that names no day.
    """

    sources: tuple[str, ...] | None = None
    days: tuple[str, ...] | None = None
    since: str | None = None
    until: str | None = None

    def both(self, other: Where | None) -> Where:
        """This restriction and ``other`` at once."""
        if other is None:
            return self

        def meet(a: tuple[str, ...] | None, b: tuple[str, ...] | None,
                 fold: bool) -> tuple[str, ...] | None:
            if a is None or b is None:
                return a if b is None else b
            key = (lambda s: s.casefold()) if fold else (lambda s: s)
            keep = {key(s) for s in b}
            return tuple(s for s in a if key(s) in keep)

        since = max((d for d in (self.since, other.since) if d), default=None)
        until = min((d for d in (self.until, other.until) if d), default=None)
        return Where(meet(self.sources, other.sources, True), meet(self.days, other.days, False),
                     since, until)

    def expression(self) -> str:
        """The Milvus boolean expression for this restriction ("" for none)."""
        parts: list[str] = []
        if self.sources is not None:
            parts.append(f"source in {_quoted(s.casefold() for s in self.sources)}")
        if self.days is not None:
            parts.append(f"day in {_quoted(self.days)}")
        if self.since is not None or self.until is not None:
            parts.append('day != ""')
        if self.since is not None:
            parts.append(f"day >= {_quoted([self.since])[1:-1]}")
        if self.until is not None:
            parts.append(f"day <= {_quoted([self.until])[1:-1]}")
        return " and ".join(parts)


def _quoted(values: Any) -> str:
    # Milvus string literals in double quotes; escape what could end them.
    items = ['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]
    return "[" + ", ".join(items) + "]"


@dataclass(frozen=True)
class Restriction:
    """One restriction, as a :class:`Where` for a store that filters itself and as
    its mask over the index's chunks (None: no restriction)."""

    where: Where | None
    mask: np.ndarray | None


class Candidates(Protocol):
    """One question's candidate lists: chunk rows of the index, best first."""

    def dense(self, n: int, restriction: Restriction) -> np.ndarray: ...

    def lexical(self, n: int, restriction: Restriction) -> np.ndarray: ...


class CandidateStore(Protocol):
    """What retrieval asks a store: the candidates for one question."""

    kind: str

    def candidates(self, index: Any, vector: np.ndarray, terms: Sequence[str],
                   dense: np.ndarray | None, lexical: np.ndarray | None) -> Candidates: ...


def top(scores: np.ndarray, n: int, mask: np.ndarray | None) -> np.ndarray:
    """Rows of the ``n`` highest ``scores`` (within ``mask``), best first; ties by row."""
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    n = min(n, len(scores))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    pool: np.ndarray | None = None
    if len(scores) > 64 * n:
        # The n-th best of a sample is no better than the n-th best of all, so only
        # scores at or above it can be in the top n: a selection over a million
        # scores becomes one comparison and a selection over a few percent of them.
        sample = scores[:: len(scores) // (16 * n)]
        cut = np.partition(sample, len(sample) - n)[len(sample) - n]
        pool = np.flatnonzero(scores >= cut)
    values = scores if pool is None else scores[pool]
    rows = np.arange(len(scores)) if pool is None else pool
    nth = np.partition(values, len(values) - n)[len(values) - n]
    above = rows[values > nth]
    level = rows[values == nth][: n - len(above)]
    part = np.concatenate([above, level]).astype(np.int64)
    part = part[np.argsort(-scores[part], kind="stable")]
    return part[np.isfinite(scores[part])]


#: A restricted dense search over at most this many chunks is exact (one product
#: over their vectors); beyond it an ANN index searches with a filter. Gathering the
#: vectors is the cost: at 100k rows (150 MB) it took ~30 ms a question at 1M chunks.
EXACT_SUBSET = 20_000


class _FileCandidates:
    """Candidates from the index folder. ``dense``/``lexical`` are the scores of every
    chunk when retrieval has them; else they are found here: by the FAISS index
    when it is approximate (HNSW), by one product over the vectors when exact."""

    def __init__(self, index: Any, vector: np.ndarray, terms: Sequence[str],
                 dense: np.ndarray | None, lexical: np.ndarray | None):
        self._index = index
        self._vector = vector
        self._terms = list(terms)
        self._dense = dense
        self._lexical = lexical
        self._matching: np.ndarray | None = None

    def dense(self, n: int, restriction: Restriction) -> np.ndarray:
        index, mask = self._index, restriction.mask
        if self._dense is None and getattr(index, "approximate", False):
            if mask is None:
                return ann_search(index.faiss, self._vector, n)
            rows = np.flatnonzero(mask)
            if len(rows) > EXACT_SUBSET:
                return ann_search(index.faiss, self._vector, n, mask)
            return rows[top(index.chunk_vectors[rows] @ self._vector, n, None)]
        if self._dense is None:
            self._dense = index.chunk_vectors @ self._vector
        return top(self._dense, n, mask)

    def lexical(self, n: int, restriction: Restriction) -> np.ndarray:
        if self._lexical is None:
            if not self._terms:
                return np.zeros(0, dtype=np.int64)
            self._lexical = self._index.bm25().get_scores(self._terms)
        if restriction.mask is None and len(self._lexical) > 64 * n and np.count_nonzero(
                self._lexical[:: len(self._lexical) // (16 * n)]) > n:
            # Unrestricted, and many chunks match: the top n of every score is the top
            # n of the matching ones (a chunk without a query word scores 0, and ties
            # go by row either way), found without listing the matching chunks, about
            # half of a large corpus for a question of common words (~1.5 ms at 1M
            # chunks). The sample is top()'s: more than n of it match, so its cut is
            # above 0 and top() selects among a few percent of the scores.
            rows = top(self._lexical, n, None)
            return rows[self._lexical[rows] > 0]
        if self._matching is None:
            # Only chunks holding a query word can rank: each list (one per outlet or
            # date named) picks among those, not among every chunk of the corpus.
            self._matching = np.flatnonzero(self._lexical > 0)
        rows = self._matching
        if restriction.mask is not None:
            rows = rows[restriction.mask[rows]]
        return rows[top(self._lexical[rows], n, None)]


def dense_each(candidates: Sequence[Candidates], depths: Sequence[int],
               restriction: Restriction) -> list[np.ndarray]:
    """``c.dense(n, restriction)`` for each of ``candidates`` and its depth ``n``, in
    order. Unrestricted HNSW searches of the file store go to FAISS as one batch,
    which it spreads over its threads, each searched to the deepest depth and cut to
    its own. (FAISS's HNSW search keeps k results as it goes, so a list cut from a
    deeper search can differ a little from a search of its depth: at 1M chunks,
    recall@20 against exact search was 0.9585 either way.)"""
    files = [c for c in candidates if isinstance(c, _FileCandidates)]
    if (len(files) < 2 or len(files) < len(candidates) or restriction.mask is not None
            or any(c._dense is not None for c in files)
            or not getattr(files[0]._index, "approximate", False)
            or any(c._index is not files[0]._index for c in files)):
        return [c.dense(n, restriction) for c, n in zip(candidates, depths, strict=True)]
    found = ann_search_many(files[0]._index.faiss, [c._vector for c in files], max(depths))
    return [rows[:n] for rows, n in zip(found, depths, strict=True)]


def ann_search_many(faiss_index: Any, vectors: Sequence[np.ndarray], n: int,
                    params: Any = None) -> list[np.ndarray]:
    """The ``n`` nearest chunks to each of ``vectors`` by a FAISS index, best first."""
    queries = np.ascontiguousarray(np.stack(vectors), dtype=np.float32)
    _, ids = faiss_index.search(queries, n, params=params)
    return [row[row >= 0].astype(np.int64) for row in ids]


def ann_search(faiss_index: Any, vector: np.ndarray, n: int,
               mask: np.ndarray | None = None) -> np.ndarray:
    """The ``n`` nearest chunks by a FAISS index (within ``mask``, one bool per chunk),
    best first."""
    import faiss

    params = None
    if mask is not None:
        # A bitmap, not a set of ids: one bit per chunk packs in a few hundred µs at
        # 1M chunks, where hashing the ids of a large subset took ~4 ms a list.
        bits = np.packbits(np.asarray(mask, dtype=bool), bitorder="little")
        selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
        params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
            sel=selector, efSearch=max(n, faiss_index.hnsw.efSearch))
    return ann_search_many(faiss_index, [vector.reshape(-1)], n, params)[0]


class FileStore:
    """The index folder's own vectors and BM25 (the default store)."""

    kind = FILES

    def candidates(self, index: Any, vector: np.ndarray, terms: Sequence[str],
                   dense: np.ndarray | None, lexical: np.ndarray | None) -> Candidates:
        # On a small index retrieval has already scored every chunk (it needs the
        # scores to break ties and to cover the question's words): reuse them.
        return _FileCandidates(index, vector, terms, dense, lexical)


class _StoreCandidates:
    """Candidates from a store that searches itself (Milvus), mapped to index rows."""

    def __init__(self, store: Any, index: Any, vector: np.ndarray, terms: Sequence[str]):
        self._store = store
        self._index = index
        self._vector = vector
        self._terms = list(terms)

    def _rows(self, hits: list[tuple[str, float]]) -> np.ndarray:
        # A chunk the index folder does not hold (a build that failed after
        # writing to the store) is not a candidate.
        position = self._index.chunk_position
        return np.array([position[cid] for cid, _ in hits if cid in position], dtype=np.int64)

    def dense(self, n: int, restriction: Restriction) -> np.ndarray:
        return self._rows(self._store.dense(self._vector, n, restriction.where))

    def lexical(self, n: int, restriction: Restriction) -> np.ndarray:
        if not self._terms:
            return np.zeros(0, dtype=np.int64)
        return self._rows(self._store.lexical(self._terms, n, restriction.where))
