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

When the cross-encoder read the passages (a one-part question, see
``rag.retrieve``), the sentence it scored highest leads the quotes: it judges a
sentence's fit to the question better than the signals above (seed set:
answers right 0.860 -> 0.912, both calibration halves gain; docs/experiments.md). Its score
is not mixed into the sum, which measured worse, nor used to abstain, as it
does not tell an answer from a sentence on the same topic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from .bridge import full_form
from .config import Config
from .hints import outlet_aliases
from .index import Index
from .records import Answer, Citation, Hit
from .text import MONTHS, STOPWORDS, WEEKDAYS, stem, tokenize, words

ABSTAIN_TEXT = "The articles don't answer this question."
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


# ---------------------------------------------------------------- answer types

_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve dozen dozens hundred "
    "hundreds thousand thousands million millions billion billions trillion half double "
    "twice first second third fourth fifth sixth seventh eighth ninth tenth percent"
).split()
_MONTHS = (*MONTHS, *"jan feb mar apr jun jul aug sep sept oct nov dec".split())
_DAYS = WEEKDAYS
#: Square-bracketed asides: editors' credits and notes, "[email protected]".
_BRACKETED = re.compile(r"\[[^\]]*\]+")
_CLOSING_QUOTES = " \"'”’"
#: Words of three letters or more: the ones a title-cased heading capitalises.
_LONG_WORD = re.compile(r"[^\W\d_][\w'’]{2,}")
_DATELINE_WORDS = frozenset((*_MONTHS, *_DAYS, "am", "pm"))
_RELATIVE_TIME = ("yesterday today tomorrow week month year decade century ago earlier "
                  "later last next recently").split()

_TYPE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("number", re.compile(r"^(how (much|many|often|long|far|old|big|large|high)|"
                          r"(what|which) (percentage|percent|share|amount|number|value|"
                          r"proportion|price|sum|total|rate|figure|size))\b")),
    ("date", re.compile(r"^(when|(what|which|in what) (year|date|month|day|time|period)|"
                        r"since when|how long ago)\b")),
    ("person", re.compile(r"^(who|whom|whose)\b")),
    ("place", re.compile(r"^(where|(what|which|in which|in what) (city|country|town|"
                         r"province|region|place|capital|port|location))\b")),
]


def answer_type(question: str) -> str | None:
    """The kind of answer asked for: number, date, person, place, or None."""
    q = " ".join(words(question))
    # Skip a lead-in such as "according to the report," or "in 2023,".
    q = re.sub(r"^(according to [^,]*,|in [^,]*,|so|and|but|also)\s*", "", q)
    for kind, pattern in _TYPE_PATTERNS:
        if pattern.search(q):
            return kind
    return None


def _has_number(tokens: list[str], text: str) -> bool:
    return bool(re.search(r"\d", text)) or any(t in _NUMBER_WORDS for t in tokens)


def _has_date(tokens: list[str], text: str) -> bool:
    if re.search(r"\b(1[89]|20)\d\d\b", text):
        return True
    return any(t in _MONTHS or t in _DAYS or t in _RELATIVE_TIME for t in tokens)


# A capitalised word, and where one may start a name: not at a sentence's start.
_NAME_WORD = r"(?:[A-Z][a-zA-Z'’.-]+|[A-Z]{2,})"
_NAME_START = r"(?<![.!?]\s)(?<!^)\b"
_NAME = re.compile(rf"{_NAME_START}({_NAME_WORD})")
_NAME_RUN = re.compile(rf"{_NAME_START}({_NAME_WORD}(?:\s+{_NAME_WORD})*)")


def _names(text: str) -> list[str]:
    """Capitalised words that are not sentence-initial: a cheap proper-noun detector."""
    found = []
    for match in _NAME.finditer(text):
        word = match.group(1).strip(".'’").lower()
        if word and word not in STOPWORDS:
            found.append(word)
    return found


def _fits_type(kind: str | None, text: str) -> bool:
    if kind is None:
        return True
    tokens = words(text)
    if kind == "number":
        return _has_number(tokens, text)
    if kind == "date":
        return _has_date(tokens, text)
    return bool(_names(text))  # person or place


# "How many barrels of crude oil ...": what is counted, the noun right after
# "how many"/"how much". Generic ones say nothing about the passage that answers
# ("how many people" is answered by "14 staff members", "how much more" by a
# percentage), so they are not checked.
_COUNTED_GENERIC = frozenset(
    "people person persons time times more less other others money thing things".split())
_COUNT_LEAD = re.compile(r"\bhow (?:many|much)\b")
#: A figure counts a noun when it comes at most this many words before it
#: ("14 staff members", "tens of thousands of tourists").
_COUNT_NEAR = 4
#: Units written as a sign beside the figure ("$228 million").
_UNIT_SIGNS = {"dollar": "$", "euro": "€", "pound": "£", "yen": "¥", "yuan": "¥",
               "percent": "%", "percentage": "%"}


# The noun run ends where the verb starts: "how many tourists visited", "how
# many people came back". Without a tagger, past forms are the usual tell.
_IRREGULAR_PAST = frozenset(
    "became bought brought built came died fell fled gave got held kept left lost made "
    "met paid ran rose sat saw sent sold spent stood took told went won wrote".split())


def _looks_like_verb(token: str) -> bool:
    return token in _IRREGULAR_PAST or (token.endswith("ed") and len(token) > 4)


def counted_noun(question: str) -> str | None:
    """The stemmed noun a "how many"/"how much" question counts, or None.

    "How many North Korean workers are ..." counts "worker"; "How much coal did
    ..." counts "coal"; "How many people ..." and "How much did ..." name
    nothing specific.
    """
    tokens = words(question)
    text = " ".join(tokens)
    match = _COUNT_LEAD.search(text)
    if match is None:
        return None
    run: list[str] = []
    for token in text[match.end():].split():
        if token in STOPWORDS or not token.isalpha() or _looks_like_verb(token):
            break
        run.append(token)
    if not run or run[-1] in _COUNTED_GENERIC:
        return None
    return stem(run[-1])


def gives_count(noun: str, text: str) -> bool:
    """Whether ``text`` gives a figure for ``noun``: a number shortly before it,
    or for a unit written as a sign, a figure with that sign."""
    sign = _UNIT_SIGNS.get(noun)
    if sign is not None and re.search(rf"{re.escape(sign)}\s?\d|\d\s?{re.escape(sign)}", text):
        return True
    tokens = words(text)
    for i, token in enumerate(tokens):
        if stem(token) == noun and any(
            _has_number([t], t) for t in tokens[max(0, i - _COUNT_NEAR): i]
        ):
            return True
    return False


def missing_count(question: str, hits: list[Hit]) -> float:
    """1.0 when the question counts a thing (:func:`counted_noun`) and no retrieved
    passage gives a figure for it, else 0.0.

    A passage on the right topic is no answer to "how many barrels of crude
    oil" unless it gives a number of barrels; the composer cannot tell that
    from similarity alone (docs/experiments.md, seed set).
    """
    noun = counted_noun(question)
    if noun is None:
        return 0.0
    return 0.0 if any(gives_count(noun, hit.text) for hit in hits) else 1.0


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
    for match in _NAME_RUN.finditer(question):
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
    """Every sentence of the retrieved passages, with its signals."""
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
    sentence_sim = index.sentence_vectors[rows] @ query_vector
    passage_sim = {
        hit.chunk_id: float(index.chunk_vectors[index.chunk_position[hit.chunk_id]] @ query_vector)
        for hit in hits
    }
    terms = set(tokenize(question))
    idf = index.idf()
    kind = answer_type(question)
    out = []
    for row, sim in zip(rows, sentence_sim.tolist(), strict=True):
        text = sentence_text(index, row)
        if not states_something(text):
            continue
        out.append(Candidate(
            row=row, chunk_id=row_hit[row].chunk_id, text=text, sentence=sim,
            passage=passage_sim[row_hit[row].chunk_id],
            lexical=_coverage(terms, set(tokenize(text)), idf),
            fits_type=_fits_type(kind, text),
        ))
    return out


def states_something(text: str) -> bool:
    """Whether ``text`` can be quoted as saying something.

    Text with no lower-case letter outside square brackets is shouted, not said: a
    photo credit ("[KOREAN CENTRAL NEWS AGENCY]"), a call to action ("CLICK HERE
    TO GET THE … APP"), a byline ("BY LEE YU-JUNG [[email protected]]"), a
    section label. A question with every word capitalised ("What's Next?") is a
    section heading; a question headline in sentence case ("Is Sam Bankman-Fried
    a bad 'man' or a good 'boy'?") stays, since it may be the only sentence that
    names the answer. A dateline ("Wednesday, 29 May 2024 – 22:46") is only a
    date. None of these states anything to quote.
    """
    if not any(ch.islower() for ch in _BRACKETED.sub("", text)):
        return False
    if text.rstrip(_CLOSING_QUOTES).endswith("?") and all(
            w[0].isupper() for w in _LONG_WORD.findall(text)):
        return False
    return any(not (w[0].isdigit() or w in _DATELINE_WORDS) for w in words(text))


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


def compose(
    index: Index,
    question: str,
    query_vector: np.ndarray,
    hits: list[Hit],
    config: Config,
    weights: Weights | None = None,
    name: str | None = None,
) -> Answer:
    """Build an Answer from ``hits``: quotes with ``[n]`` markers, or an abstention.

    ``name`` is the name a who/what question was read as about (``rag.bridge``):
    the best-scoring sentence that holds it is quoted first, so that the answer
    shows who or what it is, if it scores well enough to be quoted at all
    (``relative_floor``); one that holds its fullest form in the passages
    (``rag.bridge.full_form``: "Sam Bankman-Fried" for "Bankman-Fried") is
    preferred.
    """
    w = weights or calibrated_weights(index.model)
    threshold = config.abstain_threshold if config.abstain_threshold is not None else w.threshold
    cands = candidates(index, question, query_vector, hits)
    if not cands:
        return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, hits=tuple(hits),
                      reason=NO_PASSAGE_REASON,
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
                      confidence=round(confidence, 4),
                      reason=_plain_why(question, best < threshold, absent if w.missing_name
                                        else [], bool(uncounted and w.missing_count)),
                      reason_detail=_why(question, best, confidence, threshold, w, unnamed,
                                         uncounted))
    vectors = index.sentence_vectors[[c.row for c in cands]]
    floor = w.relative_floor * best
    lead = reread_best(index, cands, hits)
    if lead is None and name:
        # The name in full ("Sam Bankman-Fried") answers "who" better than the
        # surname the passages mostly use; failing that, the name as found.
        for form in dict.fromkeys((full_form(name, hits), name)):
            named = re.compile(rf"\b{re.escape(form)}\b")
            lead = next((i for i in order.tolist() if scores[i] >= floor
                         and named.search(cands[i].text)), None)
            if lead is not None:
                break
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
    return Answer(question=question, text=text, citations=citations, hits=tuple(hits),
                  confidence=round(confidence, 4))


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


