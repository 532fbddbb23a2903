"""The index's on-disk format: file names, the manifest and its checks, atomic writes.

Layout of an index folder::

    DIR/CURRENT                    name of the live build (replaced atomically)
    DIR/builds/<name>/manifest.json  model, dimension, chunking, versions, counts, files
    DIR/builds/<name>/articles.jsonl one Article per line (text verbatim)
    DIR/builds/<name>/chunks.jsonl   one Chunk per line
    DIR/builds/<name>/chunks.faiss   normalised chunk vectors in an inner-product index
                                     (flat, or HNSW above HNSW_ABOVE chunks)
    DIR/builds/<name>/sentences.npy, sentence_vectors.npy  quote candidates for the composer
    DIR/builds/<name>/part_vectors.npy  each sentence encoded on its own by the
                                     second model (``Config.part_model``), if any

A build is written into a temporary folder and only then made current, so a
crash leaves the previous index intact, and a reader sees one build or the
other, never a mix. No pickle anywhere. Building is :mod:`rag.build`; the
loaded index is :mod:`rag.index`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config
from .errors import CorruptIndexError, IndexMismatchError, IndexNotFoundError, RagError
from .records import Article, Chunk

FORMAT_VERSION = 1
CURRENT = "CURRENT"
BUILDS = "builds"
MANIFEST = "manifest.json"
FILES = (
    "articles.jsonl",
    "chunks.jsonl",
    "chunks.faiss",
    "sentences.npy",
    "sentence_vectors.npy",
)

#: The chunk vectors as their own file: written by builds before 2026-12-07 only.
#: Newer builds store them once, in ``chunks.faiss`` (flat or HNSW storage), and
#: the loader reads them from there, memory-mapped.
CHUNK_VECTORS = "chunk_vectors.npy"

#: Above this many chunks the FAISS index is HNSW (approximate), not exact flat:
#: a flat search costs one product over every vector (≈ 125 ms at 1M chunks on 2
#: cores), HNSW a few ms. Its recall@10 against exact is measured by
#: benchmarks/bench_scale.py and, by efSearch, benchmarks/bench_hnsw.py.
HNSW_ABOVE = 200_000
#: HNSW graph degree, construction and search depth (docs/scale-out.md). At 1M chunks
#: embedded by static proxies of the model (benchmarks/bench_scale.py), recall@10 with
#: efConstruction 200 at efSearch 512 / 1024 was 0.943 / 0.958 (uncentred proxy) and
#: 0.919 / 0.94 (centred), ~3 ms a search at 1024 (a few a question). Hashed vectors:
#: 0.82 at 512. Real vectors at 11.7k chunks: 0.993 at efConstruction 80 / efSearch 128.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
#: 512 since the seventh session: recall@10 with ties on the kept 1M graph was 0.9635
#: at 512 against 0.986 at 1024, for half the search time (~1.5 against ~3 ms).
HNSW_EF_SEARCH = 512

#: How sentence vectors are made; vectors made another way are not reused.
SENTENCE_VECTORS = "mean of the chunk's contextual token embeddings over the sentence"
#: The second model's sentence vectors (only when ``Config.part_model`` is set).
PART_VECTORS = "part_vectors.npy"
#: BM25 indexes (bm25s files) over the chunks and over the sentences, and the
#: chunks' word statistics, written at build time (older builds lack them).
BM25_CHUNKS = "bm25_chunks"
BM25_SENTENCES = "bm25_sentences"
IDF = "idf.json"


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def write_error(root: Path, exc: OSError) -> RagError:
    reason = exc.strerror or str(exc)
    return RagError(
        f"cannot write the index at {root} ({reason}); the previous index, if any, is "
        "untouched: free some space or fix the folder's permissions and build again"
    )


def fsync_dir(folder: Path) -> None:
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


def current_name(root: Path) -> str | None:
    try:
        return (root / CURRENT).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


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


def check_manifest_fields(manifest: dict[str, Any], where: Path, root: Path) -> None:
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


def manifest_settings(manifest: dict[str, Any]) -> dict[str, Any]:
    """The build settings a manifest records, with those an older build predates
    filled in as it was built (no part model before there was one)."""
    return {**Config().build_settings(), "part_model": None, **manifest.get("settings", {})}


def inconsistencies(
    manifest: dict[str, Any],
    articles: Sequence[Article],
    chunks: Sequence[Chunk],
    chunk_vectors: np.ndarray,
    faiss_index: Any,
    sentences: np.ndarray,
    sentence_vectors: np.ndarray,
    part_vectors: np.ndarray | None,
    columns: Any = None,
) -> list[str]:
    """What disagrees between the tables, the vectors and the manifest (empty if nothing).

    With ``columns`` (a large index's :class:`rag.tables.Columns`, records read on
    demand) the columns are checked whole, and chunk offsets on a sample of chunks.
    """
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
    if columns is None:
        texts = {a.id: a.text for a in articles}
        if len(texts) != len(articles):
            problems.append("an article appears twice in the article table")
        if any(c.article_id not in texts for c in chunks):
            problems.append("chunks refer to articles not in the article table")
        elif any(texts[c.article_id][c.start:c.end] != c.text for c in chunks):
            problems.append("chunk offsets do not match their articles' text")
        lengths = np.array([len(a.text) for a in articles], dtype=np.int64)
    else:
        problems.extend(_column_problems(articles, chunks, columns))
        lengths = np.asarray(columns.article_lengths, dtype=np.int64)
    offsets = getattr(columns, "sentence_offsets", None)
    if not problems and offsets is not None:
        problems.extend(_offset_problems(offsets, sentences, lengths))
    elif not problems and len(sentences):
        rows = np.asarray(sentences, dtype=np.int64)
        in_range = (rows[:, 0] >= 0) & (rows[:, 0] < len(articles))
        if not in_range.all() or np.any(np.diff(rows[:, 0]) < 0):
            problems.append("the sentence table refers to articles out of range or order")
        elif ((rows[:, 1] < 0) | (rows[:, 1] >= rows[:, 2])
              | (rows[:, 2] > lengths[rows[:, 0]])).any():
            problems.append("sentence offsets fall outside their articles' text")
    return problems



#: Chunks whose text is checked against their article's when loading a large index
#: (and articles whose sentences are checked): each is a random read, ~1 ms with the
#: pages cold, so 512 of each took over a second of a cold load at 1M chunks. A
#: mismatched table shows at every row, so a few dozen spread rows find it.
CHECKED_CHUNKS = 64


def _offset_problems(offsets: np.ndarray, sentences: np.ndarray, lengths: np.ndarray
                     ) -> list[str]:
    """A large index's sentence offsets checked whole, and its sentence table on the
    sentences of a sample of articles: reading all of it (7.8M rows at a million
    chunks) took most of a cold load. Sizes are checked against the manifest first."""
    if (offsets.shape != (len(lengths) + 1,) or (len(offsets) and (
            offsets[0] != 0 or offsets[-1] != len(sentences))) or np.any(np.diff(offsets) < 0)):
        return ["the sentence offsets do not match the sentence table"]
    for a in np.unique(np.linspace(0, len(lengths) - 1, min(len(lengths), CHECKED_CHUNKS))
                       .astype(np.int64)).tolist() if len(lengths) else []:
        rows = np.asarray(sentences[int(offsets[a]):int(offsets[a + 1])], dtype=np.int64)
        if len(rows) and (np.any(rows[:, 0] != a) or np.any(rows[:, 1] < 0)
                          or np.any(rows[:, 1] >= rows[:, 2]) or rows[:, 2].max() > lengths[a]):
            return ["the sentence table refers to articles out of range or order, or its "
                    "offsets fall outside their articles' text"]
    return []


def _column_problems(articles: Any, chunks: Any, columns: Any) -> list[str]:
    problems = []
    ids = columns.article_ids
    if len(ids) != len(articles) or len(columns.article_lengths) != len(articles) or len(
            columns.article_days) != len(articles) or len(columns.chunk_article) != len(chunks):
        return ["the tables' columns and records differ in length"]
    if len(np.unique(ids)) != len(ids):
        problems.append("an article appears twice in the article table")
    owner = columns.chunk_article
    if len(owner) and (owner.min() < 0 or owner.max() >= len(articles)):
        return [*problems, "chunks refer to articles not in the article table"]
    for i in np.unique(np.linspace(0, len(chunks) - 1, min(len(chunks), CHECKED_CHUNKS))
                       .astype(np.int64)).tolist() if len(chunks) else []:
        c, a = chunks[i], articles[int(owner[i])]
        if c.article_id != a.id or str(ids[int(owner[i])]) != a.id or (
                a.text[c.start:c.end] != c.text):
            problems.append("chunk offsets do not match their articles' text")
            break
    return problems


def sentence_key(chunk_text: str, start: int, end: int) -> str:
    return text_key(f"{chunk_text}\x1f{start}:{end}")


def containing_chunks(chunks: Sequence[Chunk], sentences: np.ndarray,
                      articles: Sequence[Article]) -> list[int]:
    """For each sentence row, the first chunk of its article that contains it (or -1)."""
    position = {a.id: i for i, a in enumerate(articles)}
    chunk_article = np.fromiter((position.get(c.article_id, -1) for c in chunks),
                                dtype=np.int64, count=len(chunks))
    starts = np.fromiter((c.start for c in chunks), dtype=np.int64, count=len(chunks))
    ends = np.fromiter((c.end for c in chunks), dtype=np.int64, count=len(chunks))
    found = first_containing(chunk_article, starts, ends, sentences)
    if found is not None:
        return found.tolist()
    by_article: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        by_article.setdefault(c.article_id, []).append(i)
    owner = []
    for a, s, e in sentences.tolist():
        hit = -1
        for i in by_article.get(articles[a].id, []):
            if chunks[i].start <= s and e <= chunks[i].end:
                hit = i
                break
        owner.append(hit)
    return owner


def in_window_order(chunk_article: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> bool:
    """Whether chunks come article by article, each article's in reading order with
    starts and ends both rising (how the chunker cuts: a window that slides on)."""
    if len(chunk_article) < 2:
        return bool(len(chunk_article) == 0 or chunk_article[0] >= 0)
    same = chunk_article[1:] == chunk_article[:-1]
    return bool(chunk_article[0] >= 0 and np.all(np.diff(chunk_article) >= 0)
                and np.all(~same | (np.diff(starts) >= 0)) and np.all(~same | (np.diff(ends) >= 0)))


def first_containing(chunk_article: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                     sentences: np.ndarray) -> np.ndarray | None:
    """:func:`containing_chunks` from arrays (each chunk's article position and span),
    by binary search: the first chunk of the sentence's article ending at or after it
    contains it if any does, since later chunks start later still. None when the chunks
    are not in window order (the caller then checks each chunk)."""
    if not len(sentences):
        return np.zeros(0, dtype=np.int64)
    if not len(starts):
        return np.full(len(sentences), -1, dtype=np.int64)
    if not in_window_order(chunk_article, starts, ends):
        return None
    a, s, e = (np.asarray(sentences[:, j], dtype=np.int64) for j in range(3))
    big = int(max(ends.max(), e.max())) + 1
    i = np.searchsorted(chunk_article * big + ends, a * big + e, side="left")
    j = np.minimum(i, len(starts) - 1)
    inside = (i < len(starts)) & (chunk_article[j] == a) & (starts[j] <= s)
    return np.where(inside, j, -1).astype(np.int64)


def sentences_in_chunks(chunk_article: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                        sentences: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The sentence rows each chunk overlaps, as (flat rows, start offset per chunk), by
    binary search: for sentences in :func:`in_window_order` a chunk's sentences are one
    run of rows, from the first ending after the chunk starts to the last starting
    before it ends. A chunk with none gets the row ``len(sentences)``. None when the
    sentences are not in that order (the caller then checks each chunk)."""
    none = len(sentences)
    a, s, e = (np.asarray(sentences[:, j], dtype=np.int64) for j in range(3))
    if not in_window_order(a, s, e):
        return None
    big = int(max(ends.max(initial=0), e.max(initial=0))) + 1
    lo = np.searchsorted(a * big + e, chunk_article * big + starts, side="right")
    hi = np.searchsorted(a * big + s, chunk_article * big + ends, side="left")
    count = np.maximum(hi - lo, 0)
    size = np.maximum(count, 1)
    offsets = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    owner = np.repeat(np.arange(len(starts)), size)
    flat = lo[owner] + (np.arange(int(size.sum())) - offsets[owner])
    flat[count[owner] == 0] = none
    return flat.astype(np.int64), offsets[:len(starts)]
