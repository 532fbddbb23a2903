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
from functools import cached_property
from typing import Any

import numpy as np

from .config import Config
from .hints import Hints
from .index import LARGE_SENTENCES, Index, stored_vectors_at
from .index_format import CHUNK_VECTORS
from .retrieve import Filters, several_parts
from .retrieve import _hint_masks as hint_masks
from .store import FILES, Restriction, dense_each
from .tables import Columns, Picked
from .text import tokenize
from .threads import one_blas_thread

#: Above this many sentences, a question scores only its candidate articles.
SCOPE_ABOVE = LARGE_SENTENCES
#: Chunks each candidate list contributes (as retrieval's own lists).
LIST_DEPTH = 100
#: Chunks each question part contributes.
PART_DEPTH = 20
#: Sentence rows a view widens and scores at a time (3 MB of float32: in the cache).
SCORE_BLOCK = 2048


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


def _scores_at(csc: dict[str, Any], token_ids: Sequence[int], rows: np.ndarray | Runs,
               seen: dict[int, tuple[np.ndarray, np.ndarray]] | None = None) -> np.ndarray:
    """BM25 scores of the documents ``rows`` (sorted) from bm25s's postings: the sum
    over the query's tokens of each token's precomputed score in each document.

    A token's postings list its documents in order (bm25s sorts them by document
    within each token; tests/test_scope.py checks it on a real build). A common
    word's postings grow with the corpus, the view's rows do not, so each run of
    consecutive rows is found in the postings by two binary searches (a few hundred
    runs, not one search per row: a search in a long memory-mapped list costs cache
    misses); a word rarer than that has its postings looked up in the rows instead.
    ``seen`` keeps each token's found postings for the next call on the same rows.
    """
    runs = rows if isinstance(rows, Runs) else Runs(rows)
    out = np.zeros(len(runs.rows), dtype=np.float32)
    if not len(runs.rows):
        return out
    for t in token_ids:
        found = seen.get(t) if seen is not None else None
        if found is None:
            found = _postings_at(csc, int(t), runs)
            if seen is not None:
                seen[t] = found
        where, values = found
        # Unique within a token: plain += adds each document's score once.
        out[where] += values
    return out


def _postings_at(csc: dict[str, Any], t: int, runs: Runs) -> tuple[np.ndarray, np.ndarray]:
    """Token ``t``'s postings among ``runs``' rows: their places in the rows, and
    their scores."""
    data, indices, indptr = csc["data"], csc["indices"], csc["indptr"]
    rows = runs.rows
    lo, hi = int(indptr[t]), int(indptr[t + 1])
    if hi <= lo:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    docs = indices[lo:hi]
    if hi - lo > 2 * len(runs.starts):
        first = np.searchsorted(docs, runs.starts)
        past = np.searchsorted(docs, runs.ends)
        at = _ranges(first, past)
        run = np.repeat(np.arange(len(first)), past - first)
        where = runs.offsets[run] + np.asarray(docs[at], dtype=np.int64) - runs.starts[run]
        return where, np.asarray(data[lo:hi][at])
    at = np.searchsorted(rows, docs)
    hit = at < len(rows)
    hit[hit] = rows[at[hit]] == docs[hit]
    return at[hit], np.asarray(data[lo:hi][hit])


class _BM25At:
    """bm25s's ``get_scores`` for some of an index's documents, with the index's own
    statistics (what :meth:`Index.bm25` returns on a view). A question asks it for
    its words many times (all together, each alone, each part's), so each word's
    postings are found among the rows once."""

    def __init__(self, retriever: Any, rows: Runs):
        self._retriever = retriever
        self._rows = rows
        self._seen: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def get_scores(self, terms: list[str]) -> np.ndarray:
        return self.scores_of(self._retriever.get_tokens_ids(list(dict.fromkeys(terms))))

    def scores_of(self, token_ids: Sequence[int]) -> np.ndarray:
        return _scores_at(self._retriever.scores, token_ids, self._rows, self._seen)


class IndexView(Index):
    """Some of an index's articles, whole, scored as in the full index.

    Nothing a question may not read is made: the view's chunks and articles are the
    full index's rows, made when read (a question reads its hits', of thousands).
    Its sentences' vectors are read as needed: a question of one part ranks by
    chunk vectors and BM25 and reads a few; a question of several ranks every
    sentence by its cosine with the question and with each part
    (:meth:`sentence_cosines`), which, given ``vectors`` (the question's vector,
    then its parts'), are computed in the background from the start.
    """

    def __init__(self, full: Index, article_positions: np.ndarray, *,
                 vectors: np.ndarray | None = None):
        positions = np.unique(article_positions).astype(np.int64)
        if full.chunks_in_article_order:  # each article's chunks are one range of rows
            chunk_rows = _ranges(np.searchsorted(full.chunk_article, positions, side="left"),
                                 np.searchsorted(full.chunk_article, positions, side="right"))
        else:
            chunk_rows = np.flatnonzero(np.isin(full.chunk_article, positions))
        sentence_rows = _ranges(full.sentence_offsets[positions],
                                full.sentence_offsets[positions + 1])
        self.full = full
        self._positions = positions
        self._sentence_rows = sentence_rows
        self._sentence_runs = Runs(sentence_rows)
        self._gathered: np.ndarray | None = None
        self._cosines: dict[bytes, np.ndarray] = {}
        self._scoring: Future[dict[bytes, np.ndarray]] | None = None
        # Ask for the view's rows of the big arrays before reading any: with the pages
        # cold, gathering ~20k sentences' vectors a page fault at a time took ~370 ms
        # at 1M chunks, and ~55 ms when the reads were asked for first. Sentence
        # vectors only when they will be gathered whole (a question of one part reads
        # a few, if any).
        self._chunk_rows = chunk_rows
        self._chunk_runs = Runs(chunk_rows)
        read_ahead(full.chunk_vectors, self._chunk_runs, _vectors_file(full))
        if vectors is not None and len(sentence_rows):
            read_ahead(full.sentence_vectors, self._sentence_runs)
            # A question that will rank sentences by vector (several parts): score
            # them on the other core while the view is made and its BM25 scored.
            wanted = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
            pool = ThreadPoolExecutor(max_workers=1)
            self._scoring = pool.submit(self._score, wanted)
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
        self._chunk_bm25: _BM25At | None = None
        self._sentence_bm25_at: _BM25At | None = None

    def _gather(self) -> np.ndarray:
        return widen(self.full.sentence_vectors[self._sentence_rows])

    def _score(self, vectors: np.ndarray) -> dict[bytes, np.ndarray]:
        """Every sentence's cosine with each of ``vectors``, by vector. The rows are
        widened a block at a time, each block multiplied while it is in the cache:
        widening all (~17k sentences, 25 MB at 1M chunks) and then multiplying read
        and wrote the lot twice more (about 10 of 17 ms a question)."""
        full, rows = self.full.sentence_vectors, self._sentence_rows
        out = np.empty((len(rows), len(vectors)), dtype=np.float32)
        with one_blas_thread():
            for lo in range(0, len(rows), SCORE_BLOCK):
                out[lo:lo + SCORE_BLOCK] = widen(full[rows[lo:lo + SCORE_BLOCK]]) @ vectors.T
        return {v.tobytes(): out[:, j].copy() for j, v in enumerate(vectors)}

    def sentence_cosines(self, vectors: np.ndarray,
                         rows: np.ndarray | None = None) -> np.ndarray:
        with self._lock:
            if self._scoring is not None:
                self._cosines.update(self._scoring.result())
                self._scoring = None
            wanted = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
            missing = [v for v in wanted if v.tobytes() not in self._cosines]
            if missing and self._gathered is not None:
                cos = self._gathered @ np.stack(missing).T
                self._cosines.update((v.tobytes(), cos[:, j].copy())
                                     for j, v in enumerate(missing))
            elif missing:
                self._cosines.update(self._score(np.stack(missing)))
            out = np.stack([self._cosines[v.tobytes()] for v in wanted], axis=1)
        if np.ndim(vectors) == 1:
            out = out[:, 0]
        return out if rows is None else out[np.asarray(rows, dtype=np.int64)]

    def best_sentence_dense(self, query_vector: np.ndarray) -> np.ndarray:
        scores = np.full(len(self.sentences) + 1, -1.0, dtype=np.float32)
        if len(self.sentences):
            scores[:-1] = self.sentence_cosines(query_vector)
        return self._best_per_chunk(scores)

    @property
    def sentence_vectors(self) -> np.ndarray:
        """The view's sentence vectors (float32), gathered from the full index on first
        use: ~20k sentences' fp16 rows cost 10-40 ms to gather and widen at 1M chunks."""
        with self._lock:
            if self._gathered is None:
                self._gathered = self._gather()
        return self._gathered

    @sentence_vectors.setter
    def sentence_vectors(self, value: np.ndarray) -> None:
        if value is not _NOT_YET:
            self._gathered = value

    def sentence_vectors_at(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        if self._gathered is not None:
            return self._gathered[np.asarray(rows, dtype=np.int64)]
        wanted = self._sentence_rows[np.asarray(rows, dtype=np.int64)]
        return np.asarray(self.full.sentence_vectors[wanted], dtype=np.float32).reshape(
            len(wanted), -1)

    @cached_property
    def _outlet_codes(self) -> tuple[np.ndarray, np.ndarray]:
        # The full index's outlet codes, picked: finding them anew from the view's
        # outlet names (thousands of strings) took ~4 ms a question at 1M chunks.
        names, codes = self.full._outlet_codes
        return names, codes[self._positions]

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
        if self._chunk_bm25 is None:
            self._chunk_bm25 = _BM25At(self.full.bm25(), self._chunk_runs)
        return self._chunk_bm25

    def sentence_bm25(self, terms: list[str]) -> np.ndarray:
        self.full.bm25()  # builds both BM25 indexes on first use
        scores = np.zeros(len(self.sentences) + 1, dtype=np.float32)
        retriever = self.full._sentence_bm25
        if len(self.sentences) and retriever is not None:
            if self._sentence_bm25_at is None:
                self._sentence_bm25_at = _BM25At(retriever, self._sentence_runs)
            scores[:-1] = self._sentence_bm25_at.scores_of(retriever.get_tokens_ids(list(terms)))
        return scores


def widen(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as float32. Half-precision rows are widened by FAISS's fp16
    decoder (SIMD, exact): numpy's cast took ~9 ms for a view's ~17k sentence
    vectors at 1M chunks, FAISS's ~5 ms on one thread."""
    if vectors.dtype != np.float16 or vectors.ndim != 2 or not vectors.size:
        return np.asarray(vectors, dtype=np.float32)
    import faiss

    halves = np.ascontiguousarray(vectors)
    out = np.empty(halves.shape, dtype=np.float32)
    decoder = faiss.ScalarQuantizer(halves.shape[1], faiss.ScalarQuantizer.QT_fp16)
    decoder.decode_c(faiss.swig_ptr(halves.view(np.uint8)), faiss.swig_ptr(out), len(halves))  # type: ignore[attr-defined]
    return out


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


class Narrowing:
    """The half of narrowing a question that its text alone gives: its words, its
    restrictions (the call's filters, each outlet or date it names) and, for the file
    store, its BM25 candidate lists, begun on two threads at once. Made before the
    question is encoded, the lists are found while it is (~8 ms at 1M chunks on 2
    cores, about what the lists cost); :meth:`view` finishes with the vectors."""

    def __init__(self, index: Index, question: str, config: Config, filters: Filters | None,
                 hints: Hints | None, part_texts: Sequence[str]):
        self.index = index
        self.terms = list(dict.fromkeys(tokenize(question))) if config.hybrid else []
        active = filters is not None and filters.active
        mask = filters.chunk_mask(index) if filters is not None and active else None
        self.first = Restriction(filters.where() if filters is not None else None, mask)
        self.empty = mask is not None and not mask.any()
        self.multi_part = several_parts(question)
        # The parts a view is narrowed by: those retrieval will rank (api's
        # question_inputs makes part vectors for exactly these).
        self.parts = bool(config.parts and self.multi_part and part_texts)
        self.part_terms = [tokenize(t) if config.hybrid else [] for t in part_texts] \
            if self.parts else []
        self.ranks_sentences = self.multi_part and (self.parts or bool(
            config.coverage and config.sentence_dense and self.terms))
        self._hints = hints if config.hints else None
        self._lexical: Future[tuple[list[Restriction], list[np.ndarray]]] | None = None
        self._part_lexical: Future[list[np.ndarray]] | None = None
        if not self.empty and getattr(index.store, "kind", None) == FILES:
            # Only the file store: a store's own client is asked one call at a time.
            pool = ThreadPoolExecutor(max_workers=2)
            self._lexical = pool.submit(self._question_lists)
            if self.parts:
                self._part_lexical = pool.submit(self._part_lists)
            pool.shutdown(wait=False)

    def restrictions(self) -> list[Restriction]:
        """The call's filters, then each hint within them (outlets, dates named)."""
        out = [self.first]
        if self._hints is not None:
            mask, where = self.first.mask, self.first.where
            for _label, hint_where, hint_mask in hint_masks(self.index, self._hints):
                restrict = hint_mask if mask is None else hint_mask & mask
                if restrict.any():
                    out.append(Restriction(hint_where.both(where), restrict))
        return out

    def _question_lists(self) -> tuple[list[Restriction], list[np.ndarray]]:
        restrictions = self.restrictions()
        if not self.terms:
            return restrictions, []
        words = self.index.store.candidates(self.index, None, self.terms, None, None)
        return restrictions, [words.lexical(LIST_DEPTH, r) for r in restrictions]

    def _part_lists(self) -> list[np.ndarray]:
        store = self.index.store
        return [store.candidates(self.index, None, terms, None, None).lexical(
            PART_DEPTH, self.first) for terms in self.part_terms if terms]

    def view(self, vector: np.ndarray, part_vectors: np.ndarray | None) -> IndexView:
        """The view of the question's candidate articles (see the module)."""
        index = self.index
        if self.empty:
            return IndexView(index, np.zeros(0, dtype=np.int64))
        part_vectors = part_vectors if self.parts else None
        each = [] if part_vectors is None else list(part_vectors)
        dense = _exact_scores(index, [vector, *each])
        candidates = index.store.candidates(index, vector, self.terms, dense[0], None)
        each_part = [index.store.candidates(index, v, terms, scores, None)
                     for v, terms, scores in zip(each, self.part_terms, dense[1:], strict=True)]
        # The unrestricted searches first: they need no hint's mask.
        rows = dense_each([candidates, *each_part], [LIST_DEPTH] + [PART_DEPTH] * len(each),
                          self.first)
        # The BM25 lists: begun on threads (the file store), else asked for now.
        restrictions, words = (self._lexical.result() if self._lexical is not None
                               else self._question_lists())
        rows += [candidates.dense(LIST_DEPTH, r) for r in restrictions[1:]] + words
        if part_vectors is not None:
            rows += (self._part_lexical.result() if self._part_lexical is not None
                     else self._part_lists())
        found = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        # Retrieval ranks the view's sentences by vector for coverage or the parts (both
        # only for several-part questions), so they are scored at once.
        return IndexView(index, np.unique(index.chunk_article[found.astype(np.int64)]),
                         vectors=(np.vstack([vector, *each]) if self.ranks_sentences
                                  else None))


def begin(index: Index, question: str, config: Config, filters: Filters | None,
          hints: Hints | None, part_texts: Sequence[str]) -> Narrowing | None:
    """A :class:`Narrowing` of ``question``, begun; None when the question is scored
    on ``index`` itself (see :func:`narrow`)."""
    if not scoped(index, config) or isinstance(index, IndexView):
        return None
    return Narrowing(index, question, config, filters, hints, part_texts)


def narrow(index: Index, question: str, vector: np.ndarray, config: Config,
           filters: Filters | None, hints: Hints | None, part_texts: Sequence[str],
           part_vectors: np.ndarray | None, begun: Narrowing | None = None) -> Index:
    """The index a question is scored on: ``index`` itself when it is small (or
    ``config.scope`` is False), else a view of the question's candidate articles.
    ``begun`` is the question's :func:`begin`, when it was made before encoding."""
    if begun is None:
        begun = begin(index, question, config, filters, hints, part_texts)
    return index if begun is None else begun.view(vector, part_vectors)
