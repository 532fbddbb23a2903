"""The seed set: hand-written questions over the five bundled articles.

Questions come from ``eval/seed_questions.jsonl``, one JSON object a line with
``id, question, type (fact|paraphrase|multi_article|unanswerable), answers,
article_ids, evidence (verbatim quotes), files``.

Per question we call ``search(k=10)`` once and ``ask()`` once. Besides retrieval
and answer accuracy, a run counts how often the first quote holds a gold quote
(``answer_first_rate``, over answerable questions that were answered) and the
quotes that are no answer at all: captions, headlines, bylines, fragments
(``quote_problems``, by the rules of ``rag.quotable``). A retrieved chunk
"holds" a gold evidence quote when the quote, whitespace removed, is contained
in it, or when the chunk covers at least 60% of the quote's span in the same
article (a quote cut in two by the chunker); see ``metrics.evidence_in_chunk``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import metrics as m

if TYPE_CHECKING:
    from rag.config import Config
    from rag.index import Index
    from rag.records import Answer, Hit

SEED_TYPES = ("fact", "paraphrase", "multi_article", "unanswerable")
RECALL_KS = (1, 5, 10)


@dataclass(frozen=True)
class SeedQuestion:
    """One seed question; ``evidence`` empty means unanswerable."""

    id: str
    question: str
    type: str
    answers: tuple[str, ...]
    article_ids: tuple[str, ...]
    evidence: tuple[str, ...]

    @property
    def answerable(self) -> bool:
        """Whether the articles answer it (the seed marks the rest ``unanswerable``)."""
        return self.type != "unanswerable"


def default_questions_path() -> Path:
    """``eval/seed_questions.jsonl`` of the source checkout (or the current folder)."""
    checkout = Path(__file__).resolve().parents[2] / "eval" / "seed_questions.jsonl"
    return checkout if checkout.is_file() else Path("eval") / "seed_questions.jsonl"


def load_questions(path: Path) -> list[SeedQuestion]:
    """Read and validate the seed file; ``ValueError`` names the bad line."""
    if not path.is_file():
        raise FileNotFoundError(f"seed question file {path} not found; pass --questions FILE")
    out: list[SeedQuestion] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            q = SeedQuestion(
                id=str(row["id"]),
                question=str(row["question"]),
                type=str(row["type"]),
                answers=tuple(row.get("answers") or ()),
                article_ids=tuple(row.get("article_ids") or ()),
                evidence=tuple(row.get("evidence") or ()),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{lineno}: not a valid seed question ({exc})") from exc
        if q.type not in SEED_TYPES:
            raise ValueError(f"{path}:{lineno}: type {q.type!r} is not one of {SEED_TYPES}")
        if q.answerable and not q.evidence:
            raise ValueError(f"{path}:{lineno}: an answerable question needs evidence quotes")
        out.append(q)
    if not out:
        raise ValueError(f"{path} holds no questions")
    return out


def corpus_digest(folder: Path) -> str:
    """sha256 over the relative names and bytes of every file under ``folder``."""
    h = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(file.relative_to(folder)).encode())
        h.update(b"\0")
        h.update(file.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def quote_spans(q: SeedQuestion, index: Index) -> list[tuple[str, int, int] | None]:
    """Where each gold quote sits: ``(article_id, start, end)`` in a gold article, or None."""
    spans: list[tuple[str, int, int] | None] = []
    for quote in q.evidence:
        found: tuple[str, int, int] | None = None
        for aid in q.article_ids:
            article = index.articles.get(aid)
            if article is None:
                continue
            pos = article.text.find(quote)
            if pos >= 0:
                found = (aid, pos, pos + len(quote))
                break
        spans.append(found)
    return spans


def evidence_ranks(
    evidence: Sequence[str],
    spans: Sequence[tuple[str, int, int] | None],
    hits: Sequence[Hit],
) -> list[int | None]:
    """For each gold quote, the best rank of a hit holding it (None if none does)."""
    ranks: list[int | None] = []
    for quote, span in zip(evidence, spans, strict=True):
        best: int | None = None
        for hit in hits:
            if m.evidence_in_chunk(
                quote, hit.text, quote_span=span,
                chunk_span=(hit.article_id, hit.start, hit.end),
            ):
                best = hit.rank
                break
        ranks.append(best)
    return ranks


def score_question(
    q: SeedQuestion,
    hits: Sequence[Hit],
    answer: Answer,
    index: Index,
) -> dict[str, Any]:
    """Per-question record: evidence ranks, answer match, citations, verbatim problems."""
    article_texts = {aid: a.text for aid, a in index.articles.items()}
    cites = [(c.n, c.quote, c.article_id, c.start, c.end) for c in answer.citations]
    violations = m.find_verbatim_violations(q.question, cites, article_texts)
    record: dict[str, Any] = {
        "id": q.id,
        "type": q.type,
        "question": q.question,
        "answerable": q.answerable,
        "abstained": answer.abstained,
        "confidence": answer.confidence,
        "n_citations": len(answer.citations),
        "cited_article_ids": [c.article_id for c in answer.citations],
        "retrieved_article_ids": [h.article_id for h in hits],
        "verbatim_violations": [v.to_dict() for v in violations],
        "quote_problems": quote_problems(answer, index),
    }
    if q.answerable:
        spans = quote_spans(q, index)
        ranks = evidence_ranks(q.evidence, spans, hits)
        found = [r for r in ranks if r is not None]
        record["evidence_ranks"] = ranks
        record["first_hit_rank"] = min(found) if found else None
        record["answer_correct"] = (not answer.abstained) and m.answer_contains(
            q.answers, answer.text, [c.quote for c in answer.citations]
        )
        good, _ = m.citation_precision(record["cited_article_ids"], q.article_ids)
        record["citations_on_gold"] = good
        first = answer.citations[0] if answer.citations else None
        record["answer_first"] = None if first is None else m.quote_holds_gold(
            (first.article_id, first.start, first.end), spans)
        record["first_quote"] = None if first is None else first.quote
    return record


def quote_problems(answer: Answer, index: Index) -> list[dict[str, Any]]:
    """The answer's quotes that are no answer: captions, photo credits, headlines,
    bylines, breadcrumbs, widgets, markup and fragments (by the composer's own
    rules, ``rag.quotable``, which include that a quote starts where a sentence
    may start), each with its marker, reason and text."""
    from rag.quotable import unquotable

    out = []
    for c in answer.citations:
        article = index.articles.get(c.article_id)
        if article is None:
            continue
        reason = unquotable(article.text, c.start, c.end, article.title)
        if reason is not None:
            out.append({"n": c.n, "reason": reason, "article_id": c.article_id,
                        "quote": c.quote})
    return out


#: The bars the quotes must clear (issue 28): the answer first, no non-answers.
ANSWER_FIRST_BAR = 0.85
QUOTE_PROBLEMS_BAR = 0


def quote_summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The run's answer-first rate and its non-answer quotes, by reason, with the bars."""
    overall = summarize(records)
    problems = [{"id": r["id"], **p} for r in records for p in r["quote_problems"]]
    by_reason: dict[str, int] = {}
    for p in problems:
        by_reason[p["reason"]] = by_reason.get(p["reason"], 0) + 1
    rate = overall["answer_first_rate"]
    return {
        "answer_first_rate": rate,
        "answer_first_n": overall["answer_first_n"],
        "answer_first_bar": ANSWER_FIRST_BAR,
        "answer_first_ok": rate is not None and rate >= ANSWER_FIRST_BAR,
        "problems": len(problems),
        "problems_bar": QUOTE_PROBLEMS_BAR,
        "problems_ok": len(problems) <= QUOTE_PROBLEMS_BAR,
        "by_reason": by_reason,
        "examples": problems,
        "answer_first_misses": [
            {"id": r["id"], "question": r["question"], "first_quote": r["first_quote"]}
            for r in records if r.get("answer_first") is False],
    }


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate per-question records (all, or one type) into the reported metrics."""
    answerable = [r for r in records if r["answerable"]]
    out: dict[str, Any] = {"n": len(records), "n_answerable": len(answerable)}
    for k in RECALL_KS:
        out[f"recall@{k}"] = m.mean(m.recall_at(r["evidence_ranks"], k) for r in answerable)
    out["mrr"] = m.mean(m.reciprocal_rank(r["first_hit_rank"]) for r in answerable)
    out["answer_accuracy"] = m.mean(float(r["answer_correct"]) for r in answerable)
    answered = [r for r in answerable if not r["abstained"]]
    out["answer_accuracy_when_answered"] = m.mean(float(r["answer_correct"]) for r in answered)
    n_cites = sum(r["n_citations"] for r in answerable)
    out["citations"] = n_cites
    out["citation_precision"] = (
        sum(r["citations_on_gold"] for r in answerable) / n_cites if n_cites else None
    )
    led = [r for r in answerable if r.get("answer_first") is not None]
    out["answer_first_rate"] = m.mean(float(r["answer_first"]) for r in led)
    out["answer_first_n"] = len(led)
    out["quote_problems"] = sum(len(r["quote_problems"]) for r in records)
    out["abstention"] = m.abstention_scores(
        [r["abstained"] for r in records], [r["answerable"] for r in records]
    ).to_dict()
    return out


def run_seed(
    *,
    limit: int | None,
    index: str | Path | None,
    config: Config,
    cache_dir: Path | None = None,
    questions: Path | None = None,
    progress: bool = True,
    followups: Path | None = None,
    dataset_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the seed set, then its two-turn follow-ups (``rag.evaluation.followup``),
    and return the JSON-ready results (no files written)."""
    from tqdm import tqdm

    import rag

    from .cache import IndexHandle, open_index, peak_memory_mb

    run_started = time.perf_counter()
    qpath = questions or default_questions_path()
    all_questions = load_questions(qpath)
    picked = [all_questions[i] for i in m.evenly_spaced(len(all_questions), limit)]

    corpus = rag.bundled_corpus_dir()
    handle: IndexHandle = open_index(
        name="seed", corpus_digest=corpus_digest(corpus),
        write_corpus=lambda _folder: [corpus], config=config, index=index,
        cache_dir=cache_dir, progress=progress,
    )
    idx = handle.index

    records: list[dict[str, Any]] = []
    search_ms: list[float] = []
    ask_ms: list[float] = []
    bar = tqdm(picked, desc="seed", unit="q", disable=not progress, dynamic_ncols=True)
    for q in bar:
        t0 = time.perf_counter()
        hits = rag.search(q.question, k=10, index=idx, config=config)
        t1 = time.perf_counter()
        answer = rag.ask(q.question, index=idx, config=config)
        t2 = time.perf_counter()
        search_ms.append((t1 - t0) * 1000)
        ask_ms.append((t2 - t1) * 1000)
        rec = score_question(q, hits, answer, idx)
        rec["search_ms"] = round(search_ms[-1], 2)
        rec["ask_ms"] = round(ask_ms[-1], 2)
        records.append(rec)
        done = [r for r in records if r["answerable"]]
        bar.set_postfix(
            r10=f"{m.mean(m.recall_at(r['evidence_ranks'], 10) for r in done) or 0:.2f}",
            acc=f"{m.mean(float(r['answer_correct']) for r in done) or 0:.2f}",
        )
    bar.close()
    from .followup import run_followups

    turns = run_followups(seed_index=idx, config=config, limit=limit, path=followups,
                          cache_dir=cache_dir, dataset_dir=dataset_dir, progress=progress)

    violations = [v for r in records for v in r["verbatim_violations"]]
    violations += turns.get("violations", [])
    n_citations = sum(r["n_citations"] for r in records) + turns.get("citations", 0)
    by_type = {
        t: summarize([r for r in records if r["type"] == t])
        for t in SEED_TYPES
        if any(r["type"] == t for r in records)
    }
    return {
        "set": "seed",
        "title": "Seed questions over the bundled articles",
        "questions_file": str(qpath),
        "n_questions_total": len(all_questions),
        "limit": limit,
        "settings": config.to_dict(),
        "index": idx.info(),
        "index_settings": idx.manifest.get("settings"),
        "overall": summarize(records),
        "by_type": by_type,
        "followups": turns,
        "answers": {
            "verbatim": {
                "citations": n_citations,
                "verbatim_share": (
                    (n_citations - len(violations)) / n_citations if n_citations else None
                ),
                "violations": violations,
            },
            "quotes": quote_summary(records),
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
