"""The held-out check of the lead rules (rag/lead.py, rag/followup_lead.py).

``eval/heldout_lead_questions.jsonl`` (the seed set's schema, plus the
``titles`` of the MultiHop-RAG articles each question is about) and
``eval/heldout_lead_followups.jsonl`` (the follow-up set's schema) were written
from three MultiHop-RAG articles the seed set does not use, after the rules
were written, to see whether the rules generalise beyond the questions they
were chosen on. This asks them over an index of just those articles (cached
like the eval indexes, in ``$RAG_EVAL_CACHE``) and prints the answer-first
rate and answers right, overall and by odd / even id, and the follow-ups
answered right with history.

    PYTHONPATH=. python benchmarks/heldout_lead.py [--dataset DIR] [--json OUT]

Run it with ``PYTHONPATH`` pointing at another checkout to measure that code
("before"): it uses only ``rag``'s public API and ``rag.evaluation``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "heldout_lead_questions.jsonl"
FOLLOWUPS = ROOT / "eval" / "heldout_lead_followups.jsonl"


def _titles(path: Path) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return sorted({t for row in rows for t in row["titles"]})


def _share(records: list[dict[str, Any]], key: str) -> str:
    vals = [r[key] for r in records if r.get(key) is not None]
    return f"{sum(vals)}/{len(vals)} = {sum(vals) / len(vals):.3f}" if vals else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=None, help="MultiHop-RAG folder")
    parser.add_argument("--json", type=Path, default=None, help="write the records here")
    args = parser.parse_args()

    import dataclasses

    import rag
    from rag.evaluation.cache import open_index
    from rag.evaluation.followup import multihop_articles, run_followups
    from rag.evaluation.seed import load_questions, score_question

    records = multihop_articles(set(_titles(QUESTIONS)), args.dataset)
    payload = json.dumps(records, ensure_ascii=False, sort_keys=True)

    def write_corpus(folder: Path) -> list[Path]:
        target = folder / "corpus.json"
        target.write_text(payload, encoding="utf-8")
        return [target]

    config = rag.Config()
    digest = hashlib.sha256(payload.encode()).hexdigest()
    idx = open_index(name="heldout-lead", corpus_digest=digest, write_corpus=write_corpus,
                     config=config, progress=False).index
    by_title = {a.title: a.id for a in idx.article_list}
    rows = {json.loads(line)["id"]: json.loads(line)
            for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line}
    out = []
    for q in load_questions(QUESTIONS):
        q = dataclasses.replace(q, article_ids=tuple(by_title[t] for t in rows[q.id]["titles"]))
        hits = rag.search(q.question, k=10, index=idx, config=config)
        answer = rag.ask(q.question, index=idx, config=config)
        rec = score_question(q, hits, answer, idx)
        out.append(rec)
        print(f"{q.id} first={rec.get('answer_first')} right={rec.get('answer_correct')} "
              f"{q.question}")
    turns = run_followups(seed_index=idx, config=config, path=FOLLOWUPS,
                          dataset_dir=args.dataset, progress=False)
    for r in turns["records"]:
        print(f"{r['id']} right_with_history={r['right_with_history']} {r['followup']} "
              f"-> {r['resolved_question']}")
    answerable = [r for r in out if r["answerable"]]
    for name, part in (("all", answerable),
                       ("odd", [r for r in answerable if int(r["id"][1:]) % 2]),
                       ("even", [r for r in answerable if not int(r["id"][1:]) % 2])):
        print(f"{name}: answer first {_share(part, 'answer_first')}, "
              f"answers right {_share(part, 'answer_correct')}")
    fu = turns["records"]
    print(f"follow-ups answered right with history: {_share(fu, 'right_with_history')}, "
          f"alone: {_share(fu, 'right_alone')}")
    if args.json:
        args.json.write_text(json.dumps({"questions": out, "followups": turns["records"]},
                                        indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
