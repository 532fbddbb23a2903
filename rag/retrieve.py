"""Retrieval: dense (FAISS) and BM25 candidates fused by reciprocal rank."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from .answer import sentence_text
from .config import Config
from .errors import QuestionError
from .hints import Hints, find_hints
from .index import Index
from .parts import Part
from .records import Hit
from .rerank import CrossEncoder
from .store import Restriction, Where
from .store import top as _top
from .text import tokenize

# Reciprocal-rank-fusion constant. Cormack et al. (2009) use 60; a smaller one
# gives each ranking's first few more say, and 10 ranked and found evidence
# better on both halves of MultiHop-RAG (docs/experiments.md, "The fusion constant").
RRF_K = 10
# Candidates taken from each retriever before fusion.
CANDIDATES = 100
# Fused candidates among which passages are chosen for coverage of the question.
COVERAGE_POOL = 40
# Coverage applies to questions of at least this many distinct content words.
# Several-part questions are long (MultiHop-RAG: 11 and up, median 24); in the
# short one-part questions of the seed set (median 7) coverage only swapped the
# gold passage for one with another question word (seed recall@5 0.930 -> 0.904).
COVERAGE_MIN_WORDS = 10
# A question part's sentence scores: cosine plus this times its BM25 scaled to a
# maximum of 1 (measured on MultiHop-RAG: 0.15-0.45 all help, 0.3 best, 1 less).
PART_LEXICAL = 0.3
# Each part's best passage goes after this many of the fused ranking's first ones,
# which keep their places (right after rank 1, MRR@10 fell 0.678 -> 0.655).
PARTS_AFTER = 3
# Passages taken for each part: the chunks holding its best-matching sentences.
# A part's second-best is often the same article's other chunk, where its fact
# sits (MultiHop-RAG: 1 -> 2 raised evidence recall@10 by 0.009 and
# 0.013 on the two halves; 3 and 4 crowded out the fused ranking).
PART_PICKS = 2
# With a part model (``Config.part_model``), a part's cosine is this share of
# that model's (each sentence encoded alone) and the rest the main model's. On
# MultiHop-RAG 0.3-0.4 found the most evidence, 0.5 and more lost the temporal
# questions' (docs/experiments.md, "A second model for the parts").
PART_SECOND = 0.3


def validate_question(question: object, config: Config) -> str:
    """The question, stripped of control characters; QuestionError if unusable."""
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, got {type(question).__name__}")
    if len(question) > config.max_question_chars:
        raise QuestionError(
            f"the question is {len(question):,} characters long; the limit is "
            f"{config.max_question_chars:,}. Ask something shorter"
        )
    cleaned = "".join(
        " " if unicodedata.category(ch).startswith("C") else ch for ch in question
    )
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise QuestionError("the question is empty; type a question about the articles")
    return cleaned


def validate_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise QuestionError(f"k must be a whole number of at least 1, got {k!r}")
    return k


def _as_date(value: object, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        from .articles import normalise_date

        iso = normalise_date(value)
        if iso:
            return iso[:10]
    raise QuestionError(f"{name} must be a date such as 2023-10-04, got {value!r}")


@dataclass(frozen=True)
class Filters:
    """Outlet and date filters. They fail closed: nothing matches, nothing returned."""

    sources: tuple[str, ...] | None = None
    since: str | None = None
    until: str | None = None

    @classmethod
    def make(cls, sources: Iterable[str] | str | None, since: object, until: object) -> Filters:
        if isinstance(sources, str):
            sources = [sources]
        src = tuple(s.strip() for s in sources if s and s.strip()) if sources is not None else None
        return cls(src, _as_date(since, "since"), _as_date(until, "until"))

    @property
    def active(self) -> bool:
        return self.sources is not None or self.since is not None or self.until is not None

    def where(self) -> Where | None:
        """The filters as a store's restriction (None when there are none)."""
        if not self.active:
            return None
        return Where(sources=self.sources, since=self.since, until=self.until)

    def chunk_mask(self, index: Index) -> np.ndarray:
        """Boolean mask over the index's chunks that pass the filters."""
        keep = self.article_mask(index)
        return keep[index.chunk_article] if len(index.chunks) else np.zeros(0, dtype=bool)

    def article_mask(self, index: Index) -> np.ndarray:
        """Boolean mask over the index's articles that pass the filters."""
        keep = np.ones(len(index.article_list), dtype=bool)
        if self.sources is not None:
            wanted = {s.casefold() for s in self.sources}
            keep &= index.outlet_mask([s for s in index.sources() if s.casefold() in wanted])
        if self.since is not None or self.until is not None:
            days = index.article_days  # by column: per-article Python was O(corpus) per question
            keep &= days != ""
            if self.since:
                keep &= days >= self.since
            if self.until:
                keep &= days <= self.until
        return keep


def _article_mask(index: Index, keep: np.ndarray) -> np.ndarray:
    return keep[index.chunk_article]


def _hint_masks(index: Index, hints: Hints) -> list[tuple[str, Where, np.ndarray]]:
    """One restriction per hint: each outlet group named, each date or period named."""
    masks: list[tuple[str, Where, np.ndarray]] = []
    for group in hints.source_groups:
        masks.append((f"outlet named: {' / '.join(group)}", Where(sources=tuple(group)),
                      _article_mask(index, index.outlet_mask(group))))
    for day in hints.days:
        near = tuple(sorted(_near(day)))
        masks.append((f"date named: {day}", Where(days=near),
                      _article_mask(index, np.isin(index.article_days, list(near)))))
    if hints.since or hints.until:
        label = " to ".join(x for x in (hints.since, hints.until) if x)
        masks.append((f"period named: {label}", Where(since=hints.since, until=hints.until),
                      _article_mask(index, _in_period(index.article_days, hints))))
    return [(label, where, m) for label, where, m in masks if m.any()]


def _near(day: str) -> set[str]:
    """A day named in a question, and the days beside it: the dateline may be
    the day before or after in another time zone."""
    d = date.fromisoformat(day)
    return {(d + timedelta(days=delta)).isoformat() for delta in (-1, 0, 1)}


def _in_period(days: np.ndarray, hints: Hints) -> np.ndarray:
    """Which of ``days`` (ISO dates, "" when undated) fall in the hints' period."""
    lo, hi = hints.since or "0000", hints.until or "9999"
    return (days >= lo) & (days <= hi) & (days != "")


def retrieve(
    index: Index,
    question: str,
    query_vector: np.ndarray,
    *,
    k: int,
    config: Config,
    filters: Filters | None = None,
    hints: Hints | None = None,
    reranker: CrossEncoder | None = None,
    parts: tuple[Part, ...] | list[Part] = (),
    part_vectors: np.ndarray | None = None,
    part_model_vectors: np.ndarray | None = None,
    bridge: str | None = None,
) -> list[Hit]:
    """The top ``k`` chunks for an already validated question and its vector.

    Dense and BM25 rankings (of chunks, and of chunks by their best sentence)
    are fused by reciprocal rank. Each outlet or date the question names
    (``hints``) adds its own dense and BM25 rankings restricted to those
    articles, so every part of a multi-part question gets candidates of its
    own; hints steer, while ``filters`` restrict. At most
    ``config.max_per_article`` chunks of one article are taken before others,
    and after the first, passages are chosen to cover the question's words
    (``config.coverage``), so ranks need not follow ``Hit.score``. For a
    several-part question, the chunk of each part's best sentence (``parts``,
    with their vectors ``part_vectors``, and ``part_model_vectors`` from the
    index's part model, if any) follows the first ``PARTS_AFTER``. ``bridge`` is
    the name the question is read as about (``rag.bridge``): the part vectors
    were encoded with it, and its words join the question's for BM25 and
    coverage.
    """
    if not index.chunks:
        return []
    mask = filters.chunk_mask(index) if filters and filters.active else None
    if mask is not None and not mask.any():
        return []
    dense = index.chunk_vectors @ query_vector
    lexical: list[np.ndarray] = []
    # Each word once: a question that compares two reports repeats their shared
    # topic ("TikTok users" four times), which would otherwise outweigh the
    # words that tell its facts apart (docs/experiments.md, "Each word once").
    # A question read as about a name (``bridge``) also looks for that name's
    # words (docs/experiments.md, "The name the clauses share").
    asked = question if bridge is None else f"{question} {bridge}"
    terms = list(dict.fromkeys(tokenize(asked))) if config.hybrid else []
    sentence_lexical: np.ndarray | None = None
    if terms:
        if config.sentence_bm25 or (config.rerank_depth and reranker is not None):
            sentence_lexical = index.sentence_bm25(terms)
        if config.sentence_bm25:
            lexical.append(index.best_sentence_bm25(terms, sentence_lexical))
    # The store ranks chunks by BM25 itself (the file store once per question).
    candidates = index.store.candidates(index, query_vector, terms, dense, None)

    def rankings(restrict: Restriction) -> list[np.ndarray]:
        out = [candidates.dense(CANDIDATES, restrict)]
        if terms:
            out.append(candidates.lexical(CANDIDATES, restrict))
        for scores in lexical:  # the best sentence's BM25: sentence scoring stays local
            top = _top(scores, CANDIDATES, restrict.mask)
            out.append(top[scores[top] > 0])
        return out

    multi_part = several_parts(question)
    covering = bool(config.coverage and terms and multi_part)
    # Chunks ranked by their best sentence's vector: only for coverage's picks
    # after the first (see _cover), where a part's one-sentence fact is wanted.
    sentence_dense = (index.best_sentence_dense(query_vector)
                      if covering and config.sentence_dense and len(index.sentences) else None)
    where = filters.where() if filters is not None else None
    lists = rankings(Restriction(where, mask))
    later = [] if sentence_dense is None else [_top(sentence_dense, CANDIDATES, mask)]
    applied: list[tuple[str, np.ndarray]] = []
    if hints is not None and config.hints:
        for label, hint_where, hint_mask in _hint_masks(index, hints):
            restrict = hint_mask if mask is None else hint_mask & mask
            if restrict.any():
                lists.extend(rankings(Restriction(hint_where.both(where), restrict)))
                if sentence_dense is not None:
                    later.append(_top(sentence_dense, CANDIDATES, restrict))
                applied.append((label, restrict))
    first = _fuse(lists)
    fused = _fuse(later, first) if later else first
    if hints is not None and config.hints and (hints.latest or hints.earliest) and fused:
        # "The latest" / "the earliest": one more ranking, by date, of the candidates.
        dated = [r for r in fused if index.article_list[int(index.chunk_article[r])].published]
        dated.sort(key=lambda r: index.article_list[int(index.chunk_article[r])].published or "",
                   reverse=hints.latest)
        by_date = np.array(dated, dtype=np.int64)
        first = _fuse([by_date], first)
        fused = _fuse([by_date], fused) if later else first
        applied.append(("most recent first" if hints.latest else "earliest first",
                        np.ones(len(index.chunks), dtype=bool)))
    order = sorted(fused, key=lambda r: (-fused[r], -dense[r]))
    reread: dict[int, tuple[float, int | None]] = {}
    if config.rerank_depth and reranker is not None:
        reread = _rerank(index, question, query_vector, order, reranker, config,
                         sentence_lexical)
        order = sorted(reread, key=lambda r: -reread[r][0]) + order[len(reread):]
        if hints is not None and config.hints:
            order = _each_outlet_first(index, order, hints.source_groups)
    if covering:
        order = _cover(index, order, fused, terms, k, config, first)
    chosen = _diverse(index, order, k, config.max_per_article)
    part_of: dict[int, str] = {}
    if config.parts and len(parts) and part_vectors is not None and multi_part:
        steer = hints if hints is not None and config.hints else Hints()
        part_of = _part_picks(index, list(parts), part_vectors, filters, steer, config,
                              part_model_vectors)
        head = chosen[:PARTS_AFTER]
        extra = [r for r in part_of if r not in head]
        order = head + extra + [r for r in order if r not in head and r not in part_of]
        chosen = _diverse(index, order, k, config.max_per_article)
    hits = []
    for rank, row in enumerate(chosen, 1):
        chunk = index.chunks[row]
        article = index.articles[chunk.article_id]
        labels = tuple(label for label, m in applied if m[row])
        if row in part_of:
            labels += (f"part of the question: {part_of[row]}",)
            if bridge:
                labels += (f"part read as about: {bridge}",)
        hits.append(Hit(
            text=chunk.text, score=round(float(fused.get(row, 0.0)), 6), rank=rank,
            chunk_id=chunk.id, article_id=article.id, title=article.label, source=article.source,
            published=article.published, url=article.url, start=chunk.start, end=chunk.end,
            hints=labels, source_label=article.source_label, date_label=article.date_label,
            rerank_score=round(reread[row][0], 4) if row in reread else None,
            rerank_span=_span(index, reread[row][1]) if row in reread else None,
        ))
    return hits


def several_parts(question: str) -> bool:
    """Whether a question has several parts to cover (10+ distinct content words).

    Several-part questions get coverage (``_cover``); one-part questions, whose
    answer is one sentence, get the cross-encoder (``_rerank``). Measured on
    MultiHop-RAG, whose questions all have several parts, the cross-encoder
    ranked worse than the fused ranking (docs/experiments.md): it matches one part well.
    """
    return len(set(tokenize(question))) >= COVERAGE_MIN_WORDS


def _part_picks(index: Index, parts: list[Part], vectors: np.ndarray, filters: Filters | None,
                hints: Hints, config: Config,
                second: np.ndarray | None = None) -> dict[int, str]:
    """For each part, the chunks of the sentences that best match it (``PART_PICKS``
    of them): ``{row: part}``, every part's first pick before any second.

    A part is one clause, and its fact one sentence, so the part is matched
    against single sentences (their vectors, plus BM25 when ``config.hybrid``;
    with ``second``, the parts' vectors from the index's part model, a share
    ``PART_SECOND`` of the cosine is that model's).
    A part that names outlets looks only in their articles; otherwise, in the
    articles of the outlets the question names (``hints``), if any; a part that
    names a date or period looks only in the articles of that date, and one that
    names none, in a question that names several days, in the articles from the
    first of those days to the last (unless none is left). Filters fail closed.
    """
    if not len(index.sentences):
        return {}
    keep = filters.article_mask(index) if filters and filters.active else (
        np.ones(len(index.article_list), dtype=bool))
    sentence_article = index.sentences[:, 0]
    span = _span_named(index, hints)
    masks = []
    for part in parts:
        wanted = part.sources or hints.sources
        allowed = keep & index.outlet_mask(list(wanted)) if wanted else keep
        dated = _dated_articles(index, part.text)
        if dated is None:
            dated = span
        if dated is not None and (allowed & dated).any():
            allowed = allowed & dated
        masks.append(allowed[sentence_article])
    scores = _part_cosines(index, np.logical_or.reduce(masks), vectors, second)
    out: dict[int, str] = {}
    ranked: list[list[int]] = []
    for j, part in enumerate(parts):
        score = scores[:, j]
        terms = tokenize(part.text) if config.hybrid else []
        if terms:
            lex = index.sentence_bm25(terms)[:-1]
            top = float(lex.max())
            if top > 0:
                score = score + PART_LEXICAL * lex / top
        score = np.where(masks[j], score, -np.inf)
        # Enough to pick from when other parts took this part's best chunks.
        ranked.append(_best_chunks(index, score, PART_PICKS * len(parts)))
    # Every part's first pick before any part's second, so that the part
    # picks that fit in the top k cover the most parts.
    for _ in range(PART_PICKS):
        for text, rows in zip((p.text for p in parts), ranked, strict=True):
            row = next((r for r in rows if r not in out), None)
            if row is not None:
                out[row] = text
    return out


def _part_cosines(index: Index, usable: np.ndarray, vectors: np.ndarray,
                  second: np.ndarray | None) -> np.ndarray:
    """Each sentence's cosine with each part (-inf where ``usable`` is False).

    Most parts name an outlet or a date, so only the sentences some part may
    use are scored: the products over every sentence vector are most of a
    several-part question's arithmetic.
    """
    rows = np.flatnonzero(usable)
    every = len(rows) == len(usable)
    cos = index.sentence_cosines(vectors, None if every else rows)
    if second is not None and index.part_vectors is not None:
        extra = index.part_vectors if every else index.part_vectors[rows]
        cos = (1 - PART_SECOND) * cos + PART_SECOND * (extra @ second.T)
    if every:
        return cos
    out = np.full((len(usable), vectors.shape[0]), -np.inf, dtype=cos.dtype)
    out[rows] = cos
    return out


def _best_chunks(index: Index, score: np.ndarray, n: int) -> list[int]:
    """The ``n`` chunks whose best sentences score highest, best first."""
    owner = index.sentence_chunk
    finite = int(np.isfinite(score).sum())
    depth = min(finite, 8 * n)
    while True:
        rows = list(dict.fromkeys(owner[_top(score, depth, None)].tolist()))
        if len(rows) >= n or depth >= finite:
            return rows[:n]
        depth = min(finite, depth * 4)


def _dated_articles(index: Index, text: str) -> np.ndarray | None:
    """Articles published on (or a day beside) the dates ``text`` names, or in the
    period it names, as a mask over the articles; None when it names no date."""
    found = find_hints(text, [], index.date_span())
    if not (found.days or found.since or found.until):
        return None
    days = index.article_days
    near = set().union(*(_near(d) for d in found.days))
    mask = np.isin(days, list(near)) if near else np.ones(len(days), dtype=bool)
    if found.since or found.until:
        mask &= _in_period(days, found)
    return mask


def _span_named(index: Index, hints: Hints) -> np.ndarray | None:
    """Articles published from the first to the last of the days a question names
    (a day beside each included), when it names two or more; else None.

    "Between the report on X published on October 2, 2023, and the report on Y
    published on October 7, 2023, was there a change in …?" asks how the
    coverage moved over that span: its last clause, which names no date, is
    looked for in the reports of those days and the days between (docs/experiments.md, "The
    span between two dates").
    """
    if len(set(hints.days)) < 2:
        return None
    span = Hints(since=min(_near(min(hints.days))), until=max(_near(max(hints.days))))
    return _in_period(index.article_days, span)


def _rerank(index: Index, question: str, query_vector: np.ndarray, order: list[int],
            reranker: CrossEncoder, config: Config,
            sentence_lexical: np.ndarray | None) -> dict[int, tuple[float, int | None]]:
    """The cross-encoder's score of each of the first ``config.rerank_depth`` chunks,
    with the sentence (its row) that earned it.

    The cross-encoder reads the question with each of a chunk's best
    ``config.rerank_sentences`` sentences (picked by their vectors' similarity
    and their BM25 score, both already at hand), and a chunk scores as its best
    sentence: the answer to a one-part question is one sentence, and short
    pairs cost far less than whole chunks.
    """
    head = order[: config.rerank_depth]
    n_sent = len(index.sentences)
    picked: dict[int, list[int]] = {}
    for row in head:
        rows = index.chunk_sentences(row)
        rows = rows[rows < n_sent]
        if not len(rows):
            picked[row] = []
            continue
        cheap = index.sentence_vectors_at(rows) @ query_vector
        if sentence_lexical is not None:
            lex = sentence_lexical[rows]
            top = float(lex.max())
            if top > 0:
                cheap = cheap + lex / top
        best = np.argsort(-cheap, kind="stable")[: config.rerank_sentences]
        picked[row] = [int(r) for r in rows[best]]
    unique = list(dict.fromkeys(r for rows in picked.values() for r in rows))
    texts = [sentence_text(index, r) for r in unique]
    scores = dict(zip(unique, reranker.score(question, texts).tolist(), strict=True))
    out: dict[int, tuple[float, int | None]] = {}
    for row, read in picked.items():
        # A chunk without sentences (a sentinel row only) cannot be read: it goes last.
        best_row = max(read, key=lambda r: scores[r], default=None)
        out[row] = (scores[best_row], best_row) if best_row is not None else (-1e9, None)
    return out


def _each_outlet_first(index: Index, order: list[int],
                       groups: tuple[tuple[str, ...], ...]) -> list[int]:
    """``order`` with the best chunk of each outlet group the question names moved
    to the front (keeping their relative order), when it names several.

    The cross-encoder reads text only: it cannot see which outlet a passage is
    from, so for "Did Alpha Wire and Beta Post both report ..." it can fill the
    top with one outlet's articles, undoing what the outlet rankings supplied.
    """
    if len(groups) < 2:
        return order
    lead: list[int] = []
    for group in groups:
        best = next((r for r in order
                     if index.article_sources[index.chunk_article[r]] in group), None)
        if best is not None and best not in lead:
            lead.append(best)
    lead.sort(key=order.index)
    return lead + [r for r in order if r not in lead]


def _span(index: Index, sentence_row: int | None) -> tuple[int, int] | None:
    if sentence_row is None:
        return None
    _, start, end = index.sentences[sentence_row]
    return int(start), int(end)


def _fuse(rankings: list[np.ndarray], into: dict[int, float] | None = None) -> dict[int, float]:
    """Reciprocal-rank fusion of ``rankings`` (rows, best first), added to a copy
    of ``into``."""
    fused = dict(into) if into else {}
    for ranking in rankings:
        for rank, row in enumerate(ranking.tolist()):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
    return fused


def _cover(index: Index, order: list[int], fused: dict[int, float], terms: list[str],
           k: int, config: Config, first: dict[int, float]) -> list[int]:
    """Reorder the head of ``order`` so that the first ``k`` cover the question.

    A multi-part question has a fact per part, and the top of one fused ranking
    tends to repeat the part that matches best. After the best passage (by
    ``first``), each next one is chosen greedily (as in xQuAD, with the
    question's words as its aspects) by ``(1 - coverage) * relevance + coverage
    * novelty``: relevance is the ``fused`` score scaled to [0, 1] over the
    pool, novelty the words' BM25 weight in the passage that the passages
    chosen so far have not yet covered. Measured on MultiHop-RAG (docs/experiments.md):
    MRR@10 and evidence recall@10 both rise. ``fused`` may hold rankings that
    ``first`` lacks (the best-sentence vectors'): they find more evidence for
    the later picks but, at the top, cost MRR@10.
    """
    pool = order[:COVERAGE_POOL]
    aspects: list[np.ndarray] = []
    weights: list[float] = []
    for term in dict.fromkeys(terms):
        scores = index.bm25().get_scores([term])
        top = float(scores[pool].max())
        if top > 0:
            aspects.append(scores[pool] / top)
            # A word's highest BM25 score in the corpus tracks its rarity (IDF).
            weights.append(float(scores.max()))
    if len(aspects) < 2:
        best = max(pool, key=lambda r: first.get(r, 0.0))
        return [best] + [r for r in order if r != best]
    cover = np.stack(aspects, axis=1)
    weight = np.array(weights) / sum(weights)
    rel = np.array([fused[r] for r in pool])
    rel = (rel - rel.min()) / (rel.max() - rel.min() or 1.0)
    lead = np.array([first.get(r, 0.0) for r in pool])
    uncovered = np.ones(len(weights))
    free = np.ones(len(pool), dtype=bool)
    taken: dict[int, int] = {}
    chosen: list[int] = []
    while len(chosen) < k:
        allowed = free & np.array([taken.get(int(index.chunk_article[r]), 0)
                                   < config.max_per_article for r in pool])
        if not allowed.any():
            break
        value = lead if not chosen else (
            (1 - config.coverage) * rel + config.coverage * (cover * uncovered) @ weight)
        pick = int(np.argmax(np.where(allowed, value, -np.inf)))
        free[pick] = False
        article = int(index.chunk_article[pool[pick]])
        taken[article] = taken.get(article, 0) + 1
        chosen.append(pool[pick])
        uncovered = uncovered * (1 - cover[pick])
    picked = set(chosen)
    return chosen + [r for r in order if r not in picked]


def _diverse(index: Index, order: list[int], k: int, per_article: int) -> list[int]:
    """The first ``k`` of ``order`` with at most ``per_article`` chunks per article,
    topped up from the rest when there are too few other articles."""
    taken: dict[int, int] = {}
    chosen: list[int] = []
    spill: list[int] = []
    for row in order:
        article = int(index.chunk_article[row])
        if taken.get(article, 0) < per_article:
            taken[article] = taken.get(article, 0) + 1
            chosen.append(row)
            if len(chosen) == k:
                return chosen
        else:
            spill.append(row)
    return chosen + spill[: k - len(chosen)]
