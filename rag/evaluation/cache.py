"""Indexes for evaluation: cached by code, settings and corpus, and what their build cost.

Kept apart from the package's ``__init__`` so that the runners (``seed``,
``multihop``, ``report``) import it without importing the package that imports them.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.config import Config
    from rag.index import Index

#: Bump when the cache layout or what it stores changes.
_CACHE_FORMAT = 1


def package_version() -> str:
    """The installed ``rag`` version, or ``"unknown"``."""
    from rag.version import __version__

    return __version__ or "unknown"


def cache_root() -> Path:
    """Where evaluation indexes are cached: ``$RAG_EVAL_CACHE``, else ``~/.cache/rag/eval``."""
    env = os.environ.get("RAG_EVAL_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rag" / "eval"


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB (``ru_maxrss``)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


#: The modules whose code decides what a build writes. Question-time modules
#: (retrieval, the composer) are left out, so changing them reuses the index.
BUILD_MODULES = ("articles", "build", "chunks", "clean", "embeddings", "index", "index_format",
                 "packages", "records", "sentences", "text")


def code_digest() -> str:
    """Hash of the source of ``BUILD_MODULES``: a build made by other code is another build.

    The version string alone stays the same while the code under it changes (a
    change to cleaning or chunking must not be measured on an index the old code
    built).
    """
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for name in BUILD_MODULES:
        path = root / f"{name}.py"
        if path.is_file():
            h.update(name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def cache_key(corpus_digest: str, config: Config, extra: dict[str, Any] | None = None) -> str:
    """Hash of package version and code + build settings + corpus digest (+ ``extra``)."""
    payload = {
        "cache_format": _CACHE_FORMAT,
        "rag_version": package_version(),
        "code": code_digest(),
        "settings": config.build_settings(),
        "corpus": corpus_digest,
        "extra": extra or {},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class IndexHandle:
    """A loaded index and how it came to be (for the report's cost section)."""

    index: Index
    path: Path
    #: "built" (this run), "cached" (earlier eval run), or "given" (``--index``).
    origin: str
    build_seconds: float | None
    chunks: int
    chunks_per_second: float | None
    load_seconds: float

    def cost(self) -> dict[str, Any]:
        """JSON-ready build cost, saying where the numbers come from."""
        return {
            "index_path": str(self.path),
            "index_origin": self.origin,
            "build_seconds": self.build_seconds,
            "chunks": self.chunks,
            "chunks_per_second": self.chunks_per_second,
            "index_load_seconds": self.load_seconds,
        }


def open_index(
    *,
    name: str,
    corpus_digest: str,
    write_corpus: Callable[[Path], list[Path]],
    config: Config,
    index: str | Path | None = None,
    cache_dir: Path | None = None,
    extra_key: dict[str, Any] | None = None,
    progress: bool = True,
) -> IndexHandle:
    """Load ``index`` if given; else reuse or build the cached evaluation index.

    ``write_corpus(folder)`` returns the paths to pass to ``build_index`` (it may
    write a corpus file into ``folder``). The build's timing is stored next to
    the cached index so a later run can still report it (marked "cached").
    """
    import rag
    from rag.errors import RagError

    build_index, load_index = rag.build_index, rag.load_index
    if index is not None:
        started = time.perf_counter()
        idx = load_index(index)
        load_s = time.perf_counter() - started
        built = idx.manifest.get("build_seconds")
        n_chunks = len(idx.chunks)
        return IndexHandle(
            idx, Path(index), "given", built, n_chunks,
            n_chunks / built if built else None, load_s,
        )

    key = cache_key(corpus_digest, config, extra_key)
    folder = (cache_dir or cache_root()) / f"{name}-{key}"
    index_dir = folder / "index"
    stats_file = folder / "build.json"
    stats: dict[str, Any] | None = None
    if stats_file.is_file():
        try:
            stats = json.loads(stats_file.read_text(encoding="utf-8"))
            started = time.perf_counter()
            idx = load_index(index_dir, config=config)
            load_s = time.perf_counter() - started
            assert stats is not None
            return IndexHandle(
                idx, index_dir, "cached", stats.get("seconds"), len(idx.chunks),
                stats.get("chunks_per_second"), load_s,
            )
        except (RagError, OSError, ValueError) as exc:
            # A damaged or outdated cache is rebuilt, not trusted.
            print(f"rag eval: cached index at {index_dir} unusable ({exc}); rebuilding",
                  file=sys.stderr)
    folder.mkdir(parents=True, exist_ok=True)
    paths = write_corpus(folder)
    report = build_index(paths, index_dir, config=config, progress=progress)
    stats = {
        "seconds": report.seconds,
        "embed_seconds": report.embed_seconds,
        "chunks": report.chunks,
        "articles": report.articles,
        "chunks_per_second": report.chunks_per_second,
        "problems": [str(p) for p in report.problems],
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rag_version": package_version(),
    }
    stats_file.write_text(json.dumps(stats, indent=2), encoding="utf-8")
    started = time.perf_counter()
    idx = load_index(index_dir, config=config)
    load_s = time.perf_counter() - started
    return IndexHandle(
        idx, index_dir, "built", report.seconds, report.chunks, report.chunks_per_second, load_s
    )
