"""The index on disk: plain files plus a manifest, swapped in atomically.

Layout of an index folder::

    DIR/CURRENT                    name of the live build (replaced atomically)
    DIR/builds/<name>/manifest.json  model, dimension, chunking, versions, counts, files
    DIR/builds/<name>/articles.jsonl one Article per line (text verbatim)
    DIR/builds/<name>/chunks.jsonl   one Chunk per line
    DIR/builds/<name>/chunk_vectors.npy, chunks.faiss  normalised vectors, inner-product index
    DIR/builds/<name>/sentences.npy, sentence_vectors.npy  quote candidates for the composer
    DIR/builds/<name>/part_vectors.npy  each sentence encoded on its own by the
                                     second model (``Config.part_model``), if any

A build is written into a temporary folder and only then made current, so a
crash leaves the previous index intact, and a reader sees one build or the
other, never a mix. No pickle anywhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .articles import LoadResult, Problem, load_articles
from .chunks import Chunker
from .clean import kept_blocks
from .config import Config
from .embeddings import Embedder, get_embedder, progress_bar
from .errors import (
    ConfigError,
    CorruptIndexError,
    IndexMismatchError,
    IndexNotFoundError,
    RagError,
)
from .records import Article, Chunk
from .sentences import split_sentences

FORMAT_VERSION = 1
CURRENT = "CURRENT"
BUILDS = "builds"
MANIFEST = "manifest.json"
_FILES = (
    "articles.jsonl",
    "chunks.jsonl",
    "chunk_vectors.npy",
    "chunks.faiss",
    "sentences.npy",
    "sentence_vectors.npy",
)


# BM25's length normalisation (b) for single sentences. bm25s's default 0.75
# ranks a short sentence above a longer one that holds the same words, but a
# fact is usually a long sentence (MultiHop-RAG's gold facts: median 14 content
# words, its sentences 10). Measured on MultiHop-RAG (README, "Length
# normalisation"): 0.2 finds more evidence and ranks it higher on both halves.
# Chunks keep the default: they are all about 256 tokens.
SENTENCE_BM25_B = 0.2
#: How sentence vectors are made; vectors made another way are not reused.
SENTENCE_VECTORS = "mean of the chunk's contextual token embeddings over the sentence"
#: The second model's sentence vectors (only when ``Config.part_model`` is set).
PART_VECTORS = "part_vectors.npy"


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- the loaded index


class Index:
    """A loaded, read-only index. Safe to share between threads."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        articles: list[Article],
        chunks: list[Chunk],
        chunk_vectors: np.ndarray,
        faiss_index: Any,
        sentences: np.ndarray,
        sentence_vectors: np.ndarray,
        part_vectors: np.ndarray | None = None,
    ):
        self.path = path
        self.manifest = manifest
        self.article_list = articles
        self.articles = {a.id: a for a in articles}
        self.chunks = chunks
        self.chunk_vectors = chunk_vectors
        self.faiss = faiss_index
        self.sentences = sentences
        self.sentence_vectors = sentence_vectors
        #: Each sentence encoded on its own by ``part_model`` (None without one).
        self.part_vectors = part_vectors
        self.article_position = {a.id: i for i, a in enumerate(articles)}
        self.chunk_position = {c.id: i for i, c in enumerate(chunks)}
        # Per article, for the outlet and date masks every question may need.
        self.article_sources = np.array([a.source or "" for a in articles], dtype=object)
        self.article_days = np.array([a.published[:10] if a.published else "" for a in articles],
                                     dtype=str)
        self.chunk_article = np.array([self.article_position[c.article_id] for c in chunks],
                                      dtype=np.int64)
        # Sentences are stored sorted by (article, start): slice per article.
        counts = np.bincount(sentences[:, 0], minlength=len(articles)) if len(sentences) else (
            np.zeros(len(articles), dtype=np.int64)
        )
        self.sentence_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
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
            embedder = get_embedder(model)
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

    def sources(self) -> list[str]:
        """Outlets present in the index, sorted."""
        return sorted({a.source for a in self.article_list if a.source})

    def date_span(self) -> tuple[str, str] | None:
        """(earliest, latest) publication date, or None when no article is dated."""
        dates = sorted(a.published[:10] for a in self.article_list if a.published)
        return (dates[0], dates[-1]) if dates else None

    def _lexical(self) -> None:
        # BM25 and word statistics are derived from the texts on first use: quick
        # to compute (about 3 s for MultiHop-RAG's 7.7k chunks and 57k
        # sentences), so not stored.
        with self._lock:
            if self._bm25 is None:
                import bm25s

                from .answer import idf_table
                from .text import tokenize

                tokens = [tokenize(c.text) for c in self.chunks]
                sentence_tokens = [
                    tokenize(self.article_list[int(a)].text[int(lo):int(hi)]) or ["_"]
                    for a, lo, hi in self.sentences
                ]
                sentences = bm25s.BM25(b=SENTENCE_BM25_B)
                sentences.index(sentence_tokens or [["_"]], show_progress=False)
                retriever = bm25s.BM25()
                retriever.index([t or ["_"] for t in tokens], show_progress=False)
                self._idf = idf_table(tokens)
                self._sentence_bm25 = sentences
                self._bm25 = retriever

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

    def _sentences_per_chunk(self) -> tuple[np.ndarray, np.ndarray]:
        """The sentence rows each chunk overlaps, as (flat rows, start offset per chunk)."""
        rows: list[np.ndarray] = []
        # Row len(sentences) stands for "no sentence" (scored 0), so that every
        # chunk has at least one row and reduceat stays valid.
        none = np.array([len(self.sentences)], dtype=np.int64)
        for position, chunk in enumerate(self.chunks):
            inside = self.sentence_rows(int(self.chunk_article[position]), chunk.start, chunk.end)
            rows.append(inside if len(inside) else none)
        counts = np.array([len(r) for r in rows], dtype=np.int64)
        flat = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if rows else counts
        return flat.astype(np.int64), starts.astype(np.int64)

    @property
    def sentence_chunk(self) -> np.ndarray:
        """For each sentence row, the first chunk holding all of it (else, for a
        sentence longer than a chunk, the first it overlaps): where a passage
        chosen for one sentence comes from."""
        with self._lock:
            if self._sentence_chunk is None:
                owner = np.array(_containing_chunks(self.chunks, self.sentences,
                                                    self.article_list), dtype=np.int64)
                for row in np.nonzero(owner < 0)[0]:
                    article, start, end = (int(x) for x in self.sentences[row])
                    owner[row] = next(
                        int(i) for i in np.nonzero(self.chunk_article == article)[0]
                        if self.chunks[i].start < end and self.chunks[i].end > start)
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
        }


# ---------------------------------------------------------------- locating builds


def resolve_build(root: str | Path) -> Path:
    """The folder of the live build under ``root`` (or ``root`` itself if it is one)."""
    root = Path(root)
    if (root / MANIFEST).is_file():
        return root
    current = root / CURRENT
    if not current.is_file():
        raise IndexNotFoundError(
            f"no index at {root}; build one with: rag build PATH --index {root}"
        )
    try:
        name = current.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptIndexError(
            f"{current} is unreadable ({exc}); rebuild with: rag build PATH --index {root}"
        ) from exc
    build = root / BUILDS / name
    if not name or Path(name).name != name or name.startswith(".") or not (
        build / MANIFEST
    ).is_file():
        raise CorruptIndexError(
            f"{current} names build {name!r}, which is missing; rebuild with: "
            f"rag build PATH --index {root}"
        )
    return build


def read_manifest(build: Path) -> dict[str, Any]:
    """The manifest of the build folder ``build`` (CorruptIndexError if unreadable)."""
    try:
        manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptIndexError(
            f"{build / MANIFEST} is unreadable ({exc}); rebuild the index with rag build"
        ) from exc
    if not isinstance(manifest, dict) or "format_version" not in manifest:
        raise CorruptIndexError(f"{build / MANIFEST} is not a rag manifest; rebuild the index")
    return manifest


# What the fields of a manifest this rag reads must hold.
_MANIFEST_FIELDS: dict[str, type | tuple[type, ...]] = {
    "model": str, "dimension": int, "settings": dict, "counts": dict, "files": dict,
}


def _check_manifest_fields(manifest: dict[str, Any], where: Path, root: Path) -> None:
    bad = [name for name, kind in _MANIFEST_FIELDS.items()
           if not isinstance(manifest.get(name), kind) or isinstance(manifest.get(name), bool)]
    files = manifest.get("files")
    if isinstance(files, dict) and not all(
        isinstance(v, dict) and isinstance(v.get("bytes"), int) for v in files.values()
    ):
        bad.append("files.*.bytes")
    if bad:
        raise CorruptIndexError(
            f"{where / MANIFEST} is damaged (bad or missing {', '.join(bad)}); "
            f"rebuild it with rag build PATH --index {root}"
        )


def check_version(manifest: dict[str, Any], where: Path) -> None:
    """Raise IndexMismatchError unless this rag reads the manifest's format version."""
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index at {where} has format version {version}, newer than this rag "
            f"(reads {FORMAT_VERSION}); upgrade rag, or rebuild it with: rag build PATH --index DIR"
        )
    if version < FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index at {where} has old format version {version}; rebuild it with rag build"
        )


def check_compatible(manifest: dict[str, Any], config: Config, where: Path) -> None:
    """Raise IndexMismatchError if the index was built with other settings than ``config``."""
    check_version(manifest, where)
    diffs = setting_differences(manifest, config)
    if diffs:
        raise IndexMismatchError(
            f"the index at {where} was built with other settings ({'; '.join(diffs)}); "
            "rebuild it with these settings (rag build PATH --index DIR) or use its own"
        )


def setting_differences(manifest: dict[str, Any], config: Config) -> list[str]:
    """Each build setting of ``config`` that the index was built without, described."""
    built = manifest.get("settings", {})
    return [f"{k}: index has {built.get(k)!r}, asked for {v!r}"
            for k, v in config.build_settings().items() if built.get(k) != v]


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
    _check_manifest_fields(manifest, build, root)
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
        articles = [Article.from_dict(json.loads(line)) for line in
                    (build / "articles.jsonl").read_text(encoding="utf-8").splitlines() if line]
        chunks = [Chunk(**json.loads(line)) for line in
                  (build / "chunks.jsonl").read_text(encoding="utf-8").splitlines() if line]
        chunk_vectors = np.load(build / "chunk_vectors.npy", allow_pickle=False)
        faiss_index = faiss.deserialize_index(
            np.frombuffer((build / "chunks.faiss").read_bytes(), dtype=np.uint8)
        )
        sentences = np.load(build / "sentences.npy", allow_pickle=False)
        sentence_vectors = np.load(build / "sentence_vectors.npy", allow_pickle=False)
        part_vectors = (np.load(build / PART_VECTORS, allow_pickle=False)
                        if PART_VECTORS in manifest["files"] else None)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RuntimeError) as exc:
        raise CorruptIndexError(
            f"the index at {build} is damaged ({exc}); "
            f"rebuild it with rag build PATH --index {root}"
        ) from exc
    problems = _inconsistencies(manifest, articles, chunks, chunk_vectors, faiss_index,
                                sentences, sentence_vectors, part_vectors)
    if problems:
        raise CorruptIndexError(
            f"the index at {build} is inconsistent ({'; '.join(problems)}); "
            f"rebuild it with rag build PATH --index {root}"
        )
    return Index(build, manifest, articles, chunks, np.ascontiguousarray(chunk_vectors),
                 faiss_index, sentences.astype(np.int64),
                 np.ascontiguousarray(sentence_vectors, dtype=np.float32),
                 None if part_vectors is None else
                 np.ascontiguousarray(part_vectors, dtype=np.float32))


def manifest_settings(manifest: dict[str, Any]) -> dict[str, Any]:
    """The build settings a manifest records, with those an older build predates
    filled in as it was built (no part model before there was one)."""
    return {**Config().build_settings(), "part_model": None, **manifest.get("settings", {})}


def _inconsistencies(
    manifest: dict[str, Any],
    articles: list[Article],
    chunks: list[Chunk],
    chunk_vectors: np.ndarray,
    faiss_index: Any,
    sentences: np.ndarray,
    sentence_vectors: np.ndarray,
    part_vectors: np.ndarray | None,
) -> list[str]:
    """What disagrees between the tables, the vectors and the manifest (empty if nothing)."""
    dim = manifest["dimension"]
    counts = manifest["counts"]
    problems = []
    if len(articles) != counts.get("articles"):
        problems.append(f"{len(articles)} articles, manifest says {counts.get('articles')}")
    if len(chunks) != counts.get("chunks") or chunk_vectors.shape != (len(chunks), dim):
        problems.append(f"{len(chunks)} chunks (manifest: {counts.get('chunks')}) vs chunk "
                        f"vectors of shape {chunk_vectors.shape} (manifest: {dim} dimensions)")
    if faiss_index.ntotal != len(chunks) or faiss_index.d != dim:
        problems.append(f"FAISS index holds {faiss_index.ntotal} vectors of {faiss_index.d} dims")
    if (sentences.ndim != 2 or sentences.shape[1:] != (3,)
            or not np.issubdtype(sentences.dtype, np.integer)
            or sentence_vectors.shape != (len(sentences), dim)):
        problems.append(f"sentence table {sentences.shape} and sentence vectors "
                        f"{sentence_vectors.shape} differ")
    part_model = manifest["settings"].get("part_model")
    if bool(part_model) != (part_vectors is not None) or (part_vectors is not None and (
            part_vectors.ndim != 2 or len(part_vectors) != len(sentences))):
        problems.append(f"part model {part_model!r} and part vectors "
                        f"{None if part_vectors is None else part_vectors.shape} "
                        f"disagree with {len(sentences)} sentences")
    texts = {a.id: a.text for a in articles}
    if len(texts) != len(articles):
        problems.append("an article appears twice in the article table")
    if any(c.article_id not in texts for c in chunks):
        problems.append("chunks refer to articles not in the article table")
    elif any(texts[c.article_id][c.start:c.end] != c.text for c in chunks):
        problems.append("chunk offsets do not match their articles' text")
    if not problems and len(sentences):
        rows = sentences.astype(np.int64)
        lengths = np.array([len(a.text) for a in articles], dtype=np.int64)
        in_range = (rows[:, 0] >= 0) & (rows[:, 0] < len(articles))
        if not in_range.all() or np.any(np.diff(rows[:, 0]) < 0):
            problems.append("the sentence table refers to articles out of range or order")
        elif ((rows[:, 1] < 0) | (rows[:, 1] >= rows[:, 2])
              | (rows[:, 2] > lengths[rows[:, 0]])).any():
            problems.append("sentence offsets fall outside their articles' text")
    return problems


# ---------------------------------------------------------------- building


@dataclass
class BuildReport:
    """What a build did: counts, reuse, timing and the problems met."""

    index_dir: Path
    build_dir: Path
    articles: int
    chunks: int
    sentences: int
    embedded: int
    reused: int
    seconds: float
    embed_seconds: float
    #: Sentences the part model encoded (the rest were reused from the last build).
    part_embedded: int = 0
    problems: list[Problem] = field(default_factory=list)
    dropped: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "index_dir": str(self.index_dir), "build_dir": str(self.build_dir),
            "articles": self.articles, "chunks": self.chunks, "sentences": self.sentences,
            "embedded": self.embedded, "reused": self.reused,
            "part_embedded": self.part_embedded,
            "seconds": round(self.seconds, 3), "embed_seconds": round(self.embed_seconds, 3),
            "chunks_per_second": round(self.chunks_per_second, 2),
            "problems": [str(p) for p in self.problems],
            "dropped": self.dropped,
        }


@contextlib.contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle = open(root / ".lock", "w")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise _write_error(root, exc) from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RagError(
                f"another build is writing the index at {root}; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sentence_key(chunk_text: str, start: int, end: int) -> str:
    return _text_key(f"{chunk_text}\x1f{start}:{end}")


def _containing_chunks(chunks: list[Chunk], sentences: np.ndarray,
                       articles: list[Article]) -> list[int]:
    """For each sentence row, the first chunk of its article that contains it (or -1)."""
    by_article: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        by_article.setdefault(c.article_id, []).append(i)
    owner = []
    for a, s, e in sentences.tolist():
        found = -1
        for i in by_article.get(articles[a].id, []):
            if chunks[i].start <= s and e <= chunks[i].end:
                found = i
                break
        owner.append(found)
    return owner


def _previous_index(root: Path) -> Index | None:
    """The current build, to reuse its vectors; a damaged one is simply not reused."""
    try:
        return load_index(root)
    except RagError:
        return None


def _previous_vectors(index: Index | None, model: str, dim: int) -> dict[str, np.ndarray]:
    """Vectors of the current build keyed by content, to skip re-embedding."""
    if index is None:
        return {}
    if (index.model != model or index.chunk_vectors.shape[1:] != (dim,)
            or index.manifest.get("sentence_vectors") != SENTENCE_VECTORS):
        return {}
    cache = {_text_key(c.text): index.chunk_vectors[i] for i, c in enumerate(index.chunks)}
    owner = _containing_chunks(index.chunks, index.sentences, index.article_list)
    for row, ((a, s, e), i) in enumerate(zip(index.sentences.tolist(), owner, strict=True)):
        if i >= 0:
            c = index.chunks[i]
            key = _sentence_key(c.text, s - c.start, e - c.start)
        else:
            key = _text_key(index.article_list[a].text[s:e])
        cache.setdefault(key, index.sentence_vectors[row])
    return cache


def _previous_part_vectors(index: Index | None, part_model: str) -> dict[str, np.ndarray]:
    """The current build's part vectors keyed by sentence text (each was encoded alone)."""
    if index is None or index.part_model != part_model or index.part_vectors is None:
        return {}
    return {_text_key(index.article_list[a].text[s:e]): index.part_vectors[row]
            for row, (a, s, e) in enumerate(index.sentences.tolist())}


def _embed_parts(embedder: Embedder, articles: list[Article], sentences: np.ndarray,
                 cache: dict[str, np.ndarray], progress: bool) -> tuple[np.ndarray, int]:
    """Each sentence encoded on its own by the part model; returns (vectors, embedded).

    Unlike the main model's sentence vectors (pooled from the chunk's pass, for
    free), these cost a pass per sentence: a second model that sees the sentence
    alone matches a question's clause to its one-sentence fact better than the
    main model alone (README, "A second model for the parts").
    """
    texts = [articles[a].text[s:e] for a, s, e in sentences.tolist()]
    keys = [_text_key(t) for t in texts]
    todo = sorted({k: r for r, k in enumerate(keys) if k not in cache}.values())
    bar = progress_bar(len(todo), "sentence") if progress and todo else None
    # In slices: a model's token states for every sentence at once would take gigabytes.
    for lo in range(0, len(todo), 1024):
        rows = todo[lo: lo + 1024]
        for r, v in zip(rows, embedder.encode([texts[r] for r in rows]), strict=True):
            cache[keys[r]] = v
        if bar is not None:
            bar.update(len(rows))
    if bar is not None:
        bar.close()
    vectors = (np.stack([cache[k] for k in keys]).astype(np.float16) if keys
               else np.zeros((0, embedder.dimension), dtype=np.float16))
    return vectors, len(todo)


def _embed(
    embedder: Embedder,
    articles: list[Article],
    chunks: list[Chunk],
    sentences: np.ndarray,
    cache: dict[str, np.ndarray],
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Chunk and sentence vectors; returns (chunks, sentences, embedded, reused).

    A sentence inside a chunk gets its vector from that chunk's forward pass
    (the mean of its contextual token embeddings), so sentences cost no extra
    model calls; the rare sentence that straddles chunks is encoded on its own.
    """
    owner = _containing_chunks(chunks, sentences, articles)
    spans: list[list[tuple[int, int]]] = [[] for _ in chunks]
    keys: list[str] = []
    for (a, s, e), i in zip(sentences.tolist(), owner, strict=True):
        if i >= 0:
            c = chunks[i]
            spans[i].append((s - c.start, e - c.start))
            keys.append(_sentence_key(c.text, s - c.start, e - c.start))
        else:
            keys.append(_text_key(articles[a].text[s:e]))
    chunk_keys = [_text_key(c.text) for c in chunks]
    todo = [i for i, c in enumerate(chunks)
            if chunk_keys[i] not in cache or any(
                _sentence_key(c.text, s, e) not in cache for s, e in spans[i])]
    if todo:
        vecs, span_vecs = embedder.encode_with_spans(
            [chunks[i].text for i in todo], [spans[i] for i in todo], progress=progress)
        for i, v, sv in zip(todo, vecs, span_vecs, strict=True):
            cache[chunk_keys[i]] = v
            for (s, e), row in zip(spans[i], sv, strict=True):
                cache[_sentence_key(chunks[i].text, s, e)] = row
    orphans = sorted({k: r for r, k in enumerate(keys) if k not in cache}.values())
    if orphans:
        texts = [articles[a].text[s:e] for a, s, e in sentences[orphans].tolist()]
        for r, v in zip(orphans, embedder.encode(texts), strict=True):
            cache[keys[r]] = v
    dim = embedder.dimension
    chunk_vectors = (np.stack([cache[k] for k in chunk_keys]).astype(np.float32) if chunks
                     else np.zeros((0, dim), dtype=np.float32))
    sentence_vectors = (np.stack([cache[k] for k in keys]).astype(np.float32) if keys
                        else np.zeros((0, dim), dtype=np.float32))
    return (np.ascontiguousarray(chunk_vectors), sentence_vectors, len(todo) + len(orphans),
            len(chunks) - len(todo))


def _write_error(root: Path, exc: OSError) -> RagError:
    reason = exc.strerror or str(exc)
    return RagError(
        f"cannot write the index at {root} ({reason}); the previous index, if any, is "
        "untouched: free some space or fix the folder's permissions and build again"
    )


def _fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (best effort where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _current_name(root: Path) -> str | None:
    try:
        return (root / CURRENT).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _sentence_rows(articles: list[Article]) -> np.ndarray:
    rows: list[tuple[int, int, int]] = []
    for i, article in enumerate(articles):
        for block_start, block_end in kept_blocks(article.text, article.dropped):
            rows.extend((i, s, e) for s, e in split_sentences(article.text, block_start, block_end))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def build_from_articles(
    articles: list[Article],
    index_dir: str | Path,
    *,
    config: Config | None = None,
    progress: bool = True,
    problems: list[Problem] | None = None,
    on_stage: Callable[[str, float], None] | None = None,
) -> BuildReport:
    """Chunk, embed and write ``articles`` as the new live build of ``index_dir``."""
    import faiss

    config = config or Config()
    root = Path(index_dir)
    started = time.perf_counter()
    stage = on_stage or (lambda name, frac: None)
    with _build_lock(root):
        embedder = get_embedder(config.model)
        stage("chunking", 0.0)
        chunker = Chunker.for_tokenizer(embedder.tokenizer, config.chunk_tokens,
                                        config.chunk_overlap)
        articles = sorted(articles, key=lambda a: (a.published or "", a.id))
        chunks = [c for a in articles for c in chunker.chunk(a)]
        sentences = _sentence_rows(articles)

        earlier = _previous_index(root)
        cache = _previous_vectors(earlier, config.model, embedder.dimension)
        stage("embedding", 0.1)
        embed_started = time.perf_counter()
        chunk_vectors, sentence_vectors32, embedded, reused = _embed(
            embedder, articles, chunks, sentences, cache, progress)
        part_vectors: np.ndarray | None = None
        part_embedded = 0
        if config.part_model:
            stage("embedding sentences for question parts", 0.5)
            part_vectors, part_embedded = _embed_parts(
                get_embedder(config.part_model), articles, sentences,
                _previous_part_vectors(earlier, config.part_model), progress)
        del earlier  # its vectors are copied; free them before writing
        embed_seconds = time.perf_counter() - embed_started
        dim = embedder.dimension
        sentence_vectors = sentence_vectors32.astype(np.float16)

        stage("writing", 0.9)
        flat = faiss.IndexFlatIP(dim)
        flat.add(chunk_vectors)
        built_at = datetime.now(UTC).isoformat(timespec="seconds")
        corpus_hash = hashlib.sha256(
            "\n".join(sorted(a.id for a in articles)).encode()).hexdigest()[:16]
        build_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{corpus_hash[:8]}-{os.getpid()}"
        builds = root / BUILDS
        try:
            builds.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _write_error(root, exc) from exc
        # The same corpus rebuilt within a second (reused vectors make that quick)
        # must not collide with the build it replaces.
        unique, n = build_id, 1
        while (builds / unique).exists():
            n += 1
            unique = f"{build_id}-{n}"
        build_id = unique
        tmp = builds / f".tmp-{build_id}"
        try:
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir()
        except OSError as exc:
            raise _write_error(root, exc) from exc
        try:
            payloads: dict[str, bytes] = {
                "articles.jsonl": "".join(json.dumps(a.to_dict(), ensure_ascii=False) + "\n"
                                          for a in articles).encode("utf-8"),
                "chunks.jsonl": "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n"
                                        for c in chunks).encode("utf-8"),
                "chunks.faiss": faiss.serialize_index(flat).tobytes(),
            }
            for name, data in payloads.items():
                (tmp / name).write_bytes(data)
            np.save(tmp / "chunk_vectors.npy", chunk_vectors, allow_pickle=False)
            np.save(tmp / "sentences.npy", sentences, allow_pickle=False)
            np.save(tmp / "sentence_vectors.npy", sentence_vectors, allow_pickle=False)
            files = list(_FILES)
            if part_vectors is not None:
                np.save(tmp / PART_VECTORS, part_vectors, allow_pickle=False)
                files.append(PART_VECTORS)
            seconds = time.perf_counter() - started
            span = sorted(a.published[:10] for a in articles if a.published)
            manifest = {
                "format_version": FORMAT_VERSION,
                "rag_version": __version__,
                "build_id": build_id,
                "model": config.model,
                "dimension": dim,
                "settings": config.build_settings(),
                "chunking": {
                    "splitter": "langchain_text_splitters.RecursiveCharacterTextSplitter",
                    "max_tokens": config.chunk_tokens,
                    "overlap_tokens": config.chunk_overlap,
                    "tokenizer": config.model,
                },
                "similarity": "inner product over L2-normalised vectors (cosine)",
                "sentence_vectors": SENTENCE_VECTORS,
                "corpus_hash": corpus_hash,
                "counts": {
                    "articles": len(articles),
                    "chunks": len(chunks),
                    "sentences": len(sentences),
                    "dropped_lines": sum(len(a.dropped) for a in articles),
                },
                "sources": sorted({a.source for a in articles if a.source}),
                "date_span": [span[0], span[-1]] if span else None,
                "built_at": built_at,
                "build_seconds": round(seconds, 3),
                "files": {name: {"bytes": (tmp / name).stat().st_size} for name in files},
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            for name in (*files, MANIFEST):
                with open(tmp / name, "rb") as handle:
                    os.fsync(handle.fileno())
            final = builds / build_id
            os.replace(tmp, final)
            _fsync_dir(builds)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise _write_error(root, exc) from exc
            raise
        previous = _current_name(root)
        try:
            _write_atomic(root / CURRENT, (build_id + "\n").encode())
            _fsync_dir(root)
        except OSError as exc:
            raise _write_error(root, exc) from exc
        _collect_garbage(builds, keep={build_id, previous})
        for stale in root.glob(f"{CURRENT}.tmp-*"):  # left by a build killed while swapping
            stale.unlink(missing_ok=True)
        stage("done", 1.0)
    dropped = {a.id: [(d.reason, a.text[d.start:d.end]) for d in a.dropped]
               for a in articles if a.dropped}
    return BuildReport(
        index_dir=root, build_dir=final, articles=len(articles), chunks=len(chunks),
        sentences=len(sentences), embedded=embedded, reused=reused,
        seconds=time.perf_counter() - started, embed_seconds=embed_seconds,
        part_embedded=part_embedded,
        problems=list(problems or []), dropped=dropped,
    )


def _collect_garbage(builds: Path, keep: set[str | None]) -> None:
    # The previous build is kept so that a reader who resolved CURRENT just
    # before the swap can still finish loading it.
    for entry in builds.iterdir():
        if entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)


def build_index(
    paths: Iterable[str | Path],
    index_dir: str | Path,
    *,
    config: Config | None = None,
    progress: bool = True,
) -> BuildReport:
    """Load the articles under ``paths`` and build the index at ``index_dir``.

    Unchanged chunks keep their vectors from the previous build (same model), so
    a rebuild embeds only what changed. Files that cannot be read are skipped and
    listed in ``BuildReport.problems``.
    """
    loaded: LoadResult = load_articles(paths)
    return build_from_articles(loaded.articles, index_dir, config=config, progress=progress,
                               problems=loaded.problems)


@dataclass(frozen=True)
class FileResult:
    """What happened to one file given to :func:`add_files`."""

    path: str
    status: str  # "added", "duplicate" or "rejected"
    reason: str = ""
    article_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "reason": self.reason,
                "article_ids": list(self.article_ids)}


def add_files(
    index_dir: str | Path,
    files: Iterable[str | Path],
    *,
    config: Config | None = None,
    progress: bool = False,
    on_stage: Callable[[str, float], None] | None = None,
) -> tuple[list[FileResult], BuildReport | None]:
    """Add article files to the index at ``index_dir`` (created if missing).

    Existing articles keep their vectors, so only the new text is embedded.
    Adding the same content twice is a no-op: same text, same id. Returns one
    ``FileResult`` per file and the build report (None when nothing was added).
    """
    from .articles import load_file
    from .errors import ArticleError

    root = Path(index_dir)
    try:
        current = load_index(root)
        existing = list(current.article_list)
        config = config or Config.from_dict(
            manifest_settings(current.manifest))
    except IndexNotFoundError:
        existing = []
    known = {a.id: a.path or a.id for a in existing}
    results: list[FileResult] = []
    new: list[Article] = []
    problems: list[Problem] = []
    for f in files:
        path = Path(f)
        try:
            articles, file_problems = load_file(path)
        except ArticleError as exc:
            results.append(FileResult(str(path), "rejected", str(exc).removeprefix(f"{path}: ")))
            continue
        problems.extend(file_problems)
        fresh: list[Article] = []
        repeats: list[Problem] = []
        for a in articles:  # a JSON file can hold a body twice, or one already indexed
            if a.id in known:
                repeats.append(Problem(a.path or str(path), f"duplicate of {known[a.id]}"))
                continue
            known[a.id] = a.path or str(path)
            fresh.append(a)
        if fresh:  # (a file with nothing new is reported whole, as "duplicate")
            problems.extend(repeats)
        new.extend(fresh)
        if fresh:
            results.append(FileResult(str(path), "added", "", tuple(a.id for a in fresh)))
        else:
            results.append(FileResult(str(path), "duplicate", "same text is already indexed",
                                      tuple(a.id for a in articles)))
    if not new:
        return results, None
    report = build_from_articles(existing + new, root, config=config, progress=progress,
                                 problems=problems, on_stage=on_stage)
    return results, report
