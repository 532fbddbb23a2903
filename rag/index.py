"""The loaded index: articles, chunks, sentences and their vectors, with the lookups
retrieval and the composer make. The files are :mod:`rag.index_format`; building
them is :mod:`rag.build`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config
from .embeddings import Embedder, get_query_embedder
from .errors import ConfigError, CorruptIndexError, IndexMismatchError
from .index_format import (
    BM25_CHUNKS,
    BM25_SENTENCES,
    CHUNK_VECTORS,
    IDF,
    PART_VECTORS,
    check_compatible,
    check_manifest_fields,
    check_version,
    containing_chunks,
    first_containing,
    inconsistencies,
    manifest_settings,
    read_manifest,
    resolve_build,
    sentences_in_chunks,
)
from .records import Article, Chunk
from .store import FILES as FILE_STORE
from .store import FileStore
from .tables import TABLES, ById, Columns, read_tables, sentence_offsets
from .text import idf_table, tokenize

# BM25's length normalisation (b) for single sentences. bm25s's default 0.75
# ranks a short sentence above a longer one that holds the same words, but a
# fact is usually a long sentence (MultiHop-RAG's gold facts: median 14 content
# words, its sentences 10). Measured on MultiHop-RAG (docs/experiments.md, "Length
# normalisation"): 0.2 finds more evidence and ranks it higher on both halves.
# Chunks keep the default: they are all about 256 tokens.
SENTENCE_BM25_B = 0.2
#: Above this many sentences their vectors stay memory-mapped fp16 (as
#: ``rag.scope.SCOPE_ABOVE``, where questions stop scoring every sentence).
LARGE_SENTENCES = 400_000


# ---------------------------------------------------------------- the loaded index


class Index:
    """A loaded, read-only index. Safe to share between threads."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        articles: Sequence[Article],
        chunks: Sequence[Chunk],
        chunk_vectors: np.ndarray,
        faiss_index: Any,
        sentences: np.ndarray,
        sentence_vectors: np.ndarray,
        part_vectors: np.ndarray | None = None,
        columns: Columns | None = None,
    ):
        self.path = path
        self.manifest = manifest
        #: The articles in build order (a list, or a table read on demand).
        self.article_list = articles
        self.chunks = chunks
        self.chunk_vectors = chunk_vectors
        self.faiss = faiss_index
        #: Whether the FAISS index is approximate (HNSW, for large corpora): then
        #: dense candidates come from it, not from one product over every vector.
        self.approximate = faiss_index is not None and (
            manifest.get("faiss") or {}).get("type") == "hnsw"
        self.sentences = sentences
        self.sentence_vectors = sentence_vectors
        #: Each sentence encoded on its own by ``part_model`` (None without one).
        self.part_vectors = part_vectors
        #: Where candidate chunks are searched (the manifest's "store"; files by default).
        self.store = open_store(manifest.get("store"))
        self._columns = columns
        self._chunk_position: dict[str, int] | None = None
        if columns is None:
            self.article_position = {a.id: i for i, a in enumerate(articles)}
            self.articles: Mapping[str, Article] = {a.id: a for a in articles}
            # Per article, for the outlet and date masks every question may need.
            self.article_sources = np.array([a.source or "" for a in articles], dtype=object)
            self.article_days = np.array(
                [a.published[:10] if a.published else "" for a in articles], dtype=str)
            self.chunk_article = np.array([self.article_position[c.article_id] for c in chunks],
                                          dtype=np.int64)
        else:  # the build's columns: no record is parsed until a question reads it
            self.article_position = dict(
                zip(columns.article_ids.tolist(), range(len(columns.article_ids)), strict=True))
            self.articles = ById(articles, self.article_position)
            self.article_sources = columns.article_sources
            self.article_days = columns.article_days
            self.chunk_article = columns.chunk_article
        #: Builds write chunks article by article; a view then slices rows by range.
        self.chunks_in_article_order = bool(np.all(np.diff(self.chunk_article) >= 0))
        # Sentences are stored sorted by (article, start): slice per article.
        self.sentence_offsets = (
            columns.sentence_offsets if columns is not None and columns.sentence_offsets is not None
            else sentence_offsets(sentences[:, 0], len(articles)))
        self._bm25: Any = None
        self._sentence_bm25: Any = None
        self._chunk_sentences: tuple[np.ndarray, np.ndarray] | None = None
        self._sentence_chunk: np.ndarray | None = None
        self._idf: dict[str, float] | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return str(self.manifest["model"])

    @property
    def build_id(self) -> str:
        return str(self.manifest["build_id"])

    @property
    def dimension(self) -> int:
        return int(self.manifest["dimension"])

    def embedder(self) -> Embedder:
        """The model that embeds questions for this index (IndexMismatchError if unusable)."""
        return self._usable(self.model, "model", self.dimension, "vectors")

    @property
    def part_model(self) -> str | None:
        """The second model that encoded the sentences for question parts, if any."""
        name = self.manifest.get("settings", {}).get("part_model")
        return str(name) if name and self.part_vectors is not None else None

    def part_embedder(self) -> Embedder | None:
        """The model that encodes question parts for ``part_vectors`` (None without one)."""
        if self.part_model is None or self.part_vectors is None:
            return None
        return self._usable(self.part_model, "the part model", self.part_vectors.shape[1],
                            "part vectors")

    def _usable(self, model: str, role: str, dimension: int, vectors: str) -> Embedder:
        """``model`` loaded, if it is here and makes ``dimension``-dimensional vectors."""
        try:
            embedder = get_query_embedder(model)
            made = embedder.dimension
        except ConfigError as exc:
            raise IndexMismatchError(
                f"the index at {self.path} was built with {role} {model!r}, which is not "
                f"available here ({exc}); install it, or rebuild the index with: "
                "rag build PATH --index DIR"
            ) from exc
        if made != dimension:
            raise IndexMismatchError(
                f"the index at {self.path} holds {dimension}-dimensional {vectors} but "
                f"{role} {model!r} makes {made}-dimensional ones; rebuild it with: "
                "rag build PATH --index DIR"
            )
        return embedder

    @property
    def chunk_position(self) -> dict[str, int]:
        """Row of each chunk id (built on first use: a million ids take a while)."""
        with self._lock:
            if self._chunk_position is None:
                ids = (self._columns.chunk_ids.tolist() if self._columns is not None
                       else [c.id for c in self.chunks])
                self._chunk_position = dict(zip(ids, range(len(ids)), strict=True))
        return self._chunk_position

    @cached_property
    def _outlets(self) -> tuple[str, ...]:
        return tuple(sorted({str(s) for s in set(self.article_sources.tolist()) if s}))

    @cached_property
    def _span(self) -> tuple[str, str] | None:
        days = [str(d) for d in np.unique(self.article_days).tolist() if d]
        return (days[0], days[-1]) if days else None

    @cached_property
    def _outlet_codes(self) -> tuple[np.ndarray, np.ndarray]:
        names, codes = np.unique(np.asarray(self.article_sources, dtype=str), return_inverse=True)
        return names, codes.astype(np.int32)

    def outlet_mask(self, outlets: Sequence[str]) -> np.ndarray:
        """Which articles are from one of ``outlets`` (exact names), one bool each: by
        the articles' outlet codes, as comparing a million outlet strings per question
        cost milliseconds."""
        names, codes = self._outlet_codes
        return np.isin(names, list(outlets))[codes] if len(codes) else np.zeros(0, dtype=bool)

    def sources(self) -> list[str]:
        """Outlets present in the index, sorted."""
        return list(self._outlets)

    def date_span(self) -> tuple[str, str] | None:
        """(earliest, latest) publication date, or None when no article is dated."""
        return self._span

    def sentence_vectors_at(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The vectors (float32) of the sentence rows ``rows``."""
        return np.asarray(self.sentence_vectors[np.asarray(rows, dtype=np.int64)],
                          dtype=np.float32)

    def sentence_cosines(self, vectors: np.ndarray,
                         rows: np.ndarray | None = None) -> np.ndarray:
        """Each sentence's (or each of ``rows``') cosine with each of ``vectors``
        (one per row): an array of one row per sentence, one column per vector."""
        main = self.sentence_vectors if rows is None else self.sentence_vectors_at(rows)
        return main @ vectors.T

    def _lexical(self) -> None:
        # BM25 indexes and word statistics are written at build time (bm25s files,
        # memory-mapped here); an index built before that derives them from the
        # texts (about 3 s for MultiHop-RAG's 7.7k chunks and 57k sentences).
        with self._lock:
            if self._bm25 is None:
                if IDF in self.manifest.get("files", {}):
                    chunks, sentences, idf = load_lexical(self.path)
                else:
                    chunks, sentences, idf = lexical_indexes(
                        self.chunks, self.sentences, self.article_list)
                self._idf = idf
                self._sentence_bm25 = sentences
                self._bm25 = chunks

    def sentence_rows(self, article: int, start: int, end: int) -> np.ndarray:
        """Rows of the sentences of article number ``article`` that overlap [start, end)."""
        lo, hi = self.sentence_offsets[article], self.sentence_offsets[article + 1]
        spans = self.sentences[lo:hi]
        return np.nonzero((spans[:, 1] < end) & (spans[:, 2] > start))[0] + lo

    def _chunk_sentence_map(self) -> tuple[np.ndarray, np.ndarray]:
        """The sentence rows of every chunk, built on first use (it depends on the
        spans only, not on BM25, so the vector rankings need no BM25 build)."""
        with self._lock:
            if self._chunk_sentences is None:
                self._chunk_sentences = self._sentences_per_chunk()
        return self._chunk_sentences

    @cached_property
    def _chunk_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Each chunk's start and end, read once: from the span column when the chunk
        table has one (no chunk is made), else from its records."""
        n = len(self.chunks)
        column = getattr(self.chunks, "bounds", None)
        found = column(np.arange(n)) if column is not None else None
        if found is not None:
            return found
        return (np.fromiter((c.start for c in self.chunks), dtype=np.int64, count=n),
                np.fromiter((c.end for c in self.chunks), dtype=np.int64, count=n))

    def _sentences_per_chunk(self) -> tuple[np.ndarray, np.ndarray]:
        """The sentence rows each chunk overlaps, as (flat rows, start offset per chunk)."""
        # Row len(sentences) stands for "no sentence" (scored 0), so that every
        # chunk has at least one row and reduceat stays valid.
        if not len(self.chunks):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        found = sentences_in_chunks(np.asarray(self.chunk_article, dtype=np.int64),
                                    *self._chunk_bounds, self.sentences)
        if found is not None:
            return found
        none = np.array([len(self.sentences)], dtype=np.int64)  # not in order: each chunk
        rows = [self.sentence_rows(int(self.chunk_article[p]), c.start, c.end)
                for p, c in enumerate(self.chunks)]
        rows = [r if len(r) else none for r in rows]
        counts = np.array([len(r) for r in rows], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        return np.concatenate(rows).astype(np.int64), starts

    @property
    def sentence_chunk(self) -> np.ndarray:
        """For each sentence row, the first chunk holding all of it (else, for a
        sentence longer than a chunk, the first it overlaps): where a passage
        chosen for one sentence comes from."""
        with self._lock:
            if self._sentence_chunk is None:
                found = first_containing(np.asarray(self.chunk_article, dtype=np.int64),
                                         *self._chunk_bounds, self.sentences)
                owner = found.copy() if found is not None else np.array(
                    containing_chunks(self.chunks, self.sentences, self.article_list),
                    dtype=np.int64)
                for row in np.nonzero(owner < 0)[0]:
                    article, start, end = (int(x) for x in self.sentences[row])
                    owner[row] = next(
                        int(i) for i in np.nonzero(self.chunk_article == article)[0]
                        if self.chunks[int(i)].start < end and self.chunks[int(i)].end > start)
                owner.setflags(write=False)
                self._sentence_chunk = owner
        return self._sentence_chunk

    def bm25(self) -> Any:
        """A BM25 index (bm25s) over the chunk texts."""
        if self._bm25 is None:
            self._lexical()
        return self._bm25

    def sentence_bm25(self, terms: list[str]) -> np.ndarray:
        """The BM25 score of every sentence for ``terms``, plus a final 0 for "none"."""
        if self._bm25 is None:
            self._lexical()
        scores = np.zeros(len(self.sentences) + 1, dtype=np.float32)
        if len(self.sentences):
            scores[:-1] = self._sentence_bm25.get_scores(terms)
        return scores

    def chunk_sentences(self, position: int) -> np.ndarray:
        """The sentence rows chunk number ``position`` overlaps (``len(sentences)``
        stands for a chunk without sentences)."""
        flat, starts = self._chunk_sentence_map()
        end = starts[position + 1] if position + 1 < len(starts) else len(flat)
        return flat[starts[position]:end]

    def best_sentence_bm25(self, terms: list[str],
                           sentence_scores: np.ndarray | None = None) -> np.ndarray:
        """Per chunk, the BM25 score of its best-matching sentence for ``terms``.

        A gold fact is usually one sentence; scored alone it is not diluted by
        the rest of its chunk, as it is in chunk-level BM25. ``sentence_scores``
        reuses :meth:`sentence_bm25` of the same terms.
        """
        return self._best_per_chunk(
            self.sentence_bm25(terms) if sentence_scores is None else sentence_scores)

    def best_sentence_dense(self, query_vector: np.ndarray) -> np.ndarray:
        """Per chunk, the cosine of its best-matching sentence with ``query_vector``
        (-1 for a chunk without sentences): the vector counterpart of
        :meth:`best_sentence_bm25`."""
        scores = np.full(len(self.sentences) + 1, -1.0, dtype=np.float32)
        if len(self.sentences):
            scores[:-1] = self.sentence_vectors @ query_vector
        return self._best_per_chunk(scores)

    def _best_per_chunk(self, sentence_scores: np.ndarray) -> np.ndarray:
        """Per chunk, the highest of ``sentence_scores`` (one per sentence row, then
        one for "no sentence") over the sentences the chunk overlaps."""
        flat, starts = self._chunk_sentence_map()
        if not len(self.chunks):
            return np.zeros(0, dtype=np.float32)
        return np.maximum.reduceat(sentence_scores[flat], starts)

    def idf(self) -> dict[str, float]:
        """Inverse document frequency of each word over the chunks."""
        if self._idf is None:
            self._lexical()
        assert self._idf is not None
        return self._idf

    def info(self) -> dict[str, Any]:
        """A summary for people: counts, outlets, date span, model, build time."""
        span = self.date_span()
        return {
            "path": str(self.path),
            "articles": len(self.article_list),
            "chunks": len(self.chunks),
            "sentences": len(self.sentences),
            "outlets": self.sources(),
            "date_span": list(span) if span else None,
            "model": self.model,
            "built_at": self.manifest.get("built_at"),
            "rag_version": self.manifest.get("rag_version"),
            "store": self.manifest.get("store") or {"kind": "files"},
        }


def lexical_indexes(chunks: Sequence[Chunk], sentences: np.ndarray,
                    articles: Sequence[Article]) -> tuple[Any, Any, dict[str, float]]:
    """BM25 over the chunks, BM25 over the sentences (weak length normalisation,
    ``SENTENCE_BM25_B``) and the chunks' word statistics, from the texts."""
    import bm25s

    tokens = [tokenize(c.text) for c in chunks]
    sentence_tokens = [tokenize(articles[int(a)].text[int(lo):int(hi)]) or ["_"]
                       for a, lo, hi in sentences]
    by_sentence = bm25s.BM25(b=SENTENCE_BM25_B)
    _index_words(by_sentence, sentence_tokens or [["_"]])
    by_chunk = bm25s.BM25()
    _index_words(by_chunk, [t or ["_"] for t in tokens])
    return by_chunk, by_sentence, idf_table(tokens)


def _index_words(retriever: Any, documents: list[list[str]]) -> None:
    """Index ``documents`` with the words numbered in sorted order: bm25s numbers them
    in the order of a set, which changes with Python's hash seed, so two builds of one
    corpus wrote different BM25 files."""
    vocabulary = {w: i for i, w in enumerate(sorted({w for d in documents for w in d}))}
    retriever.index(([[vocabulary[w] for w in d] for d in documents], vocabulary),
                    show_progress=False)


def save_lexical(folder: Path, chunks: Any, sentences: Any,
                 idf: dict[str, float]) -> list[str]:
    """Write the BM25 indexes (bm25s's own files, no pickle) and word statistics into
    a build folder; the file names written, relative to it."""
    names: list[str] = []
    for sub, retriever in ((BM25_CHUNKS, chunks), (BM25_SENTENCES, sentences)):
        retriever.save(folder / sub, allow_pickle=False)
        names.extend(f"{sub}/{f.name}" for f in sorted((folder / sub).iterdir()))
    (folder / IDF).write_text(json.dumps(idf, sort_keys=True), encoding="utf-8")
    return [*names, IDF]


def load_lexical(folder: Path) -> tuple[Any, Any, dict[str, float]]:
    import bm25s

    try:
        chunks = bm25s.BM25.load(folder / BM25_CHUNKS, mmap=True)
        sentences = bm25s.BM25.load(folder / BM25_SENTENCES, mmap=True)
        idf = json.loads((folder / IDF).read_text(encoding="utf-8"))
        for retriever in (chunks, sentences):
            # Plain arrays over the same mapped pages: slicing a np.memmap makes a
            # memmap object each time (tens of thousands a question at 1M chunks).
            retriever.scores = {k: np.asarray(v) if isinstance(v, np.ndarray) else v
                                for k, v in retriever.scores.items()}
    except (OSError, ValueError, KeyError) as exc:
        raise CorruptIndexError(f"the BM25 files of {folder} cannot be read ({exc}); "
                                f"rebuild the index with rag build") from exc
    return chunks, sentences, idf


def stored_vectors_at(file: Path, vector_bytes: int) -> int:
    """Where an HNSW index's vectors begin in its file: FAISS writes the graph first and
    the flat storage (``vector_bytes`` of vectors) last. Raises OSError."""
    return file.stat().st_size - vector_bytes


def _read_ahead(file: Path, vector_bytes: int) -> None:
    """Read an HNSW index's ``file`` once, sequentially, up to its vectors (which stay
    memory-mapped), so that FAISS reads the graph from the page cache. Left to FAISS's
    mapped reads, the graph (305 MB at a million chunks) came in a page at a time:
    4.3 s with the pages cold, where one pass reads it in about 0.3 s."""
    try:
        left = stored_vectors_at(file, vector_bytes)
        with open(file, "rb", buffering=0) as handle:
            block = memoryview(bytearray(min(max(left, 0), 8 << 20)))
            while left > 0:
                n = handle.readinto(block[:min(len(block), left)])
                if not n:
                    break
                left -= n
    except OSError:
        pass  # only speed is at stake: FAISS's own read reports a damaged file


def stored_vectors(faiss_index: Any) -> np.ndarray:
    """The vectors a flat or HNSW-flat FAISS index stores, as a read-only array over
    FAISS's own memory (no copy: alive as long as ``faiss_index``)."""
    import faiss

    storage = (faiss.downcast_index(faiss_index.storage) if hasattr(faiss_index, "storage")
               else faiss_index)
    n, d = int(storage.ntotal), int(storage.d)
    if not isinstance(storage, faiss.IndexFlat):
        raise CorruptIndexError(f"chunks.faiss holds a {type(storage).__name__}, not the flat "
                                "vectors rag writes; rebuild the index with rag build")
    if n == 0:
        return np.zeros((0, d), dtype=np.float32)
    address = faiss.rev_swig_ptr(storage.get_xb(), n * d).ctypes.data
    # The array's base holds the FAISS index, so the memory outlives any caller
    # that keeps only the vectors (``load_index(p).chunk_vectors``).
    return np.asarray(_Borrowed(faiss_index, address, (n, d)))


class _Borrowed:
    """FAISS-owned float32 memory as a read-only array, keeping its owner alive."""

    def __init__(self, owner: Any, address: int, shape: tuple[int, int]):
        self.owner = owner
        self.__array_interface__ = {"data": (address, True), "shape": shape,
                                    "typestr": "<f4", "version": 3}


def open_store(record: dict[str, Any] | None) -> Any:
    """The store a manifest's ``"store"`` record names (the file store if none)."""
    if not record or record.get("kind", FILE_STORE) == FILE_STORE:
        return FileStore()
    if record.get("kind") == "milvus":
        from .milvus_store import MilvusStore

        return MilvusStore(str(record["uri"]), str(record.get("collection") or "rag_chunks"))
    raise CorruptIndexError(f"the manifest names a store of kind {record.get('kind')!r}, "
                            "which this version of rag does not know; rebuild with rag build")


def load_index(path: str | Path, *, config: Config | None = None) -> Index:
    """Load the index at ``path``; with ``config``, check it was built with the same settings.

    Raises IndexNotFoundError, CorruptIndexError or IndexMismatchError, each saying
    how to rebuild. A rebuild finishing meanwhile is not an error: the build that
    is current is loaded, whole.
    """
    root = Path(path)
    for _attempt in range(3):
        build = resolve_build(root)
        try:
            return _load_build(root, build, config)
        except CorruptIndexError:
            # Builds are swapped in and old ones removed while we read; if CURRENT
            # moved on, read the new build rather than report a damaged one.
            if build == root or resolve_build(root) == build:
                raise
    return _load_build(root, resolve_build(root), config)


def _load_build(root: Path, build: Path, config: Config | None) -> Index:
    import faiss

    manifest = read_manifest(build)
    # The version first: a newer rag may record settings this one does not know.
    check_version(manifest, root)
    check_manifest_fields(manifest, build, root)
    if config is None:
        try:
            config = Config.from_dict(manifest_settings(manifest))
        except (ConfigError, TypeError) as exc:
            raise IndexMismatchError(
                f"the index at {root} was built with settings this rag cannot use ({exc}); "
                f"rebuild it with rag build PATH --index {root}"
            ) from exc
    check_compatible(manifest, config, root)
    for name, expected in manifest["files"].items():
        file = build / name
        size = file.stat().st_size if file.is_file() else -1
        want = expected["bytes"]
        if size != want:
            state = "missing" if size < 0 else f"{size} bytes, expected {want}"
            raise CorruptIndexError(
                f"{file} is {state}; the index is damaged: rebuild it with "
                f"rag build PATH --index {root}"
            )
    try:
        counts = manifest.get("counts") or {}
        columns: Columns | None = None
        articles: Sequence[Article]
        chunks: Sequence[Chunk]
        if f"{TABLES}/chunk_ids.npy" in manifest["files"] and (
                int(counts.get("sentences") or 0) > LARGE_SENTENCES):
            # A large index reads its records on demand (rag.tables): parsing them
            # all took about a minute and 10 GB at a million chunks.
            articles, chunks, columns = read_tables(build, list(manifest.get("sources") or []),
                                                    list(manifest["files"]))
        else:
            articles = [Article.from_dict(json.loads(line)) for line in (
                build / "articles.jsonl").read_text(encoding="utf-8").splitlines() if line]
            chunks = [Chunk(**json.loads(line)) for line in
                      (build / "chunks.jsonl").read_text(encoding="utf-8").splitlines() if line]
        # The large arrays are memory-mapped: pages are read as questions need
        # them, so a large index loads in the time it takes to read its tables.
        # Read in place (memory-mapped): reading the bytes first and deserialising
        # them held the vectors twice while loading (3 GB at a million chunks).
        ann = manifest.get("faiss") or {}
        if ann.get("type") == "hnsw":
            _read_ahead(build / "chunks.faiss", int(counts.get("chunks") or 0)
                        * int(manifest["dimension"]) * 4)
        faiss_index = faiss.read_index(str(build / "chunks.faiss"), faiss.IO_FLAG_MMAP_IFC)
        chunk_vectors = (np.load(build / CHUNK_VECTORS, allow_pickle=False, mmap_mode="r")
                         if CHUNK_VECTORS in manifest["files"] else stored_vectors(faiss_index))
        if ann.get("type") == "hnsw":
            faiss_index.hnsw.efSearch = int(ann.get("efSearch", 128))  # type: ignore[attr-defined]
        sentences = np.load(build / "sentences.npy", allow_pickle=False,
                            mmap_mode="r" if columns is not None else None)
        sentence_vectors = np.load(build / "sentence_vectors.npy", allow_pickle=False,
                                   mmap_mode="r")
        part_vectors = (np.load(build / PART_VECTORS, allow_pickle=False, mmap_mode="r")
                        if PART_VECTORS in manifest["files"] else None)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RuntimeError) as exc:
        raise CorruptIndexError(
            f"the index at {build} is damaged ({exc}); "
            f"rebuild it with rag build PATH --index {root}"
        ) from exc
    problems = inconsistencies(manifest, articles, chunks, chunk_vectors, faiss_index,
                                sentences, sentence_vectors, part_vectors, columns)
    if problems:
        raise CorruptIndexError(
            f"the index at {build} is inconsistent ({'; '.join(problems)}); "
            f"rebuild it with rag build PATH --index {root}"
        )
    # Sentence vectors are stored as fp16. A small index holds them as fp32 in RAM,
    # since it scores every sentence per question; a large one (candidate-only,
    # rag.scope) keeps them memory-mapped and converts only its candidates' rows
    # (6M sentences as fp32 would be 9 GB).
    if len(sentences) <= LARGE_SENTENCES:
        sentence_vectors = np.ascontiguousarray(sentence_vectors, dtype=np.float32)
    return Index(build, manifest, articles, chunks, np.ascontiguousarray(chunk_vectors),
                 faiss_index, np.asarray(sentences, dtype=np.int64) if columns is not None
                 else sentences.astype(np.int64), sentence_vectors,
                 None if part_vectors is None else
                 np.ascontiguousarray(part_vectors, dtype=np.float32), columns)

