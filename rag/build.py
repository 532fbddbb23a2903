"""Building an index: chunk, embed (reusing the previous build's vectors by content)
and write a new build atomically; add files to an index incrementally.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .articles import LoadResult, Problem, load_articles
from .chunks import Chunker
from .clean import kept_blocks
from .config import Config
from .embeddings import Embedder, export_for_questions, get_embedder, progress_bar
from .errors import RagError
from .index import Index, lexical_indexes, load_index, save_lexical
from .index_format import (
    BUILDS,
    CURRENT,
    FILES,
    FORMAT_VERSION,
    HNSW_ABOVE,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    MANIFEST,
    PART_VECTORS,
    SENTENCE_VECTORS,
    containing_chunks,
    current_name,
    fsync_dir,
    sentence_key,
    text_key,
    write_atomic,
    write_error,
)
from .records import Article, Chunk
from .sentences import split_sentences
from .store import FILES as FILE_STORE
from .tables import write_tables
from .version import __version__


class Encoder(Protocol):
    """What the build needs to embed: an :class:`~rag.embeddings.Embedder`, or a
    :class:`~rag.ray_embed.RayEncoder` of the same model."""

    def encode_with_spans(self, texts: list[str], spans: list[list[tuple[int, int]]], *,
                          progress: bool = False) -> tuple[np.ndarray, list[np.ndarray]]: ...

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray: ...


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
        raise write_error(root, exc) from exc
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
    cache = {text_key(c.text): index.chunk_vectors[i] for i, c in enumerate(index.chunks)}
    owner = containing_chunks(index.chunks, index.sentences, index.article_list)
    for row, ((a, s, e), i) in enumerate(zip(index.sentences.tolist(), owner, strict=True)):
        if i >= 0:
            c = index.chunks[i]
            key = sentence_key(c.text, s - c.start, e - c.start)
        else:
            key = text_key(index.article_list[a].text[s:e])
        cache.setdefault(key, index.sentence_vectors[row])
    return cache


def _previous_part_vectors(index: Index | None, part_model: str) -> dict[str, np.ndarray]:
    """The current build's part vectors keyed by sentence text (each was encoded alone)."""
    if index is None or index.part_model != part_model or index.part_vectors is None:
        return {}
    return {text_key(index.article_list[a].text[s:e]): index.part_vectors[row]
            for row, (a, s, e) in enumerate(index.sentences.tolist())}


def _embed_parts(embedder: Embedder, articles: list[Article], sentences: np.ndarray,
                 cache: dict[str, np.ndarray], progress: bool) -> tuple[np.ndarray, int]:
    """Each sentence encoded on its own by the part model; returns (vectors, embedded).

    Unlike the main model's sentence vectors (pooled from the chunk's pass, for
    free), these cost a pass per sentence: a second model that sees the sentence
    alone matches a question's clause to its one-sentence fact better than the
    main model alone (docs/experiments.md, "A second model for the parts").
    """
    texts = [articles[a].text[s:e] for a, s, e in sentences.tolist()]
    keys = [text_key(t) for t in texts]
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
    encoder: Encoder | None = None,
    checkpoint: Callable[[dict[str, np.ndarray]], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Chunk (fp32) and sentence (fp16) vectors; returns (chunks, sentences, embedded,
    reused).

    A sentence inside a chunk gets its vector from that chunk's forward pass
    (the mean of its contextual token embeddings), so sentences cost no extra
    model calls; the rare sentence that straddles chunks is encoded on its own.
    ``encoder`` (e.g. a :class:`rag.ray_embed.RayEncoder` of the same model)
    does the encoding in place of ``embedder``. Chunks are embedded in groups of
    ``RESUME_EVERY``, each handed to ``checkpoint`` when done, so that a build
    that is interrupted can resume from what it had embedded. ``cache`` (vectors
    by content key, from the previous build and an interrupted one) is read,
    never grown: new vectors go straight into the two output arrays, so a build
    holds each vector once (a per-row dict of a million chunks' vectors did not
    fit in 24 GB).
    """
    run: Encoder = encoder if encoder is not None else embedder
    dim = embedder.dimension
    owner = containing_chunks(chunks, sentences, articles)
    spans: list[list[tuple[int, int]]] = [[] for _ in chunks]
    rows_of: list[list[int]] = [[] for _ in chunks]
    keys: list[str] = []
    for row, ((a, s, e), i) in enumerate(zip(sentences.tolist(), owner, strict=True)):
        if i >= 0:
            c = chunks[i]
            spans[i].append((s - c.start, e - c.start))
            rows_of[i].append(row)
            keys.append(sentence_key(c.text, s - c.start, e - c.start))
        else:
            keys.append(text_key(articles[a].text[s:e]))
    chunk_keys = [text_key(c.text) for c in chunks]
    chunk_vectors = np.empty((len(chunks), dim), dtype=np.float32)
    # fp16 from the start: a million chunks' six million sentences take 4.6 GB,
    # not 9.2 (and are rounded exactly as before, once).
    sentence_vectors = np.empty((len(keys), dim), dtype=np.float16)
    todo: list[int] = []
    for i in range(len(chunks)):
        found = cache.get(chunk_keys[i])
        inside = [cache.get(keys[r]) for r in rows_of[i]]
        if found is None or any(v is None for v in inside):
            todo.append(i)
            continue
        chunk_vectors[i] = found
        for r, v in zip(rows_of[i], inside, strict=True):
            sentence_vectors[r] = v
    bar = progress_bar(len(todo)) if progress and todo else None
    for lo in range(0, len(todo), RESUME_EVERY):
        group = todo[lo: lo + RESUME_EVERY]
        vecs, span_vecs = run.encode_with_spans(
            [chunks[i].text for i in group], [spans[i] for i in group])
        done: dict[str, np.ndarray] = {}
        for i, v, sv in zip(group, vecs, span_vecs, strict=True):
            chunk_vectors[i] = v
            done[chunk_keys[i]] = chunk_vectors[i]
            for r, row in zip(rows_of[i], np.asarray(sv, dtype=np.float16), strict=True):
                sentence_vectors[r] = row
                done[keys[r]] = sentence_vectors[r]
        if checkpoint is not None:
            checkpoint(done)
        if bar is not None:
            bar.update(len(group))
    if bar is not None:
        bar.close()
    # Sentences that straddle chunks: reused by key, else encoded alone (once per text).
    need: dict[str, list[int]] = {}
    for r in (r for r, i in enumerate(owner) if i < 0):
        if keys[r] in cache:
            sentence_vectors[r] = cache[keys[r]]
        else:
            need.setdefault(keys[r], []).append(r)
    if need:
        firsts = [rows[0] for rows in need.values()]
        texts = [articles[a].text[s:e] for a, s, e in sentences[firsts].tolist()]
        for rows, v in zip(need.values(), run.encode(texts), strict=True):
            sentence_vectors[rows] = v
    return chunk_vectors, sentence_vectors, len(todo) + len(need), len(chunks) - len(todo)


#: Chunks embedded between two checkpoints of an interrupted build's work.
RESUME_EVERY = 1024
#: Where a build keeps what it has embedded until it goes live (removed then).
RESUME = ".resume"


def _save_resume(root: Path, model: str, done: dict[str, np.ndarray]) -> None:
    """Keep a group of new vectors (keyed by content hash) for a build that resumes:
    chunk vectors as fp32, sentence vectors as the fp16 they are stored as."""
    if not done:
        return
    folder = root / RESUME
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{len(list(folder.glob('*.npz'))):06d}.npz"
    wide = [k for k, v in done.items() if v.dtype != np.float16]
    half = [k for k, v in done.items() if v.dtype == np.float16]
    dim = next(iter(done.values())).shape[-1]

    def rows(names: list[str], dtype: type) -> np.ndarray:
        return (np.stack([done[k] for k in names]).astype(dtype) if names
                else np.zeros((0, dim), dtype=dtype))

    tmp = part.with_suffix(".tmp.npz")
    np.savez(tmp, keys=np.array(wide, dtype=str), vectors=rows(wide, np.float32),
             half_keys=np.array(half, dtype=str), half_vectors=rows(half, np.float16),
             model=np.array(model))
    os.replace(tmp, part)


def _resume_vectors(root: Path, model: str, dim: int) -> dict[str, np.ndarray]:
    """The vectors an interrupted build of ``model`` had embedded (see ``_save_resume``);
    a damaged or foreign part is skipped (its chunks are embedded again)."""
    out: dict[str, np.ndarray] = {}
    for part in sorted((root / RESUME).glob("[0-9]*.npz")) if (root / RESUME).is_dir() else []:
        try:
            with np.load(part, allow_pickle=False) as data:
                if str(data["model"]) != model or data["vectors"].shape[1:] != (dim,):
                    continue
                found = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
                if "half_keys" in data.files:  # sentence vectors, fp16 (since 2026-12-07)
                    if data["half_vectors"].shape[1:] != (dim,):
                        continue
                    found.update(zip(data["half_keys"].tolist(), data["half_vectors"],
                                     strict=True))
                out.update(found)
        except (OSError, ValueError, KeyError):
            continue
    return out


def _faiss_index(vectors: np.ndarray, dim: int) -> tuple[Any, dict[str, Any]]:
    """The chunks' FAISS index, exact below ``HNSW_ABOVE`` chunks, HNSW above; its
    manifest record."""
    import faiss

    if len(vectors) <= HNSW_ABOVE:
        flat = faiss.IndexFlatIP(dim)
        flat.add(vectors)
        return flat, {"type": "flat"}
    hnsw = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    hnsw.add(vectors)
    return hnsw, {"type": "hnsw", "M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION,
                  "efSearch": HNSW_EF_SEARCH, "above_chunks": HNSW_ABOVE}


def _previous_store(index: Index | None) -> str:
    record = (index.manifest.get("store") if index is not None else None) or {}
    return str(record.get("uri") or FILE_STORE) if record.get("kind") == "milvus" else FILE_STORE


def _sync_store(uri: str, chunks: list[Chunk], vectors: np.ndarray, articles: list[Article],
                model: str) -> dict[str, str]:
    """Bring the build's store up to date with ``chunks``; its manifest record."""
    if uri == FILE_STORE:
        return {"kind": FILE_STORE}
    from .milvus_store import MilvusStore

    store = MilvusStore(uri)
    try:
        store.sync(chunks, vectors, {a.id: a for a in articles}, model)
        return store.record()
    finally:
        store.close()


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
    encoder: Encoder | None = None,
) -> BuildReport:
    """Chunk, embed and write ``articles`` as the new live build of ``index_dir``.

    ``encoder`` embeds in place of the model in this process (``rag build --ray``);
    it must be of ``config.model``. With ``config.store`` naming Milvus, the
    collection is brought up to date before the build goes live: if that fails,
    the previous build stays current (the chunks it holds are still in Milvus).
    """
    import faiss

    config = config or Config()
    root = Path(index_dir)
    if (root / MANIFEST).is_file():
        # A build folder (what Index.path names) is read-only: a build written
        # into it would be a second index that nothing loads.
        raise RagError(f"{root} is one build of the index at {root.parent.parent}, not an "
                       f"index folder; build into the index folder: rag build PATH --index "
                       f"{root.parent.parent}")
    started = time.perf_counter()
    stage = on_stage or (lambda name, frac: None)
    with _build_lock(root):
        embedder = get_embedder(config.model)
        stage("chunking", 0.0)
        chunker = Chunker.for_tokenizer(embedder.tokenizer, config.chunk_tokens,
                                        config.chunk_overlap)
        articles = sorted(articles, key=lambda a: (a.published or "", a.id))
        chunks = chunker.chunk_all(articles)
        sentences = _sentence_rows(articles)

        earlier = _previous_index(root)
        store_uri = config.store or _previous_store(earlier)
        cache = _previous_vectors(earlier, config.model, embedder.dimension)
        resumed = _resume_vectors(root, config.model, embedder.dimension)
        cache.update(resumed)
        stage("embedding", 0.1)
        embed_started = time.perf_counter()
        chunk_vectors, sentence_vectors, embedded, reused = _embed(
            embedder, articles, chunks, sentences, cache, progress, encoder,
            checkpoint=lambda done: _save_resume(root, config.model, done))
        part_vectors: np.ndarray | None = None
        part_embedded = 0
        if config.part_model:
            stage("embedding sentences for question parts", 0.5)
            part_vectors, part_embedded = _embed_parts(
                get_embedder(config.part_model), articles, sentences,
                _previous_part_vectors(earlier, config.part_model), progress)
        del earlier  # its vectors are copied; free them before writing
        # Once per model: questions to this index are then encoded without torch.
        export_for_questions(embedder)
        embed_seconds = time.perf_counter() - embed_started
        dim = embedder.dimension

        stage("writing", 0.9)
        flat, faiss_record = _faiss_index(chunk_vectors, dim)
        built_at = datetime.now(UTC).isoformat(timespec="seconds")
        corpus_hash = hashlib.sha256(
            "\n".join(sorted(a.id for a in articles)).encode()).hexdigest()[:16]
        build_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{corpus_hash[:8]}-{os.getpid()}"
        builds = root / BUILDS
        try:
            builds.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(root, exc) from exc
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
            raise write_error(root, exc) from exc
        try:
            # Written as they are made and each freed once on disk, so that the
            # word indexes, built last, do not add to the vectors' peak.
            tables = write_tables(tmp, articles, chunks, sentences)
            faiss.write_index(flat, str(tmp / "chunks.faiss"))
            del flat
            np.save(tmp / "sentences.npy", sentences, allow_pickle=False)
            np.save(tmp / "sentence_vectors.npy", sentence_vectors, allow_pickle=False)
            del sentence_vectors
            files = [*FILES, *(t for t in tables if t not in FILES)]
            if part_vectors is not None:
                np.save(tmp / PART_VECTORS, part_vectors, allow_pickle=False)
                files.append(PART_VECTORS)
                del part_vectors
            stage("indexing words", 0.85)
            files.extend(save_lexical(tmp, *lexical_indexes(chunks, sentences, articles)))
            store_record = _sync_store(store_uri, chunks, chunk_vectors, articles, config.model)
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
                "store": store_record,
                "faiss": faiss_record,
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
            fsync_dir(builds)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise write_error(root, exc) from exc
            raise
        previous = current_name(root)
        try:
            write_atomic(root / CURRENT, (build_id + "\n").encode())
            fsync_dir(root)
        except OSError as exc:
            raise write_error(root, exc) from exc
        _collect_garbage(builds, keep={build_id, previous})
        shutil.rmtree(root / RESUME, ignore_errors=True)  # embedded work is in the build now
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
    encoder: Encoder | None = None,
) -> BuildReport:
    """Load the articles under ``paths`` and build the index at ``index_dir``.

    Unchanged chunks keep their vectors from the previous build (same model), so
    a rebuild embeds only what changed. Files that cannot be read are skipped and
    listed in ``BuildReport.problems``.
    """
    loaded: LoadResult = load_articles(paths)
    return build_from_articles(loaded.articles, index_dir, config=config, progress=progress,
                               problems=loaded.problems, encoder=encoder)
