"""Benchmark: MultiHop-RAG retrieval and ask() latency on the file store and on Milvus Lite.

Run:  .venv/bin/python benchmarks/bench_store.py --index <MultiHop-RAG index>
                                                [--limit N] [--questions 100] [--json OUT]

``--index`` is a file-store index of MultiHop-RAG's 609 articles (the one
``rag eval --set multihop`` caches and prints; or ``rag build
../shared/datasets/multihop-rag/corpus.json --index DIR``). The benchmark copies it and
rebuilds the copy with ``--store milvus:///<copy>/chunks.db`` (its vectors are reused, so
only the collection is written), then runs, on each store, one after the other: the
MultiHop-RAG retrieval metrics over the queries (all 2,556, or ``--limit`` spread evenly),
and warm ``ask()`` over ``--questions`` distinct queries. Prints a table, writes JSON. A
benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe

import rag
from rag.build import build_from_articles
from rag.evaluation.multihop import run_multihop
from rag.index_format import resolve_build

REPO = Path(__file__).resolve().parents[1]
QUERIES = REPO.parent / "shared" / "datasets" / "multihop-rag" / "queries.json"
METRICS = ("hits@10", "mrr@10", "evidence_recall@10")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def milvus_copy(source: Path, target: Path) -> tuple[Path, float]:
    """``source`` copied to ``target`` and rebuilt with a Milvus Lite store; build seconds."""
    shutil.copytree(source, target)
    index = rag.load_index(target)
    config = rag.Config.from_dict(
        {**index.manifest["settings"], "store": f"milvus://{target / 'chunks.db'}"})
    started = time.perf_counter()
    build_from_articles(list(index.article_list), target, config=config, progress=False)
    return target, time.perf_counter() - started


def measure(index_dir: Path, limit: int | None, questions: list[str]) -> dict[str, object]:
    config = rag.Config()
    results = run_multihop(limit=limit, index=index_dir, config=config, progress=False)
    overall = results["retrieval"]["ours"]["overall"]
    index = rag.load_index(index_dir)
    rag.ask("warm-up question about trade", index=index)
    latencies = []
    for question in questions:
        t0 = time.perf_counter()
        rag.ask(question, index=index)
        latencies.append((time.perf_counter() - t0) * 1000)
    store = index.manifest.get("store") or {"kind": "files"}
    close = getattr(index.store, "close", None)
    if close:
        close()
    return {"store": store["kind"], "queries": overall["n"],
            **{m: overall[m] for m in METRICS},
            "ask_p50_ms": round(statistics.median(latencies), 1),
            "ask_p95_ms": round(percentile(latencies, 0.95), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, help="a file-store MultiHop-RAG index")
    parser.add_argument("--limit", type=int, default=None, help="queries for the metrics")
    parser.add_argument("--questions", type=int, default=100, help="queries for ask() timing")
    parser.add_argument("--json", metavar="OUT", help="write the rows as JSON")
    args = parser.parse_args()
    source = Path(args.index)
    resolve_build(source)  # a clear error if there is no index there
    queries = [q["query"] for q in json.loads(QUERIES.read_text(encoding="utf-8"))]
    step = max(1, len(queries) // args.questions)
    questions = queries[::step][: args.questions]
    print(f"machine: {describe()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(measure(source, args.limit, questions))
        print(json.dumps(rows[-1]), flush=True)
        copy, seconds = milvus_copy(source, Path(tmp) / "milvus-index")
        print(f"Milvus Lite collection written in {seconds:.1f} s (vectors reused)")
        rows.append(measure(copy, args.limit, questions))
        print(json.dumps(rows[-1]), flush=True)
    head = ("store", "queries", *METRICS, "ask_p50_ms", "ask_p95_ms")
    print(" | ".join(head))
    for row in rows:
        print(" | ".join(str(row[h]) for h in head))
    delta = {m: round(float(rows[1][m]) - float(rows[0][m]), 4) for m in METRICS}  # type: ignore[arg-type]
    print(f"Milvus minus files: {delta}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": describe(), "rows": rows,
                                               "delta": delta}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
