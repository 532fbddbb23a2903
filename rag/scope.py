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

import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from .config import Config
from .hints import Hints
from .index import LARGE_SENTENCES, Index, stored_vectors_at
from .index_format import CHUNK_VECTORS
from .retrieve import Filters, several_parts
from .retrieve import _hint_masks as hint_masks
from .store import FILES, Restriction
from .tables import Columns, Picked
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


class Runs:
    """Sorted rows as runs of consecutive rows: a view's rows are its articles' ranges
    (a few hundred runs for thousands of rows)."""

    def __init__(self, rows: np.ndarray):
        rows = np.asarray(rows, dtype=np.int64)
        self.rows = rows
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1 if len(rows) else np.zeros(0, np.int64)
        #: Where each run begins in ``rows``, and its first and past-the-end row.
        self.offsets = np.concatenate([[0], breaks]).astype(np.int64) if len(rows) else breaks
        self.starts = rows[self.offsets]
        self.ends = rows[np.concatenate([breaks - 1, [len(rows) - 1]]).astype(np.int64)] + 1 \
            if len(rows) else breaks


def _scores_at(csc: dict[str, Any], token_ids: Sequence[int], rows: np.ndarray | Runs
               ) -> np.ndarray:
    """BM25 scores of the documents ``rows`` (sorted) from bm25s's postings: the sum
    over the query's tokens of each token's precomputed score in each document.

    A token's postings list its documents in order (bm25s sorts them by document
    within each token; tests/test_scope.py checks it on a real build). A common
    word's postings grow with the corpus, the view's rows do not, so each run of
    consecutive rows is found in the postings by two binary searches (a few hundred
    runs, not one search per row: a search in a long memory-mapped list costs cache
    misses); a word rarer than that has its postings looked up in the rows instead.
    """
    runs = rows if isinstance(rows, Runs) else Runs(rows)
    rows = runs.rows
    out = np.zeros(len(rows), dtype=np.float32)
    if not len(rows):
        return out
    data, indices, indptr = csc["data"], csc["indices"], csc["indptr"]
    for t in token_ids:
        lo, hi = int(indptr[t]), int(indptr[t + 1])
        if hi <= lo:
            continue
        docs = indices[lo:hi]
        if hi - lo > 2 * len(runs.starts):
            first = np.searchsorted(docs, runs.starts)
            past = np.searchsorted(docs, runs.ends)
            at = _ranges(first, past)
            if not len(at):
                continue
            run = np.repeat(np.arange(len(first)), past - first)
            # Unique within a token: plain += adds each document's score once.
            out[runs.offsets[run] + np.asarray(docs[at], dtype=np.int64) - runs.starts[run]] \
                += data[lo:hi][at]
            continue
        at = np.searchsorted(rows, docs)
        hit = at < len(rows)
        hit[hit] = rows[at[hit]] == docs[hit]
        np.add.at(out, at[hit], data[lo:hi][hit])
    return out


class _BM25At:
    """bm25s's ``get_scores`` for some of an index's documents, with the index's own
    statistics (what :meth:`Index.bm25` returns on a view)."""

    def __init__(self, retriever: Any, rows: Runs):
        self._retriever = retriever
        self._rows = rows

    def get_scores(self, terms: list[str]) -> np.ndarray:
        ids = self._retriever.get_tokens_ids(list(dict.fromkeys(terms)))
        return _scores_at(self._retriever.scores, ids, self._rows)


class IndexView(Index):
    """Some of an index's articles, whole, scored as in the full index.

    Nothing a question may not read is made: the view's chunks and articles are the
    full index's rows, made when read (a question reads its hits', of thousands),
    and the sentence vectors are gathered on first use (a question of one part
    ranks by chunk vectors and BM25 only; see :attr:`sentence_vectors`), or with
    ``gather``, in the background from the start.
    """

    def __init__(self, full: Index, article_positions: np.ndarray, *, gather: bool = False):
        positions = np.unique(article_positions).astype(np.int64)
        if full.chunks_in_article_order:  # each article's chunks are one range of rows
            chunk_rows = _ranges(np.searchsorted(full.chunk_article, positions, side="left"),
                                 np.searchsorted(full.chunk_article, positions, side="right"))
        else:
            chunk_rows = np.flatnonzero(np.isin(full.chunk_article, positions))
        sentence_rows = _ranges(full.sentence_offsets[positions],
                                full.sentence_offsets[positions + 1])
        self.full = full
        self._sentence_rows = sentence_rows
        self._sentence_runs = Runs(sentence_rows)
        self._gathered: np.ndarray | None = None
        self._gathering: Future[np.ndarray] | None = None
        # Ask for the view's rows of the big arrays before reading any: with the pages
        # cold, gathering ~20k sentences' vectors a page fault at a time took ~370 ms
        # at 1M chunks, and ~55 ms when the reads were asked for first. Sentence
        # vectors only when they will be gathered whole (a question of one part reads
        # a few, if any).
        self._chunk_rows = chunk_rows
        self._chunk_runs = Runs(chunk_rows)
        read_ahead(full.chunk_vectors, self._chunk_runs, _vectors_file(full))
        if gather and len(sentence_rows):
            read_ahead(full.sentence_vectors, self._sentence_runs)
            # A question that will rank sentences by vector (several parts): gather
            # them on the other core while the view is made and its BM25 scored.
            pool = ThreadPoolExecutor(max_workers=1)
            self._gathering = pool.submit(self._gather)
            pool.shutdown(wait=False)
        sentences = full.sentences[sentence_rows].copy()
        renumber = np.full(len(full.article_list), -1, dtype=np.int64)
        renumber[positions] = np.arange(len(positions))
        if len(sentences):
            sentences[:, 0] = renumber[sentences[:, 0]]
        whole = full._columns
        columns = Columns(
            article_ids=(whole.article_ids[positions] if whole is not None else
                         np.array([full.article_list[int(p)].id for p in positions], dtype=str)),
            article_sources=full.article_sources[positions],
            article_days=full.article_days[positions],
            article_lengths=(whole.article_lengths[positions] if whole is not None else
                             np.array([len(full.article_list[int(p)].text) for p in positions],
                                      dtype=np.int64)),
            chunk_article=renumber[np.asarray(full.chunk_article)[chunk_rows]],
            chunk_ids=(np.asarray(whole.chunk_ids)[chunk_rows] if whole is not None else
                       np.array([full.chunks[int(r)].id for r in chunk_rows], dtype=str)),
        )
        super().__init__(
            full.path, full.manifest, Picked(full.article_list, positions),
            Picked(full.chunks, chunk_rows), np.ascontiguousarray(full.chunk_vectors[chunk_rows]),
            None, sentences, _NOT_YET,
            None if full.part_vectors is None else full.part_vectors[sentence_rows],
            columns,
        )
        self.store = full.store
        self.approximate = False

    def _gather(self) -> np.ndarray:
        return np.asarray(self.full.sentence_vectors[self._sentence_rows], dtype=np.float32)

    @property
    def sentence_vectors(self) -> np.ndarray:
        """The view's sentence vectors (float32), gathered from the full index on first
        use: ~20k sentences' fp16 rows cost 10-40 ms to gather and widen at 1M chunks."""
        with self._lock:
            if self._gathered is None:
                self._gathered = (self._gathering.result() if self._gathering is not None
                                  else self._gather())
        return self._gathered

    @sentence_vectors.setter
    def sentence_vectors(self, value: np.ndarray) -> None:
        if value is not _NOT_YET:
            self._gathered = value

    def sentence_vectors_at(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        if self._gathered is not None or self._gathering is not None:
            return self.sentence_vectors[np.asarray(rows, dtype=np.int64)]
        wanted = self._sentence_rows[np.asarray(rows, dtype=np.int64)]
        return np.asarray(self.full.sentence_vectors[wanted], dtype=np.float32).reshape(
            len(wanted), -1)

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
        return _BM25At(self.full.bm25(), self._chunk_runs)

    def sentence_bm25(self, terms: list[str]) -> np.ndarray:
        self.full.bm25()  # builds both BM25 indexes on first use
        scores = np.zeros(len(self.sentences) + 1, dtype=np.float32)
        retriever = self.full._sentence_bm25
        if len(self.sentences) and retriever is not None:
            ids = retriever.get_tokens_ids(list(terms))
            scores[:-1] = _scores_at(retriever.scores, ids, self._sentence_runs)
        return scores


def _vectors_file(index: Index) -> tuple[str, int] | None:
    """Where an approximate index's chunk vectors are in ``chunks.faiss`` (its file and
    the vectors' byte offset: FAISS writes an HNSW index's flat storage last), or None."""
    if not index.approximate or CHUNK_VECTORS in index.manifest.get("files", {}):
        return None  # exact (held whole), or an older build's own vectors file
    file = index.path / "chunks.faiss"
    try:
        return str(file), stored_vectors_at(file, index.chunk_vectors.nbytes)
    except OSError:
        return None


def read_ahead(array: np.ndarray, runs: Runs, where: tuple[str, int] | None = None) -> None:
    """Ask the OS to read the rows ``runs`` of a memory-mapped array (``where``: its file
    and byte offset, when it is not an np.memmap) into the page cache, without waiting:
    the reads go out together, where touching the rows faults them in one at a time."""
    if where is None and isinstance(array, np.memmap) and array.filename:
        where = (array.filename, int(array.offset))
    if where is None or not len(runs.starts) or not hasattr(os, "posix_fadvise"):
        return
    row = int(array.strides[0]) if array.ndim else 0
    try:
        handle = os.open(where[0], os.O_RDONLY)
    except OSError:
        return  # only speed is at stake
    try:
        for start, end in zip(runs.starts.tolist(), runs.ends.tolist(), strict=True):
            os.posix_fadvise(handle, where[1] + start * row, (end - start) * row,
                             os.POSIX_FADV_WILLNEED)
    except OSError:
        pass
    finally:
        os.close(handle)


#: Stands for the view's sentence vectors before they are gathered.
_NOT_YET = np.zeros((0, 0), dtype=np.float32)


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The rows of the ranges [starts[i], ends[i]), in order, in one array."""
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    sizes = ends - starts
    if not len(sizes) or not sizes.sum():
        return np.zeros(0, dtype=np.int64)
    # Each row is its range's start plus its place within the range.
    first = np.repeat(starts - np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
    return first + np.arange(int(sizes.sum()), dtype=np.int64)


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
    each_part = [index.store.candidates(index, vector, words, scores, None)
                 for (vector, words), scores in zip(parts, dense[1:], strict=True)]
    first = restrictions[0] if restrictions else Restriction(None, None)

    def lexical() -> list[np.ndarray]:
        out = [candidates.lexical(LIST_DEPTH, r) for r in restrictions] if terms else []
        return out + [part.lexical(PART_DEPTH, first)
                      for part, (_, words) in zip(each_part, parts, strict=True) if words]

    def vectors() -> list[np.ndarray]:
        return ([candidates.dense(LIST_DEPTH, r) for r in restrictions]
                + [part.dense(PART_DEPTH, first) for part in each_part])

    if getattr(index.store, "kind", None) == FILES:
        # The BM25 lists and the graph searches share nothing, and both spend their
        # time in numpy and FAISS with the GIL released: on two cores, side by side
        # (at 1M chunks each side took ~17 ms a question).
        with ThreadPoolExecutor(max_workers=1) as pool:
            words = pool.submit(lexical)
            rows = vectors() + words.result()
    else:  # a store's own client is asked one call at a time
        rows = vectors() + lexical()
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
    multi_part = several_parts(question)
    use_parts = config.parts and part_vectors is not None and multi_part
    positions = candidate_articles(index, vector, terms, restrictions,
                                   part_vectors if use_parts else None, part_terms)
    # Retrieval ranks the view's sentences by vector for coverage or the parts (both
    # only for several-part questions), so their vectors are gathered at once.
    ranks_sentences = multi_part and (use_parts or bool(
        config.coverage and config.sentence_dense and terms))
    return IndexView(index, positions, gather=ranks_sentences)
