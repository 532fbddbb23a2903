"""Evaluation metrics as small pure functions (no I/O, no heavy imports).

Every metric used by ``rag eval`` lives here so it can be unit-tested on tiny
hand-made cases (tests/test_eval_metrics.py). Conventions:

- ranks start at 1; ``None`` means "not found";
- a mean over an empty list is ``None`` (shown as "n/a"), never 0, so an empty
  category is not mistaken for a bad score.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "AbstentionScores",
    "MultihopQueryScore",
    "VerbatimError",
    "VerbatimViolation",
    "abstention_scores",
    "answer_contains",
    "assert_verbatim",
    "citation_precision",
    "evenly_spaced",
    "evidence_in_chunk",
    "find_verbatim_violations",
    "hits_at",
    "mean",
    "multihop_query_score",
    "multihop_summary",
    "normalize_answer",
    "percentile",
    "recall_at",
    "reciprocal_rank",
    "remove_whitespace",
    "span_overlap",
    "upstream_calculate_metrics",
]

_WS = re.compile(r"\s+")
# Stripped from both ends of a normalised answer: MultiHop-RAG's gold answers
# sometimes end in a period ("Sam Altman.") that the articles do not.
_EDGE_PUNCT = string.punctuation + "\u201c\u201d\u2018\u2019"


# --------------------------------------------------------------------------- helpers


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean, or ``None`` for no values."""
    vals = list(values)
    if not vals:
        return None
    return sum(vals) / len(vals)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) with linear interpolation (numpy's default).

    ``None`` for no values.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return float(ordered[lo])
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


def evenly_spaced(n_total: int, limit: int | None) -> list[int]:
    """Indices of ``limit`` items spread evenly over ``n_total`` (every n/limit-th).

    Deterministic: index ``floor(i * n_total / limit)`` for ``i`` in ``0..limit-1``.
    ``None`` or a limit >= ``n_total`` selects everything.
    """
    if limit is None or limit >= n_total:
        return list(range(n_total))
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return [i * n_total // limit for i in range(limit)]


def remove_whitespace(text: str) -> str:
    """``text`` with every whitespace character removed (MultiHop-RAG's matching form)."""
    return "".join(text.split())


def normalize_answer(text: str) -> str:
    """Case-fold, collapse whitespace and strip edge punctuation, for answer matching."""
    return _WS.sub(" ", text.casefold()).strip().strip(_EDGE_PUNCT).strip()


# --------------------------------------------------------------------------- retrieval


def span_overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> int:
    """Characters shared by the half-open spans ``[a_start, a_end)`` and ``[b_start, b_end)``."""
    return max(0, min(a_end, b_end) - max(a_start, b_start))


def evidence_in_chunk(
    quote: str,
    chunk_text: str,
    *,
    quote_span: tuple[str, int, int] | None = None,
    chunk_span: tuple[str, int, int] | None = None,
    min_overlap: float = 0.6,
) -> bool:
    """Whether a retrieved chunk holds a gold evidence quote (the seed set's hit rule).

    A hit when the quote, whitespace removed, is contained in the chunk text,
    whitespace removed; or, when both spans are given as ``(article_id, start,
    end)``, when the chunk covers at least ``min_overlap`` of the quote's
    characters in the same article (a quote split across two chunks by the
    chunker still counts for the chunk holding most of it).
    """
    q = remove_whitespace(quote)
    if q and q in remove_whitespace(chunk_text):
        return True
    if quote_span is None or chunk_span is None:
        return False
    q_art, q_start, q_end = quote_span
    c_art, c_start, c_end = chunk_span
    if q_art != c_art or q_end <= q_start:
        return False
    return span_overlap(q_start, q_end, c_start, c_end) >= min_overlap * (q_end - q_start)


def quote_holds_gold(
    quote_span: tuple[str, int, int],
    gold_spans: Iterable[tuple[str, int, int] | None],
    min_overlap: float = 0.6,
) -> bool:
    """Whether a quoted span ``(article_id, start, end)`` holds a gold evidence span:
    in the same article, it covers at least ``min_overlap`` of the gold span's
    characters, or the gold span (a gold quote of several sentences) covers at
    least that much of the quote."""
    q_art, q_start, q_end = quote_span
    for gold in gold_spans:
        if gold is None or gold[0] != q_art:
            continue
        shared = span_overlap(q_start, q_end, gold[1], gold[2])
        if shared and (shared >= min_overlap * (gold[2] - gold[1])
                       or shared >= min_overlap * (q_end - q_start)):
            return True
    return False


def reciprocal_rank(first_rank: int | None, cutoff: int | None = None) -> float:
    """``1/rank`` of the first relevant item, 0 when none (or beyond ``cutoff``)."""
    if first_rank is None or (cutoff is not None and first_rank > cutoff):
        return 0.0
    if first_rank < 1:
        raise ValueError(f"ranks start at 1, got {first_rank}")
    return 1.0 / first_rank


def hits_at(first_rank: int | None, k: int) -> bool:
    """Whether the first relevant item is within the top ``k``."""
    return first_rank is not None and first_rank <= k


def recall_at(found_ranks: Sequence[int | None], k: int) -> float:
    """Share of gold items whose first matching rank is within ``k``.

    ``found_ranks[i]`` is the best rank at which gold item ``i`` was found
    (``None`` if never). Raises ``ValueError`` for no gold items: recall is
    undefined there and such a question must not be counted.
    """
    if not found_ranks:
        raise ValueError("recall is undefined without gold items")
    return sum(1 for r in found_ranks if r is not None and r <= k) / len(found_ranks)


@dataclass(frozen=True)
class MultihopQueryScore:
    """Retrieval scores of one non-null MultiHop-RAG query over its top-10 chunks.

    - ``first_hit_rank``: rank of the first chunk containing any gold fact
      (whitespace removed), ``None`` if none in the top 10;
    - ``average_precision``: the paper's AP@10 (see ``multihop_query_score``);
    - ``facts_found`` / ``n_facts``: distinct gold facts contained in some
      top-10 chunk, and distinct gold facts.
    """

    first_hit_rank: int | None
    average_precision: float
    facts_found: int
    n_facts: int

    def hits_at(self, k: int) -> bool:
        """Hits@k of this query."""
        return hits_at(self.first_hit_rank, k)

    @property
    def reciprocal_rank(self) -> float:
        """MRR@10 term of this query."""
        return reciprocal_rank(self.first_hit_rank, cutoff=10)

    @property
    def evidence_recall(self) -> float:
        """Share of the query's gold facts found in the top 10 (stricter than Hits)."""
        return self.facts_found / self.n_facts

    @property
    def all_evidence(self) -> bool:
        """Whether every gold fact was found in the top 10."""
        return self.facts_found == self.n_facts


def multihop_query_score(retrieved: Sequence[str], gold: Sequence[str]) -> MultihopQueryScore:
    """Score one query's ranked chunk texts against its gold facts, as the paper does.

    Mirrors ``calculate_metrics`` in the upstream evaluation script
    (github.com/yixuantt/MultiHop-RAG, ``retrieval_evaluate.py``), per query:

    - texts and facts are compared with whitespace removed (upstream removes
      " " and "\\n", the only whitespace characters in the dataset; we remove
      all, as the dataset README states);
    - only the top 10 chunks count;
    - AP@10: walking down the ranking, a chunk that contains gold facts not yet
      found adds ``(number of newly found facts) / rank``; a chunk whose facts
      were all found earlier adds 0 (but still counts for Hits and MRR). The sum
      is divided by ``min(len(gold), 10)``, counting gold facts as listed
      (duplicates included, as upstream does).
    """
    if not gold:
        raise ValueError("a query without gold facts (a null query) has no retrieval score")
    gold_n = [remove_whitespace(g) for g in gold]
    found: list[str] = []
    first: int | None = None
    ap_sum = 0.0
    for rank, text in enumerate(retrieved[:10], start=1):
        chunk = remove_whitespace(text)
        if not any(g in chunk for g in gold_n):
            continue
        if first is None:
            first = rank
        new = 0
        for g in gold_n:
            if g in chunk and g not in found:
                new += 1
                found.append(g)
        ap_sum += new / rank
    return MultihopQueryScore(
        first_hit_rank=first,
        average_precision=ap_sum / min(len(gold_n), 10),
        facts_found=len(set(found)),
        n_facts=len(set(gold_n)),
    )


def multihop_summary(scores: Sequence[MultihopQueryScore]) -> dict[str, float | int | None]:
    """Mean retrieval metrics over queries: the paper's four plus the two stricter ones."""
    return {
        "n": len(scores),
        "hits@1": mean(float(s.hits_at(1)) for s in scores),
        "hits@4": mean(float(s.hits_at(4)) for s in scores),
        "hits@10": mean(float(s.hits_at(10)) for s in scores),
        "map@10": mean(s.average_precision for s in scores),
        "mrr@10": mean(s.reciprocal_rank for s in scores),
        "evidence_recall@10": mean(s.evidence_recall for s in scores),
        "all_evidence@10": mean(float(s.all_evidence) for s in scores),
    }


def upstream_calculate_metrics(
    retrieved_lists: Sequence[Sequence[str]], gold_lists: Sequence[Sequence[str]]
) -> dict[str, float]:
    """The paper's four retrieval metrics over many queries, keyed as upstream prints them.

    Same result as upstream ``calculate_metrics`` (retrieval_evaluate.py); used to
    cross-check ``multihop_summary`` in the tests and in each run.
    """
    if len(retrieved_lists) != len(gold_lists):
        raise ValueError("one retrieved list per gold list is required")
    if not gold_lists:
        raise ValueError("no queries to evaluate")
    scores = [multihop_query_score(r, g) for r, g in zip(retrieved_lists, gold_lists, strict=True)]
    n = len(scores)
    return {
        "Hits@10": sum(s.hits_at(10) for s in scores) / n,
        "Hits@4": sum(s.hits_at(4) for s in scores) / n,
        "MAP@10": sum(s.average_precision for s in scores) / n,
        "MRR@10": sum(s.reciprocal_rank for s in scores) / n,
    }


# --------------------------------------------------------------------------- answers


def answer_contains(gold_answers: Iterable[str], text: str, quotes: Iterable[str] = ()) -> bool:
    """Whether any gold answer string occurs in the answer text or one of its quotes.

    Case-normalised containment (``normalize_answer`` on both sides); an empty
    gold string never matches.
    """
    haystacks = [normalize_answer(text)] + [normalize_answer(q) for q in quotes]
    for gold in gold_answers:
        g = normalize_answer(gold)
        if g and any(g in h for h in haystacks):
            return True
    return False


def citation_precision(
    cited_article_ids: Sequence[str], gold_article_ids: Iterable[str]
) -> tuple[int, int]:
    """``(citations pointing at a gold article, citations)`` for one answer.

    Returned as counts so a run can pool them (micro-average over citations).
    """
    gold = set(gold_article_ids)
    return sum(1 for a in cited_article_ids if a in gold), len(cited_article_ids)


@dataclass(frozen=True)
class AbstentionScores:
    """Abstention quality; a ``None`` score has an empty denominator.

    - ``precision``: abstentions that were on unanswerable questions / abstentions;
    - ``recall``: unanswerable questions abstained on / unanswerable questions;
    - ``false_abstention_rate``: answerable questions abstained on / answerable.
    """

    precision: float | None
    recall: float | None
    false_abstention_rate: float | None
    n_abstained: int
    n_unanswerable: int
    n_answerable: int

    @property
    def f1(self) -> float | None:
        """The harmonic mean of precision and recall (None when either is)."""
        if self.precision is None or self.recall is None:
            return None
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-ready form."""
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "false_abstention_rate": self.false_abstention_rate,
            "n_abstained": self.n_abstained,
            "n_unanswerable": self.n_unanswerable,
            "n_answerable": self.n_answerable,
        }


def abstention_scores(abstained: Sequence[bool], answerable: Sequence[bool]) -> AbstentionScores:
    """Abstention precision/recall on unanswerable questions and the false-abstention rate."""
    if len(abstained) != len(answerable):
        raise ValueError("one abstained flag per question is required")
    pairs = list(zip(abstained, answerable, strict=True))
    n_abst = sum(1 for a, _ in pairs if a)
    n_unans = sum(1 for _, ok in pairs if not ok)
    n_ans = len(pairs) - n_unans
    true_abst = sum(1 for a, ok in pairs if a and not ok)
    false_abst = sum(1 for a, ok in pairs if a and ok)
    return AbstentionScores(
        precision=true_abst / n_abst if n_abst else None,
        recall=true_abst / n_unans if n_unans else None,
        false_abstention_rate=false_abst / n_ans if n_ans else None,
        n_abstained=n_abst,
        n_unanswerable=n_unans,
        n_answerable=n_ans,
    )


# --------------------------------------------------------------------------- verbatim


@dataclass(frozen=True)
class VerbatimViolation:
    """One citation whose quote is not verbatim in its source article."""

    question: str
    n: int
    article_id: str
    start: int
    end: int
    quote: str
    reason: str

    def to_dict(self) -> dict[str, str | int]:
        """JSON-ready form."""
        return {
            "question": self.question,
            "n": self.n,
            "article_id": self.article_id,
            "start": self.start,
            "end": self.end,
            "quote": self.quote,
            "reason": self.reason,
        }


class VerbatimError(AssertionError):
    """Some citation quote is not verbatim in its source: the tool's core promise is broken.

    Subclasses ``AssertionError`` on purpose: this is a failed invariant, not a
    user error, and nothing should catch it as a ``RagError``.
    """

    def __init__(self, violations: Sequence[VerbatimViolation], total: int) -> None:
        self.violations = list(violations)
        self.total = total
        first = self.violations[0] if self.violations else None
        detail = (
            f"; first: question {first.question!r} citation [{first.n}] "
            f"article {first.article_id} [{first.start}:{first.end}]: {first.reason}"
            if first
            else ""
        )
        super().__init__(
            f"{len(self.violations)} of {total} citation quotes are NOT verbatim in their "
            f"source article (must be 100%){detail}"
        )


def find_verbatim_violations(
    question: str,
    citations: Iterable[tuple[int, str, str, int, int]],
    article_texts: Mapping[str, str],
) -> list[VerbatimViolation]:
    """Citations of one answer whose quote is not exactly ``article.text[start:end]``.

    ``citations`` holds ``(n, quote, article_id, start, end)``. A quote is
    verbatim only when its article is known and the offsets select exactly the
    quote; an empty quote is a violation too (it would cite nothing).
    """
    out: list[VerbatimViolation] = []
    for n, quote, article_id, start, end in citations:
        text = article_texts.get(article_id)
        reason: str | None = None
        if text is None:
            reason = "unknown article id"
        elif not quote:
            reason = "empty quote"
        elif text[start:end] != quote:
            reason = (
                "quote found elsewhere in the article but offsets are wrong"
                if quote in text
                else "quote does not occur in the article"
            )
        if reason is not None:
            out.append(VerbatimViolation(question, n, article_id, start, end, quote, reason))
    return out


def assert_verbatim(violations: Sequence[VerbatimViolation], total: int) -> None:
    """Raise ``VerbatimError`` unless there are no violations (the 100% requirement)."""
    if violations:
        raise VerbatimError(violations, total)
