"""Follow-up questions: a question that leans on the previous turn, read as the
question it stands for, by rules over the text (no model, the same every time).

"How did China react?", "What about in 2023?", "Who said that?", "And North
Korea?", "When was that?" say too little on their own: retrieval would match
them against anything. :func:`resolve` reads such a question together with the
previous turn (its question, as it was answered, and its answer's quotes) and
writes the question it stands for:

- "Who said that?" (and "according to whom?", "whose words are those?") asks
  who said the previous answer's first quote: ``Who said “…”?``;
- "What about X?", "And X?", "X too?", "In 2023?" keep the previous question
  and put X in: a date replaces its date (or is added), an outlet its outlet, a
  name the name of the same kind (place or not), a word its opposite
  ("imports" for "exports"); what fits nowhere is asked with the previous
  question's subject;
- a bare wh-question ("Why?", "When was that?", "Where did it happen?") asks
  the previous question again with the new wh-word;
- a pronoun with nothing in the question to refer to ("he", "their", "it") is
  replaced by the name it stands for: for "he"/"she", the person the previous
  question was about (the answer to "Who led …?", Kim in "Who did Kim meet?");
- what still leans on the previous turn (a demonstrative, "there", "then",
  "else", "next", a verb with no object such as "react" or "say", or hardly a
  content word) gets the previous question's subject, and the names its answer
  gave, as "…, regarding <subject>?".

A question that gives none of these signs stands on its own and is left as it
is. Only the last turn is read; it carries what was resolved before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .errors import QuestionError
from .followup_rules import OWN_SUBJECT_WORDS, degree_word
from .followup_words import (
    AUX,
    BARE_VERBS,
    BARE_WH,
    CONNECTIVE,
    DEMONSTRATIVES,
    DEMONYM_SET,
    OPPOSITES,
    PERSON_NOUNS,
    PERSON_PRONOUNS,
    POINTING,
    POINTING_LAST,
    THING_PRONOUNS,
    VERB_LIKE,
    WH,
    WH_LEAD,
    WHO_SAID,
    date_prep,
    dates,
    demonym,
    name_kind,
    names_in,
    speakers_first,
)
from .hints import outlet_mentions
from .records import Answer
from .text import STOPWORDS, words

#: Words of a quote put into "Who said “…”?", at most.
QUOTE_WORDS = 30
#: Words of the previous question's subject carried over, at most.
CONTEXT_WORDS = 24


@dataclass(frozen=True)
class Turn:
    """One previous turn: the question as answered, the answer text and its quotes."""

    question: str
    answer: str = ""
    quotes: tuple[str, ...] = ()
    abstained: bool = False


@dataclass(frozen=True)
class Resolution:
    """What :func:`resolve` made of a question: the question to answer, and the
    rule that rewrote it (None when the question stands on its own)."""

    question: str
    rule: str | None = None

    @property
    def changed(self) -> bool:
        return self.rule is not None


# ---------------------------------------------------------------- history

_QUOTED = re.compile(r"“([^”]+)”|\"([^\"]+)\"")
_MARKERS = re.compile(r"\s*\[\d+\]")


def _quotes_of(text: str) -> tuple[str, ...]:
    """The quotes of an answer given as text: what stands in quotation marks,
    else the whole text (its ``[n]`` markers taken out)."""
    found = tuple(q.strip() for m in _QUOTED.finditer(text) for q in m.groups() if q)
    if found:
        return found
    plain = _MARKERS.sub("", text).strip()
    return (plain,) if plain else ()


def _text(value: object, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise QuestionError(f"{what} must be text, got {type(value).__name__}")
    return value.strip()


def _turn(item: object, at: int) -> Turn:
    where = f"history[{at}]"
    if isinstance(item, Turn):
        return item
    if isinstance(item, Answer):
        question = (item.resolved_question or item.question).strip()
        quotes = tuple(c.quote for c in item.citations)
        turn = Turn(question, item.text, quotes, item.abstained)
    elif isinstance(item, Mapping):
        if "question" not in item or not ("answer" in item or "text" in item):
            raise QuestionError(
                f"{where} is a dict without \"question\" and \"answer\": a previous turn is "
                "an Answer, a (question, answer) pair, or a dict with those two keys")
        question = _text(item.get("resolved_question"), f"{where}[\"resolved_question\"]") \
            or _text(item["question"], f"{where}[\"question\"]")
        answer = _text(item.get("answer", item.get("text")), f"{where}[\"answer\"]")
        cites = item.get("citations") or ()
        quotes = tuple(str(c["quote"]) for c in cites
                       if isinstance(c, Mapping) and isinstance(c.get("quote"), str))
        turn = Turn(question, answer, quotes or _quotes_of(answer), bool(item.get("abstained")))
    elif isinstance(item, (tuple, list)):
        if len(item) != 2:
            raise QuestionError(
                f"{where} has {len(item)} items; a previous turn given as a pair is "
                "(question, answer)")
        question = _text(item[0], f"{where}[0] (the question)")
        answer = _text(item[1], f"{where}[1] (the answer)")
        turn = Turn(question, answer, _quotes_of(answer))
    else:
        raise QuestionError(
            f"{where} is a {type(item).__name__}; a previous turn is an Answer, a "
            "(question, answer) pair, or a dict with \"question\" and \"answer\"")
    if not turn.question:
        raise QuestionError(f"{where} has an empty question")
    return turn


def as_turns(history: object) -> list[Turn]:
    """``history`` (previous turns, oldest first) as :class:`Turn` records.

    A turn is an :class:`~rag.records.Answer`, a ``(question, answer_text)``
    pair, or a dict with ``"question"`` and ``"answer"`` (an ``Answer.to_dict()``
    with its ``"text"`` does too). ``QuestionError`` says which turn is wrong.
    """
    if history is None:
        return []
    if isinstance(history, (str, bytes, Mapping, Answer)):
        raise QuestionError(
            f"history must be a list of previous turns, not one {type(history).__name__}; "
            "write [turn] for a single turn")
    if not isinstance(history, Iterable):
        raise QuestionError(f"history must be a list of previous turns, got "
                            f"{type(history).__name__}")
    items = list(history)
    if (len(items) == 2 and all(isinstance(x, str) for x in items)
            and not isinstance(history, list)):
        raise QuestionError("history must be a list of turns; write [(question, answer)] "
                            "for one turn given as a pair")
    return [_turn(item, i) for i, item in enumerate(items)]


# ---------------------------------------------------------------- names


def _answer_names(turn: Turn, outlets: Sequence[str]) -> list[str]:
    """Names the previous answer's first quote gives that its question does not."""
    if turn.abstained or not turn.quotes:
        return []
    asked = {re.sub(r"['’]s$", "", w) for w in words(turn.question)}
    out = []
    for name in names_in(turn.quotes[0], outlets):
        if all(re.sub(r"['’]s$", "", w) in asked for w in words(name)):
            continue
        out.append(name)
    return out


def _person_in_answer(turn: Turn, outlets: Sequence[str]) -> str | None:
    return next((n for n in _answer_names(turn, outlets) if name_kind(n) == "person"), None)


# ---------------------------------------------------------------- reading a question


def _strip(question: str) -> str:
    """The question without a leading "and"/"but"/"so" and closing punctuation."""
    text = CONNECTIVE.sub("", question.strip())
    return re.sub(r"[\s?.!…]+$", "", text).strip()


def _body(question: str) -> str:
    return re.sub(r"[\s?.!…]+$", "", question.strip())


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _content(tokens: Iterable[str]) -> list[str]:
    return [t for t in tokens if t not in STOPWORDS and t not in WH and t not in AUX
            and t not in BARE_VERBS and t not in POINTING and t not in POINTING_LAST
            and t not in ("happen", "happened", "exactly", "more", "details", "tell", "me")]


def _unbound(tokens: list[str], at: int, names_before: Sequence[str]) -> bool:
    """Whether the pronoun at ``tokens[at]`` has nothing before it in the question
    to refer to: for "he"/"she", no person's name and no noun for a person ("the
    spokesman"); for "it"/"they", no name and at most one content word."""
    if tokens[at] in PERSON_PRONOUNS:
        return not any(name_kind(n) == "person" for n in names_before) and not (
            PERSON_NOUNS & set(tokens[:at]))
    return not names_before and len(_content(tokens[:at])) <= 1


def _expletive_it(tokens: list[str], at: int) -> bool:
    """"it" in "is it true that …", "was it that …": it stands for no thing."""
    after = tokens[at + 1: at + 4]
    return bool({"that", "to"} & set(after)) or (at == 1 and tokens[0] in AUX)


def depends_on_previous(question: str, outlets: Sequence[str] = ()) -> bool:
    """Whether ``question`` leans on the previous turn (see the module's doc)."""
    return _signals(question, outlets) != []


def _signals(question: str, outlets: Sequence[str]) -> list[str]:
    text = _strip(question)
    tokens = words(text)
    if not tokens:
        return []
    found: list[str] = []
    if _constraint(text) is not None:
        found.append("what-about")
    if WHO_SAID.match(text) and len(_content(tokens)) <= 2 and (
            _demonstrative(tokens) or tokens[-1] in ("it", "so") or len(tokens) <= 3):
        found.append("who-said")
    if BARE_WH.match(text):
        found.append("wh")
    names = names_in(text, outlets)
    for i, t in enumerate(tokens):
        before = [n for n in names if text.lower().find(n.lower()) < _token_at(text, i)]
        if (t in PERSON_PRONOUNS or (t in THING_PRONOUNS and not (
                t == "it" and _expletive_it(tokens, i)))) and _unbound(tokens, i, before):
            found.append("pronoun")
            break
    if _demonstrative(tokens) or set(tokens) & POINTING or tokens[-1] in POINTING_LAST:
        found.append("pointing")
    if tokens[-1] in BARE_VERBS and len(_content(tokens)) <= 2:
        found.append("bare-verb")
    if len(_content(tokens)) <= 1 and not names:
        found.append("few-words")
    return found


def _token_at(text: str, i: int) -> int:
    """Where the i-th word of ``text`` starts (for "does a name come before it")."""
    for n, m in enumerate(re.finditer(r"[^\W_]+(?:['’][^\W_]+)*%?", text)):
        if n == i:
            return m.start()
    return len(text)


def _demonstrative(tokens: list[str]) -> bool:
    """A "that"/"this" that points back: at the end or near it ("Who said that?",
    "When did that happen?", "Where was that meeting?"), not one that opens a
    clause ("Who said that the talks failed?"), nor one of degree after the
    question's own subject ("… trade with China was this high": ``rag.followup_rules``)."""
    return any(t in DEMONSTRATIVES and len(tokens) - i <= 3 and not (
        degree_word(tokens, i) and len(_content(tokens[:i])) >= OWN_SUBJECT_WORDS)
        for i, t in enumerate(tokens))


_ALL_CAPS_NAME = re.compile(r"^(?:the\s+)?(?:[A-Z][\w'’.&-]*)(?:\s+(?:of\s+)?[A-Z][\w'’.&-]*)*$")


def _constraint(text: str) -> str | None:
    """X of "what about X", "how about X", "and X", "X too", "same for X", or of a
    bare "In 2023?" / "North Korea?"; None when the question is no such ellipsis."""
    m = re.match(r"^(?:what|how)\s+about\s+(.+)$|^what\s+of\s+(.+)$|"
                 r"^(?:the\s+)?same\s+(?:for|with|in)\s+(.+)$", text, re.IGNORECASE)
    if m:
        return next(g for g in m.groups() if g).strip()
    m = re.match(r"^(.+?)\s+(?:too|as\s+well)$", text, re.IGNORECASE)
    if m and _no_predicate(m.group(1)) and len(m.group(1).split()) <= 5:
        return m.group(1).strip()
    original = question_lead = text
    if _no_predicate(question_lead) and len(original.split()) <= 5 and (
            (dates(original) and dates(original)[0].group(0) == original.strip())
            or _ALL_CAPS_NAME.match(re.sub(r"^(?:in|on|at|for|from|with)\s+", "", original))):
        return original.strip()
    return None


def _no_predicate(text: str) -> bool:
    tokens = words(text)
    return bool(tokens) and tokens[0] not in WH and tokens[0] not in AUX and not any(
        t in AUX for t in tokens)


# ---------------------------------------------------------------- writing the question


def _clip(text: str, most: int) -> str:
    """``text`` on one line, at most ``most`` words (cut ones end with "…")."""
    parts = text.split()
    short = " ".join(parts[:most])
    short = short.rstrip(" ,;:.!?“”\"'")
    return short + ("…" if len(parts) > most else "")


def _asks_name(question: str) -> str | None:
    """"who" or "which" (for which/what/whose) when the question asks for a name."""
    m = WH_LEAD.match(_strip(question))
    if m is None:
        return None
    wh = m.group("wh").lower()
    if wh in ("who", "whom", "whose"):
        return "who"
    return "which" if wh in ("which", "what") and m.group("how") is None else None


def _subject(turn: Turn, outlets: Sequence[str]) -> str:
    """What the previous turn was about: its question without the wh-phrase and
    the auxiliary, and the names its answer gave when it asked for a name."""
    q = _strip(turn.question)
    m = WH_LEAD.match(q)
    rest = q[m.end():].strip() if m else q
    first = rest.split(" ", 1)
    if first and first[0].lower() in AUX:
        rest = first[1] if len(first) > 1 else ""
    rest = _clip(rest, CONTEXT_WORDS) if rest else _clip(q, CONTEXT_WORDS)
    asked = _asks_name(turn.question)
    if asked:
        named = _answer_names(turn, outlets)
        if asked == "who":
            named = [n for n in named if name_kind(n) == "person"] or named
        if named:
            rest += " (" + ", ".join(named[:2]) + ")"
    return rest


_PREP_THEN_POINTER = re.compile(
    r"\b(?P<prep>to|about|on|of|with|after|before|over|for|behind|against|at)\s+"
    r"(?:that|this|it|those|these)$", re.IGNORECASE)


def _with_context(text: str, turn: Turn, outlets: Sequence[str]) -> str:
    """``text`` asked about what the previous turn was about: a pointer after a
    preposition ("react to that") becomes the subject, otherwise the subject is
    added ("…, regarding <subject>")."""
    subject = _subject(turn, outlets)
    body = _body(text)
    m = _PREP_THEN_POINTER.search(body)
    if m:
        return _capital(f"{body[:m.end('prep')]} {subject}") + "?"
    return _capital(f"{body}, regarding {subject}") + "?"


def _word_sub(text: str, old: str, new: str) -> str:
    """``text`` with the first whole-word ``old`` replaced by ``new``."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(old)}(?![\w-])", re.IGNORECASE)
    return pattern.sub(lambda _m: new, text, count=1)


_X_NAME = re.compile(r"[A-Z][\w'’.&-]*(?:\s+(?:of\s+)?[A-Z][\w'’.&-]*)*")


def _put_in(previous: str, x: str, outlets: Sequence[str]) -> str | None:
    """The previous question with the constraint ``x`` put in (its date, outlet,
    name or opposite word replaced, or the date or outlet added); None when
    nothing of ``x`` fits."""
    q = _strip(previous)
    applied = False
    found = dates(x)
    if found:
        new = found[0]
        date = new.group("date")
        old = dates(q)
        if old:
            prep = new.group("prep") or (old[0].group("prep") or date_prep(date)
                                         if date_prep(date) else "")
            q = q[:old[0].start()] + (f"{prep} " if prep else "") + date + q[old[0].end():]
        else:
            prep = new.group("prep") or date_prep(date)
            q = f"{q} {prep} {date}" if prep else f"{q} {date}"
        x = x[:new.start()] + x[new.end():]
        applied = True
    mentions = outlet_mentions(x, list(outlets))
    if mentions:
        start, end, _ = mentions[0]
        outlet = x[start:end]
        there = outlet_mentions(q, list(outlets))
        q = (q[:there[0][0]] + outlet + q[there[0][1]:]) if there else \
            f"{q}, as reported by {outlet}"
        x = x[:start] + x[end:]
        applied = True
    for raw in _X_NAME.findall(x):
        name = re.sub(r"^(?:The|In|On|At|For|From|With|And|What|How)\s+", "", raw).strip()
        if not name or name.lower() in STOPWORDS:
            continue
        kind = name_kind(name)
        present = [n for n in names_in(q, outlets) if n.lower() != name.lower()
                   and not dates(n)]
        same = [n for n in present if name_kind(n) == kind]
        target = same[0] if same else (present[0] if len(present) == 1 else None)
        if target is None:
            continue
        new_name = name
        if target.lower() in DEMONYM_SET or (
                target.split()[-1].lower() in DEMONYM_SET and kind == "place"):
            new_name = demonym(name) or name
        q = _word_sub(q, target, new_name)
        applied = True
        break
    for word in words(x):
        other = OPPOSITES.get(word)
        if other and re.search(rf"(?<![\w-]){other}(?![\w-])", q, re.IGNORECASE):
            q = _word_sub(q, other, word)
            applied = True
    return _capital(q) + "?" if applied else None


def _ask_again(turn: Turn, text: str, outlets: Sequence[str]) -> str | None:
    """The previous question asked again with the bare wh-question's wh-phrase
    ("Why?" after "How much did exports rise?" -> "Why did exports rise?");
    None when it cannot be put so."""
    m = BARE_WH.match(text)
    if m is None:
        return None
    new = re.sub(r"\s+exactly$", "", m.group("wh")).lower()
    q = _strip(turn.question)
    tokens = q.split()
    if not tokens:
        return None
    if tokens[0].lower() in AUX:  # a yes/no question: "Did exports rise?"
        return _capital(f"{new} {q[0].lower()}{q[1:]}") + "?"
    lead = WH_LEAD.match(q)
    if lead is None or lead.group(0).lower() == new or lead.group("wh").lower() == new:
        return None
    rest = q[lead.end():].split()
    for i, word in enumerate(rest[:5]):
        if word.lower() in AUX and not any(VERB_LIKE.match(w) for w in rest[:i]):
            return _capital(f"{new} {' '.join(rest[i:])}") + "?"
    verb = next((i for i, w in enumerate(rest) if VERB_LIKE.match(w)), None)
    if verb is None:
        return None
    noun = " ".join(rest[:verb])
    asked = _asks_name(turn.question)
    named = _answer_names(turn, outlets)
    if asked == "who":
        named = [n for n in named if name_kind(n) == "person"]
    subject = named[0] if asked and named else noun
    if not subject:
        return None
    return _capital(f"{new} was it that {subject} {' '.join(rest[verb:])}") + "?"


_PRONOUN = re.compile(r"\b(?:he|she|him|his|her|hers|it|its|they|them|their|theirs)\b",
                      re.IGNORECASE)


_FAMILY = {"him": "he", "his": "he", "her": "she", "hers": "she", "its": "it",
           "them": "they", "their": "they", "theirs": "they"}


def _antecedents(pronoun: str, turn: Turn, outlets: Sequence[str]) -> list[str]:
    """The names a pronoun of the follow-up may stand for, likeliest first (see
    the module's doc)."""
    asked = names_in(_strip(turn.question), outlets)
    named = _answer_names(turn, outlets)
    people_asked = [n for n in asked if name_kind(n) == "person"]
    people_named = speakers_first([n for n in named if name_kind(n) == "person"],
                                   turn.quotes[0] if turn.quotes else "")
    if pronoun in PERSON_PRONOUNS:
        # The person the previous question was about, the subject of its clause:
        # the answer to "Who led …?", the one named in "Who did Kim meet?".
        first = people_named if _asks_person(turn.question) and not (
            people_asked and _object_wh(turn.question)) else people_asked
        pool = first + people_asked + people_named
    elif pronoun in ("it", "its"):
        # "it" is the thing a which/what question asked for; else the event (left
        # to the subject the question is then asked with).
        things = [n for n in named if n.lower() not in DEMONYM_SET]
        pool = things if _asks_name(turn.question) == "which" else []
    else:
        # "they": the people of a who-question; else left to the subject.
        people = people_asked + people_named
        if len(people) >= 2 and _asks_person(turn.question):
            return [f"{people[0]} and {people[1]}"]
        pool = []
    return list(dict.fromkeys(pool))


def _object_wh(question: str) -> bool:
    """Whether the wh-word is the object: "Who did Kim meet?" (Kim the subject)."""
    lead = WH_LEAD.match(_strip(question))
    rest = _strip(question)[lead.end():].split() if lead else []
    return bool(rest) and rest[0].lower() in AUX - {"is", "are", "was", "were"}


def _asks_person(question: str) -> bool:
    """Whether ``question`` asks who: "Who …?", "Which analyst …?"."""
    asked = _asks_name(question)
    return asked == "who" or (asked == "which" and bool(
        PERSON_NOUNS & set(words(_strip(question))[1:4])))


def _replace_pronouns(text: str, turn: Turn, outlets: Sequence[str]) -> str:
    """``text`` with each pronoun that refers to nothing in it replaced by its
    antecedent's name ("his" by "Kim's")."""
    names = names_in(text, outlets)
    out: list[str] = []
    last = 0
    tokens = words(text)
    taken: dict[str, str] = {}  # "she … him": two pronouns, two people
    for m in _PRONOUN.finditer(text):
        pronoun = m.group(0).lower()
        before = [n for n in names if 0 <= text.find(n) < m.start()]
        index = len(words(text[:m.start()]))
        if not _unbound(tokens, index, before) or (
                pronoun == "it" and _expletive_it(tokens, index)):
            continue
        family = _FAMILY.get(pronoun, pronoun)
        name = taken.get(family) or next(
            (n for n in _antecedents(pronoun, turn, outlets) if n not in taken.values()), None)
        if name is None:
            continue
        taken[family] = name
        following = words(text[m.end():])[:1]
        possessive = pronoun in ("his", "its", "their", "theirs", "hers") or (
            pronoun == "her" and bool(following) and following[0] not in STOPWORDS)
        out.append(text[last:m.start()] + (f"{name}'s" if possessive else name))
        last = m.end()
    return "".join(out) + text[last:]


def resolve(question: str, history: object = None, *, outlets: Iterable[str] = ()) -> Resolution:
    """``question`` read with the last turn of ``history`` (see the module's doc).

    ``history`` is as :func:`as_turns` takes it (``QuestionError`` when it is
    not); ``outlets`` are the index's outlet names, so that "What about The
    Speaker?" is read as an outlet. The result's ``rule`` says which rule
    rewrote the question; None when it stands on its own (or there is no turn
    before it), and then ``question`` is returned as given.
    """
    turns = as_turns(history)
    if not turns:
        return Resolution(question)
    turn = turns[-1]
    known = list(outlets)
    signals = _signals(question, known)
    if not signals:
        return Resolution(question)
    text = _strip(question)
    if "who-said" in signals and turn.quotes and not turn.abstained:
        return Resolution(f"Who said “{_clip(turn.quotes[0], QUOTE_WORDS)}”?", "who-said")
    if "what-about" in signals:
        x = _constraint(text) or text
        put = _put_in(turn.question, x, known)
        if put is not None:
            return Resolution(put, "what-about")
        return Resolution(_with_context(text, turn, known), "context")
    if "wh" in signals:
        again = _ask_again(turn, text, known)
        if again is not None:
            return Resolution(again, "wh")
    replaced = _replace_pronouns(text, turn, known)
    if replaced != text:
        left = [s for s in _signals(replaced, known) if s != "few-words"
                or not names_in(replaced, known)]
        if not left:
            return Resolution(_capital(replaced) + "?", "pronoun")
    return Resolution(_with_context(replaced, turn, known), "context")
