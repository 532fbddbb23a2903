"""Two-turn follow-ups: is the second question of a conversation answered right?

``eval/followup_questions.jsonl`` holds one conversation a line: ``id``,
``corpus`` (``bundled`` for the five bundled articles, ``multihop`` for
MultiHop-RAG articles, named by their ``titles``), ``first`` (the first
question), ``followup`` (a question that leans on it: "Who said that?", "What
about in August?") and ``gold``: verbatim strings of the article text, one of
which a right answer to the follow-up quotes.

Each conversation is asked twice: the follow-up with the first turn's answer as
``history`` (what the chat does), and alone, so the report shows what reading
the follow-up with its first turn gains. "Answered right" means the answer
does not abstain and one of its citation quotes contains a gold string (white
space compared loosely).

The MultiHop-RAG conversations are asked over an index of just the articles
they use (cached like every eval index); the bundled ones over the seed index.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import metrics as m

if TYPE_CHECKING:
    from rag.config import Config
    from rag.index import Index
    from rag.records import Answer

CORPORA = ("bundled", "multihop")
#: Share of follow-ups that must be answered right with their first turn (issue 28).
BAR = 0.8


@dataclass(frozen=True)
class FollowUp:
    """One two-turn conversation of the follow-up set."""

    id: str
    corpus: str
    first: str
    followup: str
    gold: tuple[str, ...]
    files: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()


def default_followups_path() -> Path:
    """``eval/followup_questions.jsonl`` of the source checkout (or the current folder)."""
    checkout = Path(__file__).resolve().parents[2] / "eval" / "followup_questions.jsonl"
    return checkout if checkout.is_file() else Path("eval") / "followup_questions.jsonl"


def load_followups(path: Path) -> list[FollowUp]:
    """Read and check the follow-up file; ``ValueError`` names the bad line."""
    out: list[FollowUp] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            item = FollowUp(
                id=str(row["id"]), corpus=str(row["corpus"]), first=str(row["first"]),
                followup=str(row["followup"]), gold=tuple(str(g) for g in row["gold"]),
                files=tuple(row.get("files") or ()), titles=tuple(row.get("titles") or ()),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{lineno}: not a valid follow-up record ({exc})") from exc
        if item.corpus not in CORPORA:
            raise ValueError(f"{path}:{lineno}: corpus {item.corpus!r} is not one of {CORPORA}")
        if not item.gold or not all(item.gold):
            raise ValueError(f"{path}:{lineno}: a follow-up needs gold strings")
        if item.corpus == "multihop" and not item.titles:
            raise ValueError(f"{path}:{lineno}: a multihop follow-up names its article titles")
        out.append(item)
    if not out:
        raise ValueError(f"{path} holds no follow-ups")
    return out


def quotes_gold(answer: Answer, gold: Sequence[str]) -> bool:
    """Whether ``answer`` answers (no abstention) with a quote holding a gold string."""
    if answer.abstained:
        return False
    quotes = [" ".join(c.quote.split()) for c in answer.citations]
    return any(" ".join(g.split()) in q for g in gold for q in quotes)


def multihop_articles(titles: set[str], dataset_dir: Path | None) -> list[dict[str, Any]]:
    """The MultiHop-RAG corpus records with these titles, in corpus order;
    ``FileNotFoundError`` without the data, ``ValueError`` for a title it lacks."""
    from .multihop import default_dataset_dir

    path = (dataset_dir or default_dataset_dir()) / "corpus.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    corpus = json.loads(path.read_text(encoding="utf-8"))
    chosen = [a for a in corpus if a.get("title") in titles]
    missing = titles - {a["title"] for a in chosen}
    if missing:
        raise ValueError(f"MultiHop-RAG has no article titled {sorted(missing)[0]!r}")
    return chosen


def _multihop_index(items: Sequence[FollowUp], config: Config, cache_dir: Path | None,
                    dataset_dir: Path | None, progress: bool) -> Index:
    from .cache import open_index

    records = multihop_articles({t for f in items for t in f.titles}, dataset_dir)
    payload = json.dumps(records, ensure_ascii=False, sort_keys=True)

    def write_corpus(folder: Path) -> list[Path]:
        target = folder / "corpus.json"
        target.write_text(payload, encoding="utf-8")
        return [target]

    handle = open_index(name="followup-multihop",
                        corpus_digest=hashlib.sha256(payload.encode()).hexdigest(),
                        write_corpus=write_corpus, config=config, cache_dir=cache_dir,
                        progress=progress)
    return handle.index


def run_followups(
    *,
    seed_index: Index,
    config: Config,
    limit: int | None = None,
    path: Path | None = None,
    cache_dir: Path | None = None,
    dataset_dir: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Ask every follow-up with and without its first turn; JSON-ready results.

    Returns ``{"skipped": reason}`` when there is no follow-up file. MultiHop-RAG
    conversations are left out (and said to be) when its data is not found.
    """
    import rag

    qpath = path or default_followups_path()
    if not qpath.is_file():
        return {"skipped": f"no follow-up file at {qpath}"}
    everything = load_followups(qpath)
    items = [everything[i] for i in m.evenly_spaced(len(everything), limit)]
    indexes: dict[str, Index] = {"bundled": seed_index}
    notes: list[str] = []
    wanted = [f for f in everything if f.corpus == "multihop"]
    if any(f.corpus == "multihop" for f in items):
        try:
            # Built over every multihop follow-up's articles, so any --limit reuses it.
            indexes["multihop"] = _multihop_index(wanted, config, cache_dir, dataset_dir,
                                                  progress)
        except FileNotFoundError as exc:
            notes.append(f"MultiHop-RAG follow-ups left out: {exc}")
            items = [f for f in items if f.corpus != "multihop"]

    records: list[dict[str, Any]] = []
    violations: list[dict[str, Any]] = []
    n_citations = 0
    for item in items:
        idx = indexes[item.corpus]
        first = rag.ask(item.first, index=idx, config=config)
        with_history = rag.ask(item.followup, index=idx, config=config, history=[first])
        alone = rag.ask(item.followup, index=idx, config=config)
        texts = {aid: a.text for aid, a in idx.articles.items()}
        for answer in (first, with_history, alone):
            cites = [(c.n, c.quote, c.article_id, c.start, c.end) for c in answer.citations]
            n_citations += len(cites)
            violations += [v.to_dict() for v in
                           m.find_verbatim_violations(answer.question, cites, texts)]
        records.append({
            "id": item.id, "corpus": item.corpus, "first": item.first,
            "followup": item.followup, "resolved_question": with_history.resolved_question,
            "right_with_history": quotes_gold(with_history, item.gold),
            "right_alone": quotes_gold(alone, item.gold),
            "first_answer": first.text[:300], "answer_with_history": with_history.text[:300],
            "answer_alone": alone.text[:300],
        })
    return {
        "questions_file": str(qpath), "n_total": len(everything), "notes": notes,
        "bar": BAR, "overall": summarize(records),
        "by_corpus": {c: summarize([r for r in records if r["corpus"] == c])
                      for c in CORPORA if any(r["corpus"] == c for r in records)},
        "citations": n_citations, "violations": violations, "records": records,
    }


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Shares answered right with and without history, and how many were resolved."""
    return {
        "n": len(records),
        "with_history": m.mean(float(r["right_with_history"]) for r in records),
        "without_history": m.mean(float(r["right_alone"]) for r in records),
        "resolved": sum(1 for r in records if r["resolved_question"]),
    }


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def followup_line(results: dict[str, Any]) -> str | None:
    """The follow-up line of the printed table (None when the set was skipped)."""
    block = results.get("followups") or {}
    if "overall" not in block:
        return None
    s = block["overall"]
    met = s["with_history"] is not None and s["with_history"] >= block["bar"]
    return (f"two-turn follow-ups answered right ({s['n']}): with history "
            f"{_fmt(s['with_history'])}, without {_fmt(s['without_history'])} "
            f"(bar {block['bar']}: {'met' if met else 'NOT met'})")


def followup_markdown(results: dict[str, Any]) -> list[str]:
    """The report's follow-up section (empty when the set was skipped)."""
    block = results.get("followups") or {}
    if "overall" not in block:
        return [f"## Two-turn follow-ups\n\nSkipped: {block['skipped']}\n"] if block else []
    rows = [[name, s["n"], s["resolved"], _fmt(s["with_history"]), _fmt(s["without_history"])]
            for name, s in [("all", block["overall"]), *block["by_corpus"].items()]]
    lines = [
        "## Two-turn follow-ups",
        "",
        f"Conversations of `{block['questions_file']}`: the follow-up (\"Who said that?\", "
        "\"What about in August?\") is asked with the first turn's answer as history, and "
        "alone. Answered right: no abstention and a citation quote holds a gold string. "
        f"Bar: {block['bar']} with history. MultiHop-RAG conversations are asked over an "
        "index of just their articles.",
        "",
        "| corpus | n | resolved | right with history | right without history |",
        "|---|---|---|---|---|",
        *("| " + " | ".join(str(c) for c in row) + " |" for row in rows),
        "",
        *(f"> {note}" for note in block["notes"]),
        "| id | follow-up | answered as | with history | alone |",
        "|---|---|---|---|---|",
    ]
    for r in block["records"]:
        cells = [r["id"], r["followup"], r["resolved_question"] or "(as asked)",
                 "yes" if r["right_with_history"] else "no", "yes" if r["right_alone"] else "no"]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return [*lines, ""]
