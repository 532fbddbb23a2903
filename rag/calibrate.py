"""Measure the composer's weights and abstention threshold, and record them.

``python -m rag.calibrate`` (or ``rag calibrate``) scores every candidate
sentence of a *development* half of the seed questions (odd ids) plus a few
off-topic questions, searches a small grid of weights, and keeps the setting
that answers the most answerable questions (gold string in the chosen quotes)
while abstaining best on the unanswerable ones (F1), subject to abstaining on
every off-topic question and wrongly abstaining on at most 10% of answerable
ones. The even-id half is reported as held out. The result is written to
``rag/data/calibration.json`` with the figures that justify it. Nothing is
tuned per question: the grid is coarse and the objective is global.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .answer import (
    Candidate,
    Weights,
    candidates,
    missing_names,
    recorded_weights,
    reread_best,
)
from .api import get_index, question_hints, question_inputs, reranker_for
from .asked import missing_count
from .config import Config
from .index import Index
from .retrieve import retrieve

REPO = Path(__file__).resolve().parents[1]
GRID = {
    "sentence": [0.4, 0.5, 0.6],
    "passage": [0.0, 0.15, 0.3],
    "lexical": [0.1, 0.25, 0.4],
    "wrong_type": [0.0, 0.1, 0.2],
    "missing_name": [0.0, 0.3],
    "missing_count": [0.0, 0.3],
}
THRESHOLDS = [round(t, 2) for t in np.arange(0.15, 0.75, 0.01)]
#: The threshold must clear every off-topic question's confidence by this much,
#: so that off-topic questions unlike the calibration ones are abstained too.
OFFTOPIC_MARGIN = 0.05
#: Wrongly abstaining on answerable questions costs users most: cap it.
MAX_FALSE_ABSTENTION = 0.10


@dataclass
class Case:
    qid: str
    kind: str  # "answerable", "unanswerable" or "offtopic"
    cands: list[Candidate]
    gold: list[bool]  # per candidate: holds a gold answer string
    missing: float
    lead: int | None = None  # the candidate the cross-encoder read best, quoted first
    uncounted: float = 0.0  # counts a thing no passage gives a figure for


def load_cases(index: Index, config: Config, seed_path: Path, offtopic_path: Path) -> list[Case]:
    """Retrieve once per question and keep the candidates' signals."""
    cases = []
    records = [json.loads(x) for x in seed_path.read_text().splitlines() if x.strip()]
    records += [{**json.loads(x), "type": "offtopic", "answers": []}
                for x in offtopic_path.read_text().splitlines() if x.strip()]
    for r in records:
        q = r["question"]
        vector, parts, part_vectors, part_model_vectors = question_inputs(index, q, config)
        hits = retrieve(index, q, vector, k=config.k, config=config,
                        hints=question_hints(index, q), reranker=reranker_for(config, q),
                        parts=parts, part_vectors=part_vectors,
                        part_model_vectors=part_model_vectors)
        cands = candidates(index, q, vector, hits)
        answers = [a.lower() for a in r["answers"]]
        gold = [any(a in c.text.lower() for a in answers) for c in cands]
        kind = {"unanswerable": "unanswerable", "offtopic": "offtopic"}.get(r["type"],
                                                                           "answerable")
        cases.append(Case(r["id"], kind, cands, gold, missing_names(q, hits, index.sources()),
                          reread_best(index, cands, hits), missing_count(q, hits)))
    return cases


def _decisions(cases: list[Case], w: Weights, max_quotes: int) -> list[tuple[float, bool]]:
    """(confidence, gold string among the quotes) per case, as compose() would pick."""
    return [(c, g) for c, g, _ in _decisions_with_coverage(cases, w, max_quotes)]


def _decisions_with_coverage(cases: list[Case], w: Weights,
                             max_quotes: int) -> list[tuple[float, bool, float]]:
    """:func:`_decisions`, each with the lexical coverage of the best-scoring sentence."""
    out = []
    for case in cases:
        if not case.cands:
            out.append((-1.0, False, 0.0))
            continue
        scores = np.array([c.score(w) for c in case.cands])
        order = np.argsort(-scores, kind="stable")
        best = float(scores[order[0]])
        lead = [] if case.lead is None else [case.lead]
        rest = [i for i in order if i != case.lead][: max_quotes - len(lead)]
        picked = lead + [i for i in rest if scores[i] >= w.relative_floor * best]
        confidence = best - w.missing_name * case.missing - w.missing_count * case.uncounted
        out.append((confidence, any(case.gold[i] for i in picked),
                    case.cands[int(order[0])].lexical))
    return out


#: The margins searched for answers labelled indirect (``Weights.indirect_margin``,
#: ``Weights.indirect_coverage``).
INDIRECT_MARGINS = [round(x, 2) for x in np.arange(0.0, 0.21, 0.01)]
INDIRECT_COVERAGES = [round(x, 2) for x in np.arange(0.0, 0.51, 0.05)]
#: An answer that is right is labelled indirect at most this often: "the articles
#: don't say directly" before a right answer misleads.
MAX_RIGHT_INDIRECT = 0.10


def indirect_scores(cases: list[Case], w: Weights, max_quotes: int) -> dict[str, float]:
    """How well ``w``'s indirect label marks the answers that are not right.

    Among the cases answered (confidence at or above the threshold): a wrong
    one is an answerable case whose quotes lack its gold string, or an
    unanswerable one. Precision, recall and F1 of labelling those indirect, and
    the share of right answers labelled indirect.
    """
    from .answer import INDIRECT, answer_label

    flagged_wrong = flagged_right = wrong = right = 0
    for case, (conf, gold, coverage) in zip(cases, _decisions_with_coverage(
            cases, w, max_quotes), strict=True):
        if case.kind == "offtopic" or conf < w.threshold:
            continue
        is_wrong = case.kind == "unanswerable" or not gold
        is_flagged = answer_label(conf, w.threshold, coverage, w) == INDIRECT
        wrong += is_wrong
        right += not is_wrong
        flagged_wrong += is_flagged and is_wrong
        flagged_right += is_flagged and not is_wrong
    flagged = flagged_wrong + flagged_right
    precision = flagged_wrong / flagged if flagged else 0.0
    recall = flagged_wrong / wrong if wrong else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"indirect_precision": precision, "indirect_recall": recall, "indirect_f1": f1,
            "right_labelled_indirect": flagged_right / right if right else 0.0,
            "n_answered_wrong": float(wrong), "n_answered_right": float(right)}


def search_indirect(cases: list[Case], w: Weights,
                    max_quotes: int) -> tuple[Weights, dict[str, float]]:
    """``w`` with the indirect margin and coverage floor that best mark wrong answers
    (F1) while labelling at most ``MAX_RIGHT_INDIRECT`` of right ones; the smallest
    margins win ties, and with no gain both stay 0 (every answer direct)."""
    best = (0.0, replace(w, indirect_margin=0.0, indirect_coverage=0.0))
    for margin in INDIRECT_MARGINS:
        for coverage in INDIRECT_COVERAGES:
            trial = replace(w, indirect_margin=margin, indirect_coverage=coverage)
            s = indirect_scores(cases, trial, max_quotes)
            if s["right_labelled_indirect"] > MAX_RIGHT_INDIRECT:
                continue
            if s["indirect_f1"] > best[0] + 1e-9:
                best = (s["indirect_f1"], trial)
    return best[1], indirect_scores(cases, best[1], max_quotes)


def score(cases: list[Case], w: Weights, max_quotes: int) -> dict[str, float]:
    """Answer rate, abstention precision/recall/F1 and off-topic abstention at ``w``."""
    decided = _decisions(cases, w, max_quotes)
    ans = [(c, g) for case, (c, g) in zip(cases, decided, strict=True)
           if case.kind == "answerable"]
    una = [c for case, (c, _) in zip(cases, decided, strict=True) if case.kind == "unanswerable"]
    off = [c for case, (c, _) in zip(cases, decided, strict=True) if case.kind == "offtopic"]
    t = w.threshold
    right = sum(1 for c, g in ans if g and c >= t) / max(1, len(ans))
    false_abstain = sum(1 for c, _ in ans if c < t)
    true_abstain = sum(1 for c in una if c < t)
    precision = true_abstain / (true_abstain + false_abstain) if true_abstain else 0.0
    recall = true_abstain / max(1, len(una))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"answered_right": right, "false_abstention": false_abstain / max(1, len(ans)),
            "abstention_precision": precision, "abstention_recall": recall,
            "abstention_f1": f1,
            "offtopic_abstained": sum(1 for c in off if c < t) / max(1, len(off)),
            "offtopic_max_confidence": max(off, default=-1.0)}


def search_grid(cases: list[Case], max_quotes: int,
                current: Weights | None = None) -> tuple[Weights, dict[str, float]]:
    """The grid setting with the best objective. Among settings that tie, the one
    that changes fewest of ``current``'s weights (the recorded ones) wins, and
    ``current`` itself is kept when nothing scores better: a recalibration moves
    a weight only on evidence, not on the grid's order among ties."""
    best: tuple[float, int, Weights, dict[str, float]] | None = None
    for values in itertools.product(*GRID.values()):
        base = Weights(**dict(zip(GRID, values, strict=True)))
        for t in THRESHOLDS:
            w = replace(base, threshold=t)
            s = score(cases, w, max_quotes)
            if (s["offtopic_max_confidence"] + OFFTOPIC_MARGIN > t
                    or s["false_abstention"] > MAX_FALSE_ABSTENTION):
                continue
            objective = s["answered_right"] + s["abstention_f1"]
            moved = _moved(w, current)
            if best is None or objective > best[0] + 1e-9 or (
                    objective > best[0] - 1e-9 and moved < best[1]):
                best = (objective, moved, w, s)
    if best is None:
        raise RuntimeError("no setting abstains on every off-topic question with the margin")
    if current is not None:
        s = score(cases, current, max_quotes)
        if (s["offtopic_max_confidence"] + OFFTOPIC_MARGIN <= current.threshold
                and s["false_abstention"] <= MAX_FALSE_ABSTENTION
                and s["answered_right"] + s["abstention_f1"] >= best[0] - 1e-9):
            return current, s
    return best[2], best[3]


def _moved(w: Weights, current: Weights | None) -> int:
    """How many of the grid's weights (and the threshold) differ from ``current``."""
    if current is None:
        return 0
    return sum(getattr(w, name) != getattr(current, name) for name in [*GRID, "threshold"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rag calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", metavar="FILE")
    parser.add_argument("--offtopic", metavar="FILE")
    parser.add_argument("--write", action="store_true", help="update rag/data/calibration.json")
    parser.add_argument("--model", metavar="NAME")
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """``rag calibrate``: measure, print, and with ``--write`` record the weights."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = getattr(args, "model", None)
    config = Config() if model is None else Config(model=model)
    if config.model == Config().model:
        return _calibrate(args, config, get_index(None))
    # Another model: the bundled articles, indexed with it in a scratch folder.
    import tempfile

    from .articles import bundled_corpus_dir
    from .build import build_index
    from .index import load_index

    with tempfile.TemporaryDirectory(prefix="rag-calibrate-") as scratch:
        build_index([bundled_corpus_dir()], Path(scratch), config=config, progress=False)
        return _calibrate(args, config, load_index(Path(scratch), config=config))


def _calibrate(args: argparse.Namespace, config: Config, index: Index) -> int:
    seed = Path(args.seed or REPO / "eval" / "seed_questions.jsonl")
    offtopic = Path(args.offtopic or REPO / "eval" / "offtopic_questions.jsonl")
    cases = load_cases(index, config, seed, offtopic)
    dev = [c for c in cases if c.kind == "offtopic" or int(c.qid.lstrip("s")) % 2 == 1]
    held = [c for c in cases if c.kind != "offtopic" and int(c.qid.lstrip("s")) % 2 == 0]
    weights, dev_scores = search_grid(dev, config.max_quotes, recorded_weights(index.model))
    weights, dev_indirect = search_indirect(dev, weights, config.max_quotes)
    held_scores = score(held + [c for c in cases if c.kind == "offtopic"], weights,
                        config.max_quotes)
    dev_scores.update(dev_indirect)
    held_scores.update(indirect_scores(held, weights, config.max_quotes))
    report: dict[str, Any] = {
        "weights": weights.to_dict(),
        "measured": datetime.now(UTC).date().isoformat(),
        "method": "grid search on the seed set's odd ids plus eval/offtopic_questions.jsonl; "
                  "objective answered_right + abstention_f1, every off-topic abstained "
                  f"with a margin of {OFFTOPIC_MARGIN}, false abstention at most "
                  f"{MAX_FALSE_ABSTENTION}; the recorded weights are kept unless a setting "
                  "scores better; then the indirect margin and coverage floor that best "
                  "label wrong answers indirect (F1), labelling at most "
                  f"{MAX_RIGHT_INDIRECT} of right answers so",
        "dev": {k: round(v, 3) for k, v in dev_scores.items()},
        "held_out_even_ids": {k: round(v, 3) for k, v in held_scores.items()},
    }
    print(json.dumps(report, indent=2))
    if args.write:
        path = Path(str(resources.files("rag") / "data" / "calibration.json"))
        data = json.loads(path.read_text())
        data.setdefault("models", {})[index.model] = report
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
