"""Checks on the hand-made seed question set (eval/seed_questions.jsonl).

No model or index needed: only the bundled article files and the JSONL.
"""
import hashlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "rag" / "data" / "articles"
SEED = ROOT / "eval" / "seed_questions.jsonl"

TYPES = {"fact", "paraphrase", "multi_article", "unanswerable"}


def _load():
    records = []
    with SEED.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:  # pragma: no cover - reported below
                raise AssertionError(f"line {n}: invalid JSON: {exc}") from exc
    return records


RECORDS = _load()


def _article_text(name):
    path = ARTICLES / name
    assert path.is_file(), f"missing article file {path}"
    return path.read_bytes().decode("utf-8")


def _ids(records):
    return [r.get("id", "?") for r in records]


def test_counts():
    assert len(RECORDS) >= 50
    by_type = {}
    for r in RECORDS:
        by_type[r["type"]] = by_type.get(r["type"], 0) + 1
    assert by_type.get("unanswerable", 0) >= 10, by_type
    assert by_type.get("multi_article", 0) >= 5, by_type


def test_unique_ids_and_fields():
    ids = [r["id"] for r in RECORDS]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for r in RECORDS:
        fields = {"id", "question", "type", "answers", "article_ids", "evidence", "files"}
        assert set(r) >= fields, r["id"]
        assert r["type"] in TYPES, r["id"]
        assert isinstance(r["question"], str) and r["question"].strip(), r["id"]
        for key in ("answers", "article_ids", "evidence", "files"):
            assert isinstance(r[key], list), (r["id"], key)
            assert all(isinstance(x, str) and x for x in r[key]), (r["id"], key)
        assert len(r["article_ids"]) == len(r["files"]), r["id"]


def test_all_articles_covered():
    files = {p.name for p in ARTICLES.glob("*.txt")}
    used = {f for r in RECORDS for f in r["files"]}
    assert files <= used, f"articles without questions: {sorted(files - used)}"


UNANSWERABLE = [r for r in RECORDS if r["type"] == "unanswerable"]


@pytest.mark.parametrize("rec", UNANSWERABLE, ids=_ids(UNANSWERABLE))
def test_unanswerable_is_empty(rec):
    assert rec["answers"] == []
    assert rec["evidence"] == []
    assert rec["article_ids"] == []
    assert rec["files"] == []


ANSWERABLE = [r for r in RECORDS if r["type"] != "unanswerable"]


@pytest.mark.parametrize("rec", ANSWERABLE, ids=_ids(ANSWERABLE))
def test_article_ids_match_files(rec):
    assert rec["files"], "answerable record without gold articles"
    assert len(set(rec["article_ids"])) == len(rec["article_ids"])
    for aid, name in zip(rec["article_ids"], rec["files"], strict=True):
        text = _article_text(name)
        assert aid == hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], name
    if rec["type"] == "multi_article":
        assert len(rec["files"]) >= 2
    else:
        assert len(rec["files"]) == 1


@pytest.mark.parametrize("rec", ANSWERABLE, ids=_ids(ANSWERABLE))
def test_evidence_verbatim(rec):
    assert rec["evidence"], "answerable record without evidence"
    texts = {name: _article_text(name) for name in rec["files"]}
    supported = set()
    for quote in rec["evidence"]:
        assert "\n" not in quote and "\r" not in quote, quote
        assert quote == quote.strip() and quote, repr(quote)
        hits = [name for name, text in texts.items() if quote in text]
        assert hits, f"evidence not verbatim in {rec['files']}: {quote!r}"
        supported.update(hits)
    # every gold article has at least one evidence quote of its own
    assert supported == set(rec["files"]), sorted(set(rec["files"]) - supported)


@pytest.mark.parametrize("rec", ANSWERABLE, ids=_ids(ANSWERABLE))
def test_answers_in_evidence(rec):
    assert rec["answers"], "answerable record without gold answers"
    lowered = [q.lower() for q in rec["evidence"]]
    for ans in rec["answers"]:
        assert any(ans.lower() in q for q in lowered), f"answer {ans!r} not in any evidence quote"
