"""MultiHop-RAG runner: the paper's retrieval metrics, stricter ones, answers, abstention.

Dataset: Yixuan Tang and Yi Yang, "MultiHop-RAG: Benchmarking Retrieval-Augmented
Generation for Multi-Hop Queries", COLM 2024 (arXiv 2401.15391), licensed ODC-BY.

Per query we call ``search(k=10)`` once (retrieval metrics) and ``ask()`` once
(answers, abstention, citations), on one loaded index. Retrieval is scored
exactly like the paper's evaluation script (github.com/yixuantt/MultiHop-RAG,
``retrieval_evaluate.py``, see ``metrics.multihop_query_score``) over the
non-null queries; a BM25-only baseline (bm25s) over the very same chunk texts is
scored in the same run.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import metrics as m

if TYPE_CHECKING:
    from rag.config import Config

CREDIT = (
    'MultiHop-RAG: Yixuan Tang and Yi Yang, "MultiHop-RAG: Benchmarking Retrieval-Augmented '
    'Generation for Multi-Hop Queries", COLM 2024 (arXiv 2401.15391); data licensed ODC-BY.'
)
QUESTION_TYPES = ("inference_query", "comparison_query", "temporal_query", "null_query")
NULL_TYPE = "null_query"
#: Gold answers an extractive, quote-only answer cannot state; left out of answer
#: accuracy (a "no" would also match inside any "not" or "know").
BOOLEAN_ANSWERS = frozenset({"yes", "no", "true", "false"})

#: The paper's retrieval figures as given in the dataset's README (top 10 chunks of
#: 256 tokens, null queries left out). ``None``: not stated there.
PUBLISHED: list[dict[str, Any]] = [
    {
        "system": "paper: best embedding model alone",
        "hits@4": None, "hits@10": 0.7059, "map@10": None, "mrr@10": 0.5477,
    },
    {
        "system": "paper: best embedding + bge-reranker-large",
        "hits@4": 0.6625, "hits@10": 0.7467, "map@10": None, "mrr@10": 0.5860,
    },
]


def default_dataset_dir() -> Path:
    """``$RAG_MULTIHOP_DIR``, else ``shared/datasets/multihop-rag`` beside the checkout."""
    env = os.environ.get("RAG_MULTIHOP_DIR")
    if env:
        return Path(env).expanduser()
    candidates = [
        Path(__file__).resolve().parents[3] / "shared" / "datasets" / "multihop-rag",
        Path.cwd().parent / "shared" / "datasets" / "multihop-rag",
        Path.cwd() / "shared" / "datasets" / "multihop-rag",
    ]
    for c in candidates:
        if (c / "queries.json").is_file():
            return c
    return candidates[0]


def load_dataset(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(corpus, queries)`` from ``folder``; ``FileNotFoundError`` names what is missing."""
    files = {name: folder / f"{name}.json" for name in ("corpus", "queries")}
    for path in files.values():
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found; point --dataset (or $RAG_MULTIHOP_DIR) at the "
                "MultiHop-RAG folder holding corpus.json and queries.json"
            )
    corpus = json.loads(files["corpus"].read_text(encoding="utf-8"))
    queries = json.loads(files["queries"].read_text(encoding="utf-8"))
    return corpus, queries


def select_corpus(
    corpus: Sequence[dict[str, Any]],
    queries: Sequence[dict[str, Any]],
    corpus_limit: int | None,
) -> list[int]:
    """Positions of the corpus articles to index.

    All of them without ``corpus_limit``. With it: every article a sampled query
    cites as evidence, then other articles in corpus order until ``corpus_limit``
    articles are selected (more if the queries alone need more).
    """
    if corpus_limit is None:
        return list(range(len(corpus)))
    needed = {e["url"] for q in queries for e in q.get("evidence_list") or ()}
    chosen = [i for i, a in enumerate(corpus) if a.get("url") in needed]
    taken = set(chosen)
    for i in range(len(corpus)):
        if len(chosen) >= corpus_limit:
            break
        if i not in taken:
            chosen.append(i)
            taken.add(i)
    return sorted(chosen)


def is_scored_answer(gold: str) -> bool:
    """Whether a gold answer takes part in answer accuracy (not a yes/no/true/false)."""
    return m.normalize_answer(gold) not in BOOLEAN_ANSWERS


def bm25_top10(chunk_texts: Sequence[str], questions: Sequence[str]) -> list[list[int]]:
    """BM25 (bm25s defaults, English stopwords) top-10 chunk positions for each question."""
    import bm25s
    import numpy as np

    if not chunk_texts or not questions:
        return [[] for _ in questions]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(list(chunk_texts), stopwords="en", show_progress=False),
                    show_progress=False)
    q_tokens = bm25s.tokenize(list(questions), stopwords="en", show_progress=False)
    k = min(10, len(chunk_texts))
    docs, scores = retriever.retrieve(q_tokens, k=k, show_progress=False)
    out: list[list[int]] = []
    for row, row_scores in zip(np.asarray(docs), np.asarray(scores), strict=True):
        # Zero-score "matches" share no term with the question: not retrieved.
        out.append([int(d) for d, s in zip(row, row_scores, strict=True) if s > 0])
    return out


def _retrieval_block(
    scores: Sequence[m.MultihopQueryScore], types: Sequence[str]
) -> dict[str, Any]:
    by_type = {
        t: m.multihop_summary([s for s, qt in zip(scores, types, strict=True) if qt == t])
        for t in QUESTION_TYPES
        if t != NULL_TYPE and t in types
    }
    return {
        "overall": m.multihop_summary(scores),
        "by_type": by_type,
        "hits_curve": [m.mean(float(s.hits_at(k)) for s in scores) for k in range(1, 11)],
    }


def _answer_block(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Answer accuracy, citation precision and false abstentions over non-null records."""
    scored = [r for r in records if r["answer_scored"]]
    answered = [r for r in scored if not r["abstained"]]
    n_cites = sum(r["n_citations"] for r in records)
    return {
        "n": len(records),
        "n_scored": len(scored),
        "accuracy": m.mean(float(r["answer_correct"]) for r in scored),
        "accuracy_when_answered": m.mean(float(r["answer_correct"]) for r in answered),
        "citations": n_cites,
        "citation_precision": (
            sum(r["citations_on_gold"] for r in records) / n_cites if n_cites else None
        ),
        "false_abstention_rate": m.mean(float(r["abstained"]) for r in records),
    }


def run_multihop(
    *,
    limit: int | None,
    index: str | Path | None,
    config: Config,
    cache_dir: Path | None = None,
    corpus_limit: int | None = None,
    dataset_dir: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run MultiHop-RAG and return the JSON-ready results (no files written)."""
    from tqdm import tqdm

    import rag
    from rag.records import Article

    from .cache import open_index, peak_memory_mb, sha256_file

    run_started = time.perf_counter()
    folder = dataset_dir or default_dataset_dir()
    corpus, queries = load_dataset(folder)
    positions = m.evenly_spaced(len(queries), limit)
    picked = [queries[i] for i in positions]
    chosen = select_corpus(corpus, picked, corpus_limit)
    subset = len(chosen) < len(corpus)
    digest = sha256_file(folder / "corpus.json")
    extra = {"articles": hashlib.sha256(json.dumps(chosen).encode()).hexdigest()} if subset else {}

    def write_corpus(target: Path) -> list[Path]:
        if not subset:
            return [folder / "corpus.json"]
        path = target / "corpus.json"
        path.write_text(json.dumps([corpus[i] for i in chosen], ensure_ascii=False),
                        encoding="utf-8")
        return [path]

    handle = open_index(
        name="multihop-subset" if subset else "multihop", corpus_digest=digest,
        write_corpus=write_corpus, config=config, index=index, cache_dir=cache_dir,
        extra_key=extra, progress=progress,
    )
    idx = handle.index
    url_to_id = {a["url"]: Article.make_id(a["body"]) for a in corpus}
    article_texts = {aid: a.text for aid, a in idx.articles.items()}

    records: list[dict[str, Any]] = []
    scores: list[m.MultihopQueryScore] = []
    score_types: list[str] = []
    search_ms: list[float] = []
    ask_ms: list[float] = []
    violations: list[m.VerbatimViolation] = []
    n_citations = 0
    bar = tqdm(list(zip(positions, picked, strict=True)), desc="multihop", unit="q",
               disable=not progress, dynamic_ncols=True)
    for pos, q in bar:
        question, qtype = q["query"], q["question_type"]
        t0 = time.perf_counter()
        hits = rag.search(question, k=10, index=idx, config=config)
        t1 = time.perf_counter()
        answer = rag.ask(question, index=idx, config=config)
        t2 = time.perf_counter()
        search_ms.append((t1 - t0) * 1000)
        ask_ms.append((t2 - t1) * 1000)
        cites = [(c.n, c.quote, c.article_id, c.start, c.end) for c in answer.citations]
        bad = m.find_verbatim_violations(question, cites, article_texts)
        violations.extend(bad)
        n_citations += len(cites)
        facts = [e["fact"] for e in q.get("evidence_list") or ()]
        rec: dict[str, Any] = {
            "position": pos,
            "type": qtype,
            "question": question,
            "gold_answer": q["answer"],
            "abstained": answer.abstained,
            "confidence": answer.confidence,
            "n_citations": len(cites),
            "search_ms": round(search_ms[-1], 2),
            "ask_ms": round(ask_ms[-1], 2),
            "verbatim_violations": len(bad),
        }
        if qtype != NULL_TYPE and facts:
            s = m.multihop_query_score([h.text for h in hits], facts)
            scores.append(s)
            score_types.append(qtype)
            gold_ids = {url_to_id[e["url"]] for e in q["evidence_list"] if e["url"] in url_to_id}
            good, _ = m.citation_precision([c.article_id for c in answer.citations], gold_ids)
            rec.update(
                first_hit_rank=s.first_hit_rank,
                average_precision=round(s.average_precision, 6),
                facts_found=s.facts_found,
                n_facts=s.n_facts,
                answer_scored=is_scored_answer(q["answer"]),
                answer_correct=(not answer.abstained) and m.answer_contains(
                    [q["answer"]], answer.text, [c.quote for c in answer.citations]
                ),
                citations_on_gold=good,
            )
        records.append(rec)
        nulls = [r for r in records if r["type"] == NULL_TYPE]
        bar.set_postfix(
            h10=f"{m.mean(float(s.hits_at(10)) for s in scores) or 0:.3f}",
            mrr=f"{m.mean(s.reciprocal_rank for s in scores) or 0:.3f}",
            null_abst=f"{m.mean(float(r['abstained']) for r in nulls) or 0:.2f}",
        )
    bar.close()

    # BM25-only baseline over the same chunk texts, on the same non-null queries.
    scored_qs = [q for q in picked if q["question_type"] != NULL_TYPE and q.get("evidence_list")]
    bm25_started = time.perf_counter()
    chunk_texts = [c.text for c in idx.chunks]
    bm25_ranked = bm25_top10(chunk_texts, [q["query"] for q in scored_qs])
    bm25_scores = [
        m.multihop_query_score(
            [chunk_texts[i] for i in ranked], [e["fact"] for e in q["evidence_list"]]
        )
        for q, ranked in zip(scored_qs, bm25_ranked, strict=True)
    ]
    bm25_seconds = time.perf_counter() - bm25_started

    non_null = [r for r in records if r["type"] != NULL_TYPE]
    nulls = [r for r in records if r["type"] == NULL_TYPE]
    answers_by_type = {
        t: _answer_block([r for r in non_null if r["type"] == t])
        for t in QUESTION_TYPES
        if t != NULL_TYPE and any(r["type"] == t for r in non_null)
    }
    abstention = m.abstention_scores(
        [r["abstained"] for r in records], [r["type"] != NULL_TYPE for r in records]
    ).to_dict()
    abstention["null_abstention_rate"] = m.mean(float(r["abstained"]) for r in nulls)
    return {
        "set": "multihop",
        "title": "MultiHop-RAG" + (" (SUBSET CORPUS: smoke run, not comparable)" if subset else ""),
        "credit": CREDIT,
        "dataset_dir": str(folder),
        "corpus_sha256": digest,
        "corpus_articles_indexed": len(chosen),
        "corpus_articles_total": len(corpus),
        "corpus_limit": corpus_limit,
        "n_questions_total": len(queries),
        "n_questions": len(picked),
        "limit": limit,
        "settings": config.to_dict(),
        "index": idx.info(),
        "index_settings": idx.manifest.get("settings"),
        "retrieval": {
            "ours": _retrieval_block(scores, score_types),
            "bm25": _retrieval_block(bm25_scores, [q["question_type"] for q in scored_qs]),
            "bm25_seconds": bm25_seconds,
        },
        "published": PUBLISHED,
        "answers": {
            "overall": _answer_block(non_null),
            "by_type": answers_by_type,
            "abstention": abstention,
            "verbatim": {
                "citations": n_citations,
                "verbatim_share": (
                    (n_citations - len(violations)) / n_citations if n_citations else None
                ),
                "violations": [v.to_dict() for v in violations],
            },
        },
        "cost": {
            **handle.cost(),
            "search_ms_p50": m.percentile(search_ms, 50),
            "search_ms_p95": m.percentile(search_ms, 95),
            "ask_ms_p50": m.percentile(ask_ms, 50),
            "ask_ms_p95": m.percentile(ask_ms, 95),
            "peak_memory_mb": peak_memory_mb(),
            "run_seconds": time.perf_counter() - run_started,
        },
        "latency_ms": {"search": search_ms, "ask": ask_ms},
        "records": records,
    }
