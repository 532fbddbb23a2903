import json

from rag.answer import Candidate, Weights
from rag.calibrate import Case, score
from rag.cli import build_parser, main


def _case(qid, kind, sentence, gold=True, missing=0.0):
    cand = Candidate(row=0, chunk_id="c", sentence=sentence, passage=0.0, lexical=0.0,
                     fits_type=True)
    return Case(qid, kind, [cand], [gold], missing)


def test_score_counts_answers_abstentions_and_offtopic():
    cases = [_case("s1", "answerable", 0.9), _case("s3", "answerable", 0.1),
             _case("s5", "unanswerable", 0.1, gold=False), _case("o1", "offtopic", 0.2)]
    s = score(cases, Weights(sentence=1.0, passage=0.0, lexical=0.0, threshold=0.5), 3)
    assert s["answered_right"] == 0.5
    assert s["false_abstention"] == 0.5
    assert s["abstention_recall"] == 1.0
    assert s["abstention_precision"] == 0.5
    assert s["offtopic_abstained"] == 1.0
    assert s["offtopic_max_confidence"] == 0.2


def test_calibrate_accepts_its_documented_options():
    args = build_parser().parse_args(["calibrate", "--write", "--seed", "s.jsonl"])
    assert args.write and args.seed == "s.jsonl" and args.offtopic is None


def test_calibrate_runs_on_the_bundled_index_without_writing(use_default_index, tmp_path,
                                                              capsys):
    seed = tmp_path / "seed.jsonl"
    seed.write_text("\n".join(json.dumps(r) for r in [
        {"id": "s001", "question": "By how much did Chinese exports to North Korea rise in "
                                   "September?", "type": "fact", "answers": ["30.75%"]},
        {"id": "s002", "question": "Who did Pak Myong Ho meet?", "type": "fact",
         "answers": ["Sun Weidong"]},
    ]))
    offtopic = tmp_path / "off.jsonl"
    offtopic.write_text(json.dumps({"id": "o1", "question": "How do I bake sourdough bread?"}))
    assert main(["calibrate", "--seed", str(seed), "--offtopic", str(offtopic)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["weights"]) >= {"sentence", "lexical", "threshold"}
    assert report["dev"]["offtopic_abstained"] == 1.0
