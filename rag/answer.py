"""The answer composer: pick verbatim sentences that answer the question.

Extractive and light: the sentences of the retrieved passages are scored
against the question (their vectors were computed at build time, so nothing is
embedded per question but the question itself), near-duplicates are dropped,
and the best few become the answer's quotes. When even the best sentence is a
weak match, the composer abstains.

A sentence's score mixes four signals, with weights measured by
``rag eval --calibrate`` and recorded in ``rag/data/calibration.json``:

- its embedding similarity to the question;
- the similarity of the passage it sits in (context the sentence alone lacks);
- how much of the question's wording (IDF-weighted) it contains;
- whether it holds the kind of thing asked for (a number for "how many", a
  date for "when", a name for "who"), a penalty when it does not;

and the answer loses confidence when names in the question appear in none of
the retrieved passages (the articles are about something else), or when it asks
"how many" or "how much" of a thing and no passage gives a figure for that
thing ("How much coal ..." answered by a sentence about soybean oil).

Only sentences that can answer are candidates: captions, photo credits,
headlines, bylines, breadcrumbs, widgets, markup and fragments never are
(``rag.quotable``), though they stay in the index to help retrieval.

When the cross-encoder read the passages (a one-part question, see
``rag.retrieve``), it reads the best-scoring sentences again, and the lead quote
is the one with the best score plus a tenth of its logit (:func:`choose_lead`):
it judges a sentence's fit to the question better than the signals above, but
not so much better that a near-tie of its logits should overrule them (seed
set: answers right 0.860 -> 0.912 from letting it lead; answer first 0.70 ->
0.79 from weighing it against the score; docs/experiments.md). Its logit is
not mixed into the sum that picks the other quotes, which measured worse, nor
used to abstain, as it does not tell an answer from a sentence on the same topic.
A lead that lacks the kind of thing asked for (a date for "when", a figure, a
sum, a list) gives way to a sentence of the same pool that has it
(``rag.lead``), and in an elliptical follow-up to one holding the user's own
new words (``rag.followup_lead``).

An answer whose evidence is weak but not absent (its confidence barely clears
the threshold, or its best sentence holds little of the question's wording)
says so: its text opens with :data:`INDIRECT_TEXT` and its
``confidence_label`` is "indirect" (else "direct"; "none" for an abstention).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from .asked import NAME_RUN, answer_type, counted_noun, fits_type, missing_count
from .bridge import full_form
from .config import Config
from .followup_lead import focus_lead
from .hints import outlet_aliases
from .index import Index
from .lead import kind_lead
from .quotable import unquotable
from .records import Answer, Citation, Hit
from .rerank import get_reranker
from .text import STOPWORDS, stem, tokenize, words

ABSTAIN_TEXT = "The articles don't answer this question."
#: Put before the quotes of an answer whose evidence is weak but not absent.
INDIRECT_TEXT = "The articles don't say directly; closest passages:"
#: ``Answer.confidence_label``: the quotes answer the question, only come close, or
#: there is no answer (an abstention).
DIRECT, INDIRECT, NONE = "direct", "indirect", "none"
#: ``Answer.reason`` of an indirect answer.
INDIRECT_REASON = "The closest sentences match the question only loosely."
#: ``Answer.reason`` when no passage passes the question and the filters.
NO_PASSAGE_REASON = ("No passage of the articles matches the question and the outlet "
                     "and date filters.")


@dataclass(frozen=True)
class Weights:
    """How the composer weighs its signals, and when it abstains."""

    sentence: float = 0.5
    passage: float = 0.25
    lexical: float = 0.25
    wrong_type: float = 0.1
    missing_name: float = 0.3
    missing_count: float = 0.0
    threshold: float = 0.45
    #: Later quotes must score at least this share of the best one.
    relative_floor: float = 0.85
    #: Sentences this similar to a chosen quote are near-duplicates.
    duplicate_cosine: float = 0.9
    #: An answer whose confidence is less than this above ``threshold`` says it
    #: answers only indirectly (:data:`INDIRECT_TEXT`) ...
    indirect_margin: float = 0.0
    #: ... and so does one whose best sentence holds less than this share of the
    #: question's wording (IDF-weighted, the ``lexical`` signal).
    indirect_coverage: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def recorded_weights(model: str) -> Weights | None:
    """The weights recorded for ``model`` in rag/data/calibration.json, read afresh;
    None when the file or the model's entry is missing."""
    try:
        data = json.loads((resources.files("rag") / "data" / "calibration.json").read_text())
    except (OSError, ValueError):
        return None
    entry = data.get("models", {}).get(model, {}).get("weights")
    if entry is None:
        return None
    known = set(Weights.__dataclass_fields__)
    return Weights(**{k: float(v) for k, v in entry.items() if k in known})


@lru_cache(maxsize=8)
def calibrated_weights(model: str) -> Weights:
    """The weights measured for ``model`` (rag/data/calibration.json), else defaults."""
    return recorded_weights(model) or Weights()


# ---------------------------------------------------------------- scoring


def _coverage(question_terms: set[str], sentence_terms: set[str], idf: dict[str, float]) -> float:
    """IDF-weighted share of the question's content words found in the sentence."""
    if not question_terms:
        return 0.0
    unseen = idf.get("", 1.0)
    weights = {t: idf.get(t, unseen) for t in question_terms}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in sentence_terms) / total if total else 0.0


def question_names(question: str, outlets: Iterable[str] = ()) -> list[tuple[str, ...]]:
    """The names in a question: runs of capitalised words, as stemmed words.

    "Jay Brown" is one name, not two. Mentions of the ``outlets`` are left out:
    an outlet is the article's metadata, rarely in its text.
    """
    return list(_name_runs(question, outlets))


def _name_runs(question: str, outlets: Iterable[str]) -> dict[tuple[str, ...], str]:
    """:func:`question_names`, each with the name as the question writes it."""
    aliases = sorted({a for o in outlets for a in outlet_aliases(o)}, key=len, reverse=True)
    for alias in aliases:
        # A comma ends the name run there, as the outlet's words are not a name.
        question = re.sub(rf"(?<![\w-]){re.escape(alias)}(?![\w-])", ",", question)
    names: dict[tuple[str, ...], str] = {}
    for match in NAME_RUN.finditer(question):
        parts = tuple(stem(w) for w in words(match.group(1)) if w not in STOPWORDS)
        if parts:
            names.setdefault(parts, match.group(1))
    return names


def absent_names(question: str, hits: list[Hit], outlets: Iterable[str] = ()) -> list[str]:
    """The question's names, as it writes them, that no single retrieved passage
    holds in full (see :func:`missing_names`)."""
    passages = [{stem(w) for w in words(hit.text)} for hit in hits]
    return [shown for parts, shown in _name_runs(question, outlets).items()
            if not any(all(p in seen for p in parts) for seen in passages)]


def missing_names(question: str, hits: list[Hit], outlets: Iterable[str] = ()) -> float:
    """Share of the question's names that no single retrieved passage holds in full.

    All words of a name must be in one passage: finding "Jay" in one and "Brown"
    in another is no evidence of Jay Brown. Words are compared as passages are
    split, so "Eul-chul" is "eul" and "chul". Outlet names do not count (see
    :func:`question_names`). Measured on MultiHop-RAG, counting outlet names made
    answerable questions that name an outlet abstain (docs/experiments.md).
    """
    names = question_names(question, outlets)
    if not names:
        return 0.0
    return len(absent_names(question, hits, outlets)) / len(names)


@dataclass(frozen=True)
class Candidate:
    """A sentence considered for quoting, with its signals."""

    row: int
    chunk_id: str
    #: The sentence itself, ``sentence_text(index, row)``.
    text: str
    sentence: float
    passage: float
    lexical: float
    fits_type: bool

    def score(self, w: Weights) -> float:
        return (w.sentence * self.sentence + w.passage * self.passage + w.lexical * self.lexical
                - (0.0 if self.fits_type else w.wrong_type))


def candidates(index: Index, question: str, query_vector: np.ndarray,
               hits: list[Hit]) -> list[Candidate]:
    """Every sentence of the retrieved passages that may be quoted as an answer
    (not a caption, headline, byline or fragment: ``rag.quotable``), with its signals."""
    rows: list[int] = []
    row_hit: dict[int, Hit] = {}
    for hit in hits:
        a_idx = index.article_position[hit.article_id]
        for row in index.sentence_rows(a_idx, hit.start, hit.end).tolist():
            if row not in row_hit:
                row_hit[row] = hit
                rows.append(row)
    if not rows:
        return []
    sentence_sim = index.sentence_vectors_at(rows) @ query_vector
    passage_sim = {
        hit.chunk_id: float(index.chunk_vectors[index.chunk_position[hit.chunk_id]] @ query_vector)
        for hit in hits
    }
    terms = set(tokenize(question))
    idf = index.idf()
    kind = answer_type(question)
    out = []
    for row, sim in zip(rows, sentence_sim.tolist(), strict=True):
        a_idx, start, end = (int(x) for x in index.sentences[row])
        article = index.article_list[a_idx]
        if unquotable(article.text, start, end, article.title) is not None:
            continue
        text = article.text[start:end]
        out.append(Candidate(
            row=row, chunk_id=row_hit[row].chunk_id, text=text, sentence=sim,
            passage=passage_sim[row_hit[row].chunk_id],
            lexical=_coverage(terms, set(tokenize(text)), idf),
            fits_type=fits_type(kind, text),
        ))
    return out


def sentence_text(index: Index, row: int) -> str:
    a_idx, start, end = index.sentences[row]
    return index.article_list[int(a_idx)].text[int(start):int(end)]


def _citation(n: int, index: Index, cand: Candidate, score: float) -> Citation:
    a_idx, start, end = (int(x) for x in index.sentences[cand.row])
    article = index.article_list[a_idx]
    return Citation(
        n=n, quote=article.text[start:end], article_id=article.id, title=article.label,
        source=article.source, published=article.published, url=article.url,
        start=start, end=end, score=round(score, 4), chunk_id=cand.chunk_id,
        source_label=article.source_label, date_label=article.date_label,
    )


def reread_best(index: Index, cands: list[Candidate], hits: list[Hit]) -> int | None:
    """The candidate the cross-encoder scored highest, if it read any hit."""
    read = [h for h in hits if h.rerank_score is not None and h.rerank_span is not None]
    if not read:
        return None
    top = max(read, key=lambda h: h.rerank_score or 0.0)
    want = (index.article_position[top.article_id], *(top.rerank_span or ()))
    for i, cand in enumerate(cands):
        if tuple(int(x) for x in index.sentences[cand.row]) == want:
            return i
    return None


#: Choosing the lead quote, a cross-encoder logit (about -11 for unrelated text, above
#: 5 for a sentence that answers) adds this much to a sentence's score: the
#: composer's signals and the cross-encoder's reading each overrule the other
#: only when clearly surer (seed set, odd ids: answer first 0.62 -> 0.76; even ids,
#: held out, 0.79 -> 0.82; docs/experiments.md).
LEAD_RERANK_WEIGHT = 0.1
#: How many of the best-scoring sentences the cross-encoder reads to choose the lead.
LEAD_POOL = 10


def choose_lead(index: Index, question: str, cands: list[Candidate], scores: np.ndarray,
                order: list[int], hits: list[Hit]) -> int | None:
    """The candidate to quote first when the cross-encoder read the passages (a
    one-part question), else None.

    The cross-encoder reads the best ``LEAD_POOL`` sentences by score, and the
    sentence it scored best at retrieval (:func:`reread_best`), each alone; the
    lead is the one with the highest score plus ``LEAD_RERANK_WEIGHT`` times the
    cross-encoder's logit. Retrieval read only a chunk's two likeliest sentences,
    so the sentence that answers may not have been among them.
    """
    fit = lead_fits(index, question, cands, scores, order, hits)
    return None if fit is None else max(fit, key=lambda i: fit[i])


def lead_fits(index: Index, question: str, cands: list[Candidate], scores: np.ndarray,
              order: list[int], hits: list[Hit]) -> dict[int, float] | None:
    """The candidates :func:`choose_lead` weighs, each with its fit (score plus
    ``LEAD_RERANK_WEIGHT`` times the cross-encoder's logit), in pool order;
    None when the cross-encoder did not read the passages."""
    if not any(h.rerank_score is not None for h in hits):
        return None
    read = reread_best(index, cands, hits)
    pool = list(dict.fromkeys([*order[:LEAD_POOL], *([] if read is None else [read])]))
    logits = get_reranker().score(question, [cands[i].text for i in pool])
    return {i: float(scores[i]) + LEAD_RERANK_WEIGHT * float(x)
            for i, x in zip(pool, logits.tolist(), strict=True)}


def compose(
    index: Index,
    question: str,
    query_vector: np.ndarray,
    hits: list[Hit],
    config: Config,
    weights: Weights | None = None,
    name: str | None = None,
    focus: Sequence[str] = (),
) -> Answer:
    """Build an Answer from ``hits``: quotes with ``[n]`` markers, or an abstention.

    ``name`` is the name a who/what question was read as about (``rag.bridge``):
    the best-scoring sentence that holds it is quoted first, so that the answer
    shows who or what it is, if it scores well enough to be quoted at all
    (``relative_floor``); one that holds its fullest form in the passages
    (``rag.bridge.full_form``: "Sam Bankman-Fried" for "Bankman-Fried") is
    preferred.

    ``focus`` are the user's own new words of an elliptical follow-up ("What
    about in August?": ``("august",)``, ``rag.followup_lead``): a sentence the
    lead was chosen from that holds more of them leads.
    """
    w = weights or calibrated_weights(index.model)
    threshold = config.abstain_threshold if config.abstain_threshold is not None else w.threshold
    cands = candidates(index, question, query_vector, hits)
    if not cands:
        return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, hits=tuple(hits),
                      confidence_label=NONE, reason=NO_PASSAGE_REASON,
                      reason_detail="no passage matched the question and filters")
    scores = np.array([c.score(w) for c in cands])
    order = np.argsort(-scores, kind="stable")
    best = float(scores[order[0]])
    unnamed = missing_names(question, hits, index.sources())
    uncounted = missing_count(question, hits)
    confidence = best - w.missing_name * unnamed - w.missing_count * uncounted
    if confidence < threshold:
        absent = absent_names(question, hits, index.sources()) if unnamed else []
        return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, hits=tuple(hits),
                      confidence=round(confidence, 4), confidence_label=NONE,
                      reason=_plain_why(question, best < threshold, absent if w.missing_name
                                        else [], bool(uncounted and w.missing_count)),
                      reason_detail=_why(question, best, confidence, threshold, w, unnamed,
                                         uncounted))
    vectors = index.sentence_vectors_at([c.row for c in cands])
    floor = w.relative_floor * best
    fits = lead_fits(index, question, cands, scores, order.tolist(), hits)
    lead = None if fits is None else max(fits, key=lambda i: fits[i])
    if lead is None and name:
        # The name in full ("Sam Bankman-Fried") answers "who" better than the
        # surname the passages mostly use; failing that, the name as found.
        for form in dict.fromkeys((full_form(name, hits), name)):
            named = re.compile(rf"\b{re.escape(form)}\b")
            lead = next((i for i in order.tolist() if scores[i] >= floor
                         and named.search(cands[i].text)), None)
            if lead is not None:
                break
    # The first quote holds the kind of thing asked for, if a sentence the lead
    # was chosen from does ("When ...?" led by a date: rag.lead).
    texts, score_list, order_list = [c.text for c in cands], scores.tolist(), order.tolist()
    lead = kind_lead(question, texts, score_list, order_list, lead, floor, fits, LEAD_POOL)
    lead = focus_lead(question, focus, texts, score_list, order_list, lead, fits, LEAD_POOL,
                      index.idf() if focus else None)
    chosen: list[int] = [] if lead is None else [lead]
    # An outlet repeats a sentence across its articles ("Sam Bankman-Fried, the
    # founder of failed cryptocurrency exchange FTX, is on trial …"), and each
    # copy's vector, pooled in its own chunk, differs enough to pass the cosine
    # check: the same words are one quote, whatever their vectors.
    said = {_plain(cands[i].text) for i in chosen}
    for i in order.tolist():
        if len(chosen) >= config.max_quotes or scores[i] < floor:
            break
        words_said = _plain(cands[i].text)
        if words_said in said or any(float(vectors[i] @ vectors[j]) > w.duplicate_cosine
                                     for j in chosen):
            continue
        chosen.append(i)
        said.add(words_said)
    citations = tuple(_citation(n, index, cands[i], float(scores[i]))
                      for n, i in enumerate(chosen, 1))
    text = " ".join(f"“{c.quote}” [{c.n}]" for c in citations)
    label = answer_label(confidence, threshold, cands[int(order[0])].lexical, w)
    if label == INDIRECT:
        text = f"{INDIRECT_TEXT} {text}"
    return Answer(question=question, text=text, citations=citations, hits=tuple(hits),
                  confidence=round(confidence, 4), confidence_label=label,
                  reason=INDIRECT_REASON if label == INDIRECT else "",
                  reason_detail=_why_label(label, confidence, threshold,
                                           cands[int(order[0])].lexical, w))


def answer_label(confidence: float, threshold: float, coverage: float, w: Weights) -> str:
    """:data:`DIRECT` or :data:`INDIRECT` for an answer that passed ``threshold``:
    indirect when its confidence clears the threshold by less than
    ``w.indirect_margin`` or its best sentence (by score) holds less than
    ``w.indirect_coverage`` of the question's wording."""
    weak = confidence < threshold + w.indirect_margin or coverage < w.indirect_coverage
    return INDIRECT if weak else DIRECT


def _why_label(label: str, confidence: float, threshold: float, coverage: float,
               w: Weights) -> str:
    """The numbers behind an answer's label, for ``Answer.reason_detail``."""
    if label == DIRECT:
        return ""
    said = []
    if confidence < threshold + w.indirect_margin:
        said.append(f"confidence {confidence:.2f} is less than {w.indirect_margin:.2f} above "
                    f"the threshold {threshold:.2f}")
    if coverage < w.indirect_coverage:
        said.append(f"the best sentence holds {coverage:.0%} of the question's wording "
                    f"(under {w.indirect_coverage:.0%})")
    return "; ".join(said)


def _plain(text: str) -> str:
    """``text`` for comparing wording: case and spacing ignored."""
    return " ".join(text.split()).casefold()


def _or(names: list[str]) -> str:
    """"A", "A or B", "A, B or C"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _plain_why(question: str, weak: bool, absent: list[str], uncounted: bool) -> str:
    """Why an answer abstained, in plain words for a reader (``Answer.reason``):
    the names no passage mentions, the count no passage gives, or, when the best
    sentence is a weak match by itself (``weak``), that the sentences do not fit."""
    said = []
    if absent:
        said.append(f"None of the closest passages mentions {_or(absent)}.")
    if uncounted:
        noun = counted_noun(question) or ""
        written = next((w for w in words(question) if stem(w) == noun), noun)
        said.append(f"None of the closest passages gives a figure for {written}.")
    if weak or not said:
        said.append("The closest sentences do not match the question well enough "
                    "to quote them as an answer.")
    return " ".join(said)


def _why(question: str, best: float, confidence: float, threshold: float, w: Weights,
         unnamed: float, uncounted: float) -> str:
    """Why an answer abstained, with the numbers, for ``Answer.reason_detail``."""
    causes = [f"the best sentence scores {best:.2f}"]
    if uncounted and w.missing_count:
        causes.append(f"no passage gives a figure for what is counted: {counted_noun(question)} "
                      f"(-{w.missing_count:.2f})")
    if unnamed and w.missing_name:
        causes.append(f"{unnamed:.0%} of the question's names are in no passage "
                      f"(-{w.missing_name * unnamed:.2f})")
    # (+ 0.0 turns a rounded -0.0 into 0.0)
    return "; ".join(causes) + (f": {round(confidence, 2) + 0.0:.2f} is below the threshold "
                                f"{threshold:.2f}")


