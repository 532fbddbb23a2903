"""Benchmark: MultiHop-RAG retrieval with every sentence scored against the candidate-only
path (``Config(scope=True)``, rag/scope.py), one after the other on one index.

Run:  .venv/bin/python benchmarks/bench_scope.py --index <MultiHop-RAG index> [--limit 600]
                                                [--json OUT]

A benchmark, not a test: it prints the metrics of both and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe

import rag
from rag.evaluation.multihop import run_multihop

METRICS = ("hits@4", "hits@10", "mrr@10", "evidence_recall@10", "all_evidence@10")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--limit", type=int, default=600)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    print(f"machine: {describe()}", flush=True)
    out = {}
    for name, cfg in (("exact", rag.Config(scope=False)), ("scoped", rag.Config(scope=True))):
        started = time.time()
        results = run_multihop(limit=args.limit, index=args.index, config=cfg, progress=False)
        overall = results["retrieval"]["ours"]["overall"]
        out[name] = {**{m: round(overall[m], 4) for m in METRICS},
                     "search_p50_ms": round(results["cost"]["search_ms_p50"], 1),
                     "ask_p50_ms": round(results["cost"]["ask_ms_p50"], 1),
                     "seconds": round(time.time() - started)}
        print(name, json.dumps(out[name]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": describe(), **out}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
