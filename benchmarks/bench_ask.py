"""Benchmark: index build time and chunks/s, then warm ask() latency p50/p95.

Run:  .venv/bin/python benchmarks/bench_ask.py [--questions N] [--index DIR] [--corpus PATH]
                                              [--multihop queries.json] [--set KEY=VALUE ...]

Builds an index of the bundled articles (or --corpus) in a temporary folder,
then asks N questions (the seed set's, cycled; or N distinct MultiHop-RAG queries,
evenly spaced, with --multihop) after one warm-up call. For the MultiHop-RAG
index: --index <its eval cache index> --multihop ../shared/datasets/multihop-rag/queries.json
(without --multihop, the seed set's short one-part questions, which the cross-encoder
reads, are asked of that index). --set changes a Config setting, e.g. rerank_depth=0.
A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
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
from rag.embeddings import get_embedder

REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--corpus", default=str(rag.bundled_corpus_dir()))
    parser.add_argument("--index", help="use this existing index instead of building one")
    parser.add_argument("--multihop", metavar="QUERIES_JSON",
                        help="ask distinct queries from this MultiHop-RAG queries.json")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a Config setting (JSON value), e.g. rerank_depth=0")
    args = parser.parse_args()
    config = rag.Config.from_dict(
        {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)})

    if args.multihop:
        queries = [q["query"] for q in json.loads(Path(args.multihop).read_text())]
        step = max(1, len(queries) // args.questions)
        questions = queries[::step][: args.questions]
    else:
        seed = [json.loads(line)["question"] for line in
                (REPO / "eval" / "seed_questions.jsonl").read_text().splitlines()
                if line.strip()]
        questions = [seed[i % len(seed)] for i in range(args.questions)]

    print(f"machine: {describe()}")
    print(f"settings: {args.set or 'defaults'}")
    started = time.perf_counter()
    get_embedder(rag.Config().model).warm_up()
    print(f"model load: {time.perf_counter() - started:.2f} s")

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(args.index) if args.index else Path(tmp) / "index"
        if not args.index:
            report = rag.build_index([args.corpus], index_dir, progress=False)
            print(f"build: {report.articles} articles, {report.chunks} chunks, "
                  f"{report.sentences} sentences in {report.seconds:.2f} s "
                  f"({report.chunks_per_second:.1f} chunks/s; embedding "
                  f"{report.embed_seconds:.2f} s for {report.embedded} texts)")
        index = rag.load_index(index_dir)
        rag.ask("warm-up question about trade", index=index, config=config)
        latencies = []
        abstained = 0
        for question in questions:
            t0 = time.perf_counter()
            answer = rag.ask(question, index=index, config=config)
            latencies.append((time.perf_counter() - t0) * 1000)
            abstained += answer.abstained
        print(f"ask(): {len(latencies)} questions, p50 {statistics.median(latencies):.1f} ms, "
              f"p95 {percentile(latencies, 0.95):.1f} ms, max {max(latencies):.1f} ms "
              f"({abstained} abstained)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
