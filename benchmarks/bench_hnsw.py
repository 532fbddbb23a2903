"""Benchmark: HNSW recall@10 against exact search, by efSearch, on a built index.

Run:  .venv/bin/python benchmarks/bench_hnsw.py INDEX [--ef 64,128,256] [--questions 200]
                                               [--fast static|hashed] [--build]

Encodes MultiHop-RAG questions (../shared/datasets/multihop-rag, ODC-BY) with the index's
model, or with bench_scale's fast encoder (``--fast``, for the corpora it made), finds
each question's exact scores by one product over all chunk vectors, and reports the
HNSW search's recall@10 at each efSearch (with ties, and by ids: see recall.py), with
the time a search takes. With
``--build`` (for an exact index) an HNSW graph with the build's parameters is made
first. A benchmark, not a test: it asserts nothing.
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

import numpy as np
from machine import describe
from recall import recall_at

from rag.index_format import HNSW_EF_CONSTRUCTION, HNSW_M

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "multihop-rag"


def main() -> int:
    import faiss

    import rag
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index")
    parser.add_argument("--ef", default="64,128,256")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--fast", choices=("static", "hashed"),
                        help="encode the questions as bench_scale's fast embedder did")
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--m", type=int, default=HNSW_M, help="graph degree, with --build")
    parser.add_argument("--ef-construction", type=int, default=HNSW_EF_CONSTRUCTION)
    args = parser.parse_args()
    index = rag.load_index(args.index)
    vectors = index.chunk_vectors
    graph = index.faiss
    ann = index.manifest.get("faiss") or {}
    m, efc = ann.get("M"), ann.get("efConstruction")
    built_s = None
    if args.build or not index.approximate:
        m, efc = args.m, args.ef_construction
        graph = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = efc
        started = time.perf_counter()
        graph.add(np.ascontiguousarray(vectors, dtype=np.float32))
        built_s = round(time.perf_counter() - started, 1)
    queries = [q["query"] for q in json.loads((DATASET / "queries.json").read_text())]
    queries = queries[:: max(1, len(queries) // args.questions)][: args.questions]
    if args.fast:
        from bench_scale import FAST

        encode = FAST[args.fast]().encode_query
    else:
        encode = index.embedder().encode_query
    q = np.stack([encode(x) for x in queries]).astype(np.float32)
    scores = np.empty((len(q), len(vectors)), dtype=np.float32)
    for lo in range(0, len(vectors), 100_000):  # in slices: the vectors are memory-mapped
        scores[:, lo:lo + 100_000] = q @ np.asarray(vectors[lo:lo + 100_000]).T
    print(f"machine: {describe()}")
    print(f"{len(vectors)} chunks, HNSW M {m}, efConstruction {efc}"
          + (f" (graph built in {built_s} s)" if built_s is not None else "")
          + f"; {len(q)} questions ({args.fast or index.model})")
    for ef in (int(e) for e in args.ef.split(",")):
        graph.hnsw.efSearch = ef
        started = time.perf_counter()
        _, found = graph.search(q, 10)
        ms = (time.perf_counter() - started) / len(q) * 1000
        pairs = [recall_at(s, f) for s, f in zip(scores, found, strict=True)]
        print(json.dumps({"efSearch": ef,
                          "recall_at_10": round(float(np.mean([t for _, t in pairs])), 4),
                          "recall_at_10_ids": round(float(np.mean([i for i, _ in pairs])), 4),
                          "ms_per_search": round(ms, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
