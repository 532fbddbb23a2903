"""Which fast embedder stands in for the real model when measuring ANN recall at 1M chunks?

Run:  .venv/bin/python benchmarks/ann_proxy.py [--chunks 4000] [--questions 200]

bench_scale embeds its 1M-chunk corpus with a fast embedder (the real model would take
about 11 hours on 2 cores), so its ANN recall is the recall on that embedder's vectors.
That says something about a real archive only if those vectors are about as hard for
HNSW as the real model's. This embeds the same ``--chunks`` chunks of bench_scale's
corpus (MultiHop-RAG paragraphs, ODC-BY) with all-MiniLM-L6-v2 and with each fast
embedder, and prints, per embedder: the mean cosine of random chunk pairs, the mean
cosine of each question's 1st and 10th exact neighbours, how many of the real model's
top 10 it shares, and HNSW recall@10 against exact search at three strengths (weak
graphs separate the embedders; bench_scale's defaults are the last). A benchmark, not a
test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from bench_scale import CHARS_PER_CHUNK, DATASET, FAST, make_corpus
from machine import describe

#: (M, efConstruction, efSearch): weak, middling, and bench_scale's build defaults.
STRENGTHS = ((8, 20, 10), (16, 40, 16), (32, 200, 64))


def recall(x: np.ndarray, q: np.ndarray, m: int, ef_construction: int, ef: int) -> float:
    import faiss

    exact = np.argsort(-(q @ x.T), axis=1)[:, :10]
    graph = faiss.IndexHNSWFlat(x.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = ef_construction
    graph.add(x)
    graph.hnsw.efSearch = ef
    _, found = graph.search(q, 10)
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=4000)
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        make_corpus(args.chunks, Path(tmp))
        bodies = [json.loads(line)["body"] for f in sorted(Path(tmp).glob("*.jsonl"))
                  for line in f.read_text(encoding="utf-8").splitlines()]
    texts = [b[i:i + CHARS_PER_CHUNK] for b in bodies
             for i in range(0, len(b), CHARS_PER_CHUNK)][: args.chunks]
    queries = [q["query"] for q in json.loads((DATASET / "queries.json").read_text())]
    questions = queries[:: max(1, len(queries) // args.questions)][: args.questions]
    from rag.embeddings import get_embedder

    model = get_embedder("all-MiniLM-L6-v2")
    encoders = {"all-MiniLM-L6-v2": model, **{name: make() for name, make in FAST.items()}}
    print(f"machine: {describe()}; {len(texts)} chunks, {len(questions)} questions", flush=True)
    real_top: np.ndarray | None = None
    for name, encoder in encoders.items():
        x = np.asarray(encoder.encode(texts), dtype=np.float32)
        q = np.stack([encoder.encode_query(t) for t in questions]).astype(np.float32)
        scores = q @ x.T
        ranked = -np.sort(-scores, axis=1)
        top = np.argsort(-scores, axis=1)[:, :10]
        real_top = top if real_top is None else real_top
        shared = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top, real_top, strict=True)])
        half = len(x) // 2
        row = {"embedder": name, "random_pair_cos": round(float((x[:half] @ x[half:2 * half].T)
                                                                 .mean()), 3),
               "top1_cos": round(float(ranked[:, 0].mean()), 3),
               "top10_cos": round(float(ranked[:, 9].mean()), 3),
               "shares_real_top10": round(float(shared), 3),
               **{f"recall_M{m}_efC{c}_ef{e}": round(recall(x, q, m, c, e), 3)
                  for m, c, e in STRENGTHS}}
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
