"""Benchmark: embedding throughput of the build in-process and on Ray with 1 and 2 workers.

Run:  .venv/bin/python benchmarks/bench_ray_build.py [--chunks N] [--repeats R] [--json OUT]

Chunks MultiHop-RAG articles (../shared/datasets/multihop-rag/corpus.json) with the
index's own chunker, then embeds the first N chunks, with the sentence spans the
build pools, three ways: the in-process model (what ``rag build`` does) and a
local Ray instance with 1 and with 2 workers (what ``rag build --ray`` does).
Model loading and Ray start-up are excluded (timed separately): on a cluster they
are paid once per worker, not per chunk. Reports the median chunks/s over the
repeats. A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "datasets" / "multihop-rag" / "corpus.json"


def chunk_texts(n: int) -> tuple[list[str], list[list[tuple[int, int]]]]:
    from rag.articles import load_articles
    from rag.chunks import Chunker
    from rag.config import Config
    from rag.embeddings import get_embedder
    from rag.sentences import split_sentences

    config = Config()
    chunker = Chunker.for_tokenizer(get_embedder(config.model).tokenizer, config.chunk_tokens,
                                    config.chunk_overlap)
    texts: list[str] = []
    spans: list[list[tuple[int, int]]] = []
    for article in load_articles([CORPUS]).articles:
        for chunk in chunker.chunk(article):
            texts.append(chunk.text)
            spans.append([(s - chunk.start, e - chunk.start) for s, e in
                          split_sentences(article.text, chunk.start, chunk.end)])
            if len(texts) == n:
                return texts, spans
    return texts, spans


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    from rag.config import Config
    from rag.embeddings import get_embedder
    from rag.ray_embed import RayEncoder

    model = Config().model
    texts, spans = chunk_texts(args.chunks)
    rows = []
    embedder = get_embedder(model)
    started = time.perf_counter()
    embedder.warm_up()
    load_s = time.perf_counter() - started
    runs = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        embedder.encode_with_spans(texts, spans)
        runs.append(len(texts) / (time.perf_counter() - started))
    rows.append({"how": "in-process", "workers": 1, "start_s": round(load_s, 1),
                 "chunks_per_s": round(statistics.median(runs), 1)})
    for workers in (1, 2):
        started = time.perf_counter()
        with RayEncoder(model, workers=workers) as encoder:
            encoder.encode_with_spans(texts[:workers], spans[:workers])  # models loaded
            start_s = time.perf_counter() - started
            runs = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                encoder.encode_with_spans(texts, spans)
                runs.append(len(texts) / (time.perf_counter() - started))
        rows.append({"how": "ray", "workers": workers, "start_s": round(start_s, 1),
                     "chunks_per_s": round(statistics.median(runs), 1)})
    print(f"machine: {describe()}; {len(texts)} chunks of MultiHop-RAG, model {model}, "
          f"median of {args.repeats}")
    print("| build | workers | start (s) | chunks/s |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['how']} | {r['workers']} | {r['start_s']} | {r['chunks_per_s']} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": describe(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
