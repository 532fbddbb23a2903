"""The ``rag`` command: build, ask, search, info (and eval, serve)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import RagError
from .version import __version__

if TYPE_CHECKING:
    from .records import Citation, Hit


def _print_build(report: object, verbose: bool) -> None:
    from .build import BuildReport

    assert isinstance(report, BuildReport)
    print(
        f"indexed {report.articles} articles as {report.chunks} chunks "
        f"({report.sentences} sentences) in {report.seconds:.1f}s "
        f"({report.chunks_per_second:.1f} chunks/s; embedded {report.embedded}, "
        f"reused {report.reused}; sentences encoded for question parts "
        f"{report.part_embedded}) -> {report.index_dir}"
    )
    for problem in report.problems:
        print(f"  {problem}", file=sys.stderr)
    if verbose:
        for article_id, lines in report.dropped.items():
            print(f"  dropped from {article_id}:")
            for reason, line in lines:
                print(f"    [{reason}] {line[:100]}")


def _cmd_build(args: argparse.Namespace) -> int:
    from .api import default_corpus_paths, default_index_dir
    from .build import build_index
    from .config import Config

    index_dir = Path(args.index) if args.index else default_index_dir()
    paths = args.paths or default_corpus_paths(index_dir)
    config = Config(chunk_tokens=args.chunk_tokens, chunk_overlap=args.chunk_overlap,
                    part_model=args.part_model, store=args.store)
    if args.ray is None:
        report = build_index(paths, index_dir, config=config, progress=not args.quiet)
    else:
        from .ray_embed import RayEncoder

        with RayEncoder(config.model, address=args.ray or None,
                        workers=args.ray_workers) as encoder:
            report = build_index(paths, index_dir, config=config, progress=not args.quiet,
                                 encoder=encoder)
    _print_build(report, args.verbose)
    return 0


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {"sources": args.source or None, "since": args.since, "until": args.until}


def _cmd_ask(args: argparse.Namespace) -> int:
    from .api import ask

    if args.verbose:
        # Says how questions are encoded, and lets models' loading bars show.
        logging.basicConfig(format="%(name)s: %(message)s", stream=sys.stderr)
        logging.getLogger("rag").setLevel(logging.INFO)
    answer = ask(args.question, k=args.k, index=args.index, **_filters(args))
    if args.verbose:
        timings = ", ".join(f"{stage} {ms:.0f} ms" for stage, ms in answer.timings_ms.items())
        print(f"rag: answered in {timings}", file=sys.stderr)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(answer.text)
    if answer.abstained:
        if answer.reason:
            print(f"Why: {answer.reason}")
        if answer.hits:
            print("\nClosest passages (they do not answer the question):")
            for hit in answer.hits[:3]:
                print(f"  - {_label(hit)}: {hit.text[:160]!r}")
        return 0
    print()
    for c in answer.citations:
        print(f"[{c.n}] {_label(c)} (chars {c.start}-{c.end})")
    return 0


def _label(item: Hit | Citation) -> str:
    """Outlet, title and date of a hit or citation, as a reader is shown them;
    never an article id (a hash means nothing to a reader)."""
    title = item.title or "title not stated"
    return f"{item.source_label}, “{title}”, {item.date_label}"


def _cmd_search(args: argparse.Namespace) -> int:
    from .api import search

    hits = search(args.question, k=args.k, index=args.index, **_filters(args))
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("no passages match (check the filters)")
    for hit in hits:
        reread = "" if hit.rerank_score is None else f" reranked {hit.rerank_score:+.2f}"
        print(f"{hit.rank:>2}. [{hit.score:.4f}{reread}] {_label(hit)} "
              f"(chars {hit.start}-{hit.end})")
        print(f"    {' '.join(hit.text.split())[:240]}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from .api import get_index

    print(json.dumps(get_index(args.index).info(), indent=2, ensure_ascii=False))
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    from .api import default_index_dir
    from .update import remove_articles

    index_dir = Path(args.index) if args.index else default_index_dir()
    removed, report = remove_articles(index_dir, args.targets, progress=not args.quiet)
    for item in removed:
        print(f"removed {len(item.article_ids)} article(s) for {item.target}")
    if report is not None:
        _print_build(report, verbose=False)
    return 0


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", action="append", metavar="OUTLET",
                   help="only this outlet (repeat for several)")
    p.add_argument("--since", metavar="DATE", help="only articles published on or after DATE")
    p.add_argument("--until", metavar="DATE", help="only articles published on or before DATE")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``rag`` argument parser; ``command`` is the subcommand about to be parsed
    (None: any), so that heavy ones are set up only when used."""
    parser = argparse.ArgumentParser(
        prog="rag", description="Offline, citation-first answers from news articles.")
    parser.add_argument("--version", action="version", version=f"rag {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="index articles (default: the bundled ones)")
    p.add_argument("paths", nargs="*", help="files or folders of .txt/.md/.html/.json/.jsonl")
    p.add_argument("--index", metavar="DIR", help="index folder (default: the bundled index)")
    p.add_argument("--chunk-tokens", type=int, default=256)
    p.add_argument("--chunk-overlap", type=int, default=32)
    p.add_argument("--part-model", metavar="NAME", default=None,
                   help="also encode every sentence with this second model for the parts "
                        "of several-part questions, e.g. bge-small-en-v1.5 (slower to build)")
    p.add_argument("--store", metavar="URI", default=None,
                   help="where candidates are searched: files (default for a new index), "
                        "milvus:///path/to/file.db (Milvus Lite) or milvus://host:19530")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="embed on Ray: a local instance, or the cluster at ADDRESS "
                        "(e.g. ray://head:10001)")
    p.add_argument("--ray-workers", type=int, default=2, metavar="N",
                   help="Ray workers, one model each (default 2)")
    p.add_argument("--verbose", "-v", action="store_true", help="list dropped boilerplate")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("ask", help="answer a question with cited quotes")
    p.add_argument("question")
    p.add_argument("--index", metavar="DIR")
    p.add_argument("-k", type=int, default=None, help="passages to retrieve")
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="say on stderr how the question was encoded and how long each "
                        "stage took (and show models' loading bars)")
    _add_filters(p)
    p.set_defaults(func=_cmd_ask)

    p = sub.add_parser("search", help="list the passages that best match a question")
    p.add_argument("question")
    p.add_argument("--index", metavar="DIR")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--json", action="store_true")
    _add_filters(p)
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser("remove", help="take articles out of the index (no full rebuild)")
    p.add_argument("targets", nargs="+", metavar="PATH|ID",
                   help="an indexed file or folder, or an article id (or its first 6+ characters)")
    p.add_argument("--index", metavar="DIR")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_remove)

    p = sub.add_parser("info", help="describe an index")
    p.add_argument("--index", metavar="DIR")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("calibrate", help="measure the composer's weights and threshold")
    p.add_argument("--seed", metavar="FILE",
                   help="seed questions (default: eval/seed_questions.jsonl)")
    p.add_argument("--offtopic", metavar="FILE",
                   help="off-topic questions (default: eval/offtopic_questions.jsonl)")
    p.add_argument("--write", action="store_true", help="update rag/data/calibration.json")
    p.add_argument("--model", metavar="NAME",
                   help="calibrate for this embedding model (default: the default model)")
    p.set_defaults(func=lambda a: __import__("rag.calibrate").calibrate.run(a))

    try:
        from .evaluation import add_eval_arguments, eval_main
    except ImportError:
        pass
    else:
        p = sub.add_parser("eval", help="run the seed or MultiHop-RAG benchmark")
        add_eval_arguments(p)
        p.set_defaults(func=eval_main)

    # The chat imports Gradio (seconds): only for `rag serve` itself (or a parser
    # for every command, command=None), so that `rag ask` starts fast.
    if _installed("gradio") and _installed("ui"):
        p = sub.add_parser("serve", help="open the chat in a browser")
        if command in (None, "serve"):
            from ui.app import add_serve_arguments, serve_main

            add_serve_arguments(p)
            p.set_defaults(func=serve_main)
    return parser


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names (its first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    argv = sys.argv[1:] if argv is None else list(argv)
    # No subcommand (`rag --help`, `rag --version`): the list of commands needs no Gradio.
    args = build_parser(_command(argv) or "").parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
