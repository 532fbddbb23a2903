"""Benchmark: rag on corpora of 10k, 100k and 1M chunks made from real news text.

Run:  .venv/bin/python benchmarks/bench_scale.py [--sizes 10000,100000,1000000]
                                                [--real-up-to 10000] [--questions 200]
                                                [--fast static|hashed]
                                                [--json OUT] [--keep DIR]

Each corpus is made from MultiHop-RAG's articles (../shared/datasets/multihop-rag,
ODC-BY): new articles of about four chunks, each a run of paragraphs drawn at random
(seeded) from the real articles, with a real outlet and date, and a new id (its text
differs). Sizes up to ``--real-up-to`` chunks are embedded with the real model
(all-MiniLM-L6-v2); larger ones with a fast embedder (``--fast``), since the real model
embeds about 25 chunks/s on 2 cores (1M chunks would take about 11 hours):

- ``static`` (the default): the mean of the real model's own token embeddings, centred
  (:class:`StaticEncoder`), about 2,000 chunks/s;
- ``hashed``: character trigrams hashed into 384 dimensions (:class:`HashEncoder`),
  about 13,000 chunks/s, but its vectors are far harder for HNSW than any model's, so
  its recall says little about a real archive.

Questions to ``search()``/``ask()`` are always encoded by the real model, so on a
fast-embedded corpus the answers mean nothing, but the work per question is the same;
ANN recall there is measured with the questions embedded as its chunks were.

Per size, a fresh process loads the index and reports: build seconds, disk MB, RSS
after load, load seconds, ``search()`` and ``ask()`` p50/p95 over ``--questions``
MultiHop-RAG queries, and ANN recall@10 of the FAISS index against exact search
(1.0 for the exact flat index of small corpora), counted with ties at the 10th score as
ann-benchmarks does (``ann_recall_at_10``; the corpora repeat chunks, so the exact top
10's choice among tied copies is arbitrary) and by ids (``ann_recall_at_10_ids``;
see recall.py). Prints one JSON object per size and
a table. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from machine import describe

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "datasets" / "multihop-rag"
CHARS_PER_CHUNK = 1_000  # about 256 MiniLM tokens of news English
CHUNKS_PER_ARTICLE = 4
ARTICLES_PER_FILE = 20_000  # about 85 MB a file
DIM = 384


def make_corpus(n_chunks: int, out: Path, seed: int = 7) -> int:
    """Write about ``n_chunks`` chunks' worth of new articles into the folder ``out``, as
    JSON-lines files of ``ARTICLES_PER_FILE`` articles (rag reads files of up to 210 MB);
    the number of articles."""
    corpus = json.loads((DATASET / "corpus.json").read_text(encoding="utf-8"))
    paragraphs = [p.strip() for a in corpus for p in re.split(r"\n\s*\n|\n", a["body"])
                  if len(p.strip()) > 80]
    meta = [(a["source"], a["published_at"]) for a in corpus]
    rng = random.Random(seed)
    n_articles = max(1, n_chunks // CHUNKS_PER_ARTICLE)
    out.mkdir(parents=True, exist_ok=True)
    for first in range(0, n_articles, ARTICLES_PER_FILE):
        with (out / f"news-{first // ARTICLES_PER_FILE:04d}.jsonl").open(
                "w", encoding="utf-8") as handle:
            for i in range(first, min(n_articles, first + ARTICLES_PER_FILE)):
                body: list[str] = []
                while sum(len(p) for p in body) < CHUNKS_PER_ARTICLE * CHARS_PER_CHUNK * 0.9:
                    body.append(paragraphs[rng.randrange(len(paragraphs))])
                source, published = meta[rng.randrange(len(meta))]
                title = f"Report {i}: " + " ".join(body[0].split()[:8])
                handle.write(json.dumps({"title": title, "body": "\n\n".join(body),
                                         "source": source, "published_at": published}) + "\n")
    return n_articles


class _Fast:
    """What rag's build asks of an encoder, from one ``_pass`` over a batch of texts
    that gives their vectors and, when asked, their spans' vectors (in order)."""

    def _pass(self, texts: list[str], spans: list[list[tuple[int, int]]] | None
              ) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self._pass(list(texts), None)[0] if texts else np.zeros((0, DIM), np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def encode_with_spans(self, texts: list[str], spans: list[list[tuple[int, int]]], *,
                          progress: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        if not texts:
            return np.zeros((0, DIM), np.float32), []
        vectors, pooled = self._pass(list(texts), spans)
        out, at = [], 0
        for sp in spans:
            out.append(pooled[at:at + len(sp)] if pooled is not None and sp
                       else np.zeros((len(sp), DIM), np.float32))
            at += len(sp)
        return vectors, out


class HashEncoder(_Fast):
    """Character trigrams hashed into ``DIM`` signed dimensions, normalised: fast (numpy
    over whole batches of text, no Python per word), deterministic, meaningless.

    A text's vector is the sum over its trigrams; a span's (``encode_with_spans``) the
    sum over the trigrams inside it, from the same pass: each character position is
    labelled with its text, or its span, and one ``bincount`` adds them all up.
    """

    @staticmethod
    def _slots(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = codes[:-2] * 1_000_003 + codes[1:-1] * 10_007 + codes[2:]
        return h % DIM, np.where((h // DIM) & 1, 1.0, -1.0)

    @staticmethod
    def _sum(labels: np.ndarray, slots: np.ndarray, signs: np.ndarray, n: int) -> np.ndarray:
        keep = labels >= 0
        v = np.bincount(labels[keep] * DIM + slots[keep], weights=signs[keep],
                        minlength=n * DIM).reshape(n, DIM).astype(np.float32)
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(norms > 0, norms, 1.0)

    def _pass(self, texts: list[str],
              spans: list[list[tuple[int, int]]] | None) -> tuple[np.ndarray, np.ndarray | None]:
        lengths = np.array([len(t) for t in texts], dtype=np.int64)
        # UTF-32: one code per character, so span offsets index it directly.
        codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        if len(codes) < 3:
            return np.zeros((len(texts), DIM), np.float32), None
        slots, signs = self._slots(codes)
        text_of = np.repeat(np.arange(len(texts)), lengths)
        # A trigram belongs to a text (or span) when all three characters do.
        same = text_of[:-2] == text_of[2:]
        vectors = self._sum(np.where(same, text_of[:-2], -1), slots, signs, len(texts))
        if spans is None:
            return vectors, None
        first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        flat = [(first[i] + a, first[i] + b) for i, sp in enumerate(spans) for a, b in sp]
        span_of = np.full(len(codes), -1, dtype=np.int64)
        for j, (a, b) in enumerate(flat):  # spans of one text do not overlap
            span_of[a:b] = j
        inside = (span_of[:-2] >= 0) & (span_of[:-2] == span_of[2:])
        pooled = self._sum(np.where(inside, span_of[:-2], -1), slots, signs, len(flat))
        return vectors, pooled


class StaticEncoder(_Fast):
    """A static embedder from the real model's own token table: a text's vector is the
    mean of all-MiniLM-L6-v2's input embeddings of its WordPiece tokens, less their mean
    over a sample of news text, normalised. No network is run, so it embeds thousands of
    chunks a second.

    Its vectors share the real model's vocabulary geometry: on 4,000 of the benchmark's
    chunks (benchmarks/ann_proxy.py), HNSW recall@10 at three strengths was 0.629 /
    0.852 / 0.993 for these vectors, 0.745 / 0.905 / 0.997 for the real model's and
    0.264 / 0.497 / 0.926 for the hashed encoder's: harder than the real model's, at
    least at that size. Uncentred, the means all point one way (mean cosine 0.97 between
    random chunks; recall 0.393 / 0.633 / 0.960 there, yet easier than centred at 1M).
    """

    def __init__(self) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        from rag.embeddings import resolve_model_path

        folder = resolve_model_path("all-MiniLM-L6-v2")
        weights = load_file(str(folder / "model.safetensors"))
        self._table = next(v for k, v in weights.items()
                           if k.endswith("word_embeddings.weight")).astype(np.float32)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()  # padding tokens would swamp a short text's mean
        # The centre: the mean of the raw (not yet centred or normalised) means.
        self._centre: np.ndarray | None = None
        corpus = json.loads((DATASET / "corpus.json").read_text(encoding="utf-8"))
        sample = [a["body"][i:i + CHARS_PER_CHUNK] for a in corpus[:300]
                  for i in range(0, len(a["body"]), CHARS_PER_CHUNK)]
        self._centre = self._pass(sample, None)[0].mean(axis=0)

    def _pass(self, texts: list[str], spans: list[list[tuple[int, int]]] | None
              ) -> tuple[np.ndarray, np.ndarray | None]:
        import scipy.sparse as sparse

        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        counts = np.array([len(e.ids) for e in encodings], dtype=np.int64)
        ids = np.fromiter((t for e in encodings for t in e.ids), dtype=np.int64,
                          count=int(counts.sum()))
        text_of = np.repeat(np.arange(len(texts)), counts)

        def mean(labels: np.ndarray, n: int) -> np.ndarray:
            keep = labels >= 0
            bag = sparse.csr_matrix((np.ones(int(keep.sum()), np.float32),
                                     (labels[keep], ids[keep])), shape=(n, len(self._table)))
            sizes = np.asarray(bag.sum(axis=1)).ravel()
            v = np.asarray(bag @ self._table) / np.maximum(sizes, 1)[:, None]
            if self._centre is None:
                return v.astype(np.float32)
            v -= self._centre
            v[sizes == 0] = 0.0
            norms = np.linalg.norm(v, axis=1, keepdims=True)
            return (v / np.where(norms > 0, norms, 1.0)).astype(np.float32)

        vectors = mean(text_of, len(texts))
        if spans is None:
            return vectors, None
        # A token belongs to the span that holds all of its characters (a text's spans
        # are its sentences: in order, not overlapping). Offsets are made global by
        # placing each text after the previous one.
        offsets = np.fromiter((x for e in encodings for o in e.offsets for x in o),
                              dtype=np.int64, count=2 * len(ids)).reshape(-1, 2)
        base = np.concatenate([[0], np.cumsum([len(t) + 1 for t in texts])])
        flat = np.array([(base[i] + a, base[i] + b) for i, sp in enumerate(spans)
                         for a, b in sp], dtype=np.int64).reshape(-1, 2)
        at = len(flat)
        starts, ends = offsets[:, 0] + base[text_of], offsets[:, 1] + base[text_of]
        j = np.searchsorted(flat[:, 0], starts, side="right") - 1
        ok = j >= 0
        ok[ok] = ends[ok] <= flat[j[ok], 1]
        span_of = np.where(ok, j, -1)
        return vectors, mean(span_of, at)


FAST = {"static": StaticEncoder, "hashed": HashEncoder}


def disk_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


CHILD = r"""
import json, statistics, sys, time
import numpy as np
import rag
t0 = time.perf_counter()
index = rag.load_index(sys.argv[1])
index.bm25()  # BM25 files are opened on first use: count them in the load
load_s = time.perf_counter() - t0
# The peak of this process's own memory (VmHWM): ru_maxrss would carry over the
# building parent's peak across exec.
rss_mb = next(int(l.split()[1]) for l in open("/proc/self/status")
              if l.startswith("VmHWM")) / 1024
questions = json.loads(sys.argv[2])
rag.ask("warm-up question about trade", index=index)
search, ask = [], []
for q in questions:
    t = time.perf_counter()
    rag.search(q, index=index, k=10)
    search.append(time.perf_counter() - t)
    t = time.perf_counter()
    rag.ask(q, index=index)
    ask.append(time.perf_counter() - t)
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, round(p * (len(v) - 1)))]
recall = recall_ids = 1.0
if index.approximate:
    vectors = index.chunk_vectors
    # Recall is measured with questions embedded as the chunks were: by the fast
    # encoder on a fast-embedded corpus (real-model questions against its chunks are
    # out of distribution, the case HNSW handles worst, and would say little).
    sys.path.insert(0, sys.argv[4])
    from recall import recall_at
    encode = index.embedder().encode_query
    if sys.argv[3] != "real":
        from bench_scale import FAST
        encode = FAST[sys.argv[3]]().encode_query
    pairs = []
    for q in questions:
        v = encode(q)
        _, ids = index.faiss.search(v.reshape(1, -1).astype("float32"), 10)
        pairs.append(recall_at(np.asarray(vectors @ v), ids[0]))
    recall_ids = statistics.mean(i for i, _ in pairs)
    recall = statistics.mean(t for _, t in pairs)
print(json.dumps({"load_s": round(load_s, 2), "rss_mb": round(rss_mb),
                  "search_p50_ms": round(statistics.median(search) * 1000, 1),
                  "search_p95_ms": round(pct(search, 0.95) * 1000, 1),
                  "ask_p50_ms": round(statistics.median(ask) * 1000, 1),
                  "ask_p95_ms": round(pct(ask, 0.95) * 1000, 1),
                  "ann_recall_at_10": round(recall, 4),
                  "ann_recall_at_10_ids": round(recall_ids, 4)}))
"""


def run_size(n: int, fast: str | None, questions: list[str], work: Path) -> dict[str, object]:
    """Build and measure one size; ``fast`` names the fast embedder (None: the real model)."""
    import rag

    corpus = work / f"corpus-{n}"
    n_articles = make_corpus(n, corpus)
    index_dir = work / f"index-{n}"
    started = time.perf_counter()
    report = rag.build_index([corpus], index_dir, progress=False,
                             encoder=None if fast is None else FAST[fast]())
    build_s = time.perf_counter() - started
    child = subprocess.run([sys.executable, "-c", CHILD, str(index_dir), json.dumps(questions),
                            fast or "real", str(Path(__file__).resolve().parent)],
                           capture_output=True, text=True, check=True)
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    return {"chunks": report.chunks, "articles": n_articles, "sentences": report.sentences,
            "embedder": "all-MiniLM-L6-v2" if fast is None else f"{fast} (timing, recall)",
            "build_s": round(build_s, 1), "disk_mb": round(disk_mb(index_dir), 1),
            **measured}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--real-up-to", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--fast", choices=sorted(FAST), default="static",
                        help="the embedder of sizes above --real-up-to")
    parser.add_argument("--json", metavar="OUT")
    parser.add_argument("--keep", metavar="DIR", help="keep corpora and indexes here")
    args = parser.parse_args()
    queries = [q["query"] for q in json.loads((DATASET / "queries.json").read_text())]
    step = max(1, len(queries) // args.questions)
    questions = queries[::step][: args.questions]
    print(f"machine: {describe()}", flush=True)
    rows = []
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            row = run_size(n, None if n <= args.real_up_to else args.fast, questions, work)
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    head = ("chunks", "embedder", "build_s", "disk_mb", "rss_mb", "load_s", "search_p50_ms",
            "ask_p50_ms", "ask_p95_ms", "ann_recall_at_10", "ann_recall_at_10_ids")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(str(row[h]) for h in head) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": describe(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
