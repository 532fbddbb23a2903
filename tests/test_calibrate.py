import dataclasses
import json

from rag.answer import Candidate, Weights
from rag.calibrate import Case, score, search_grid
from rag.cli import build_parser, main


def _case(qid, kind, sentence, gold=True, missing=0.0, uncounted=0.0):
    cand = Candidate(row=0, chunk_id="c", text="", sentence=sentence, passage=0.0, lexical=0.0,
                     fits_type=True)
    return Case(qid, kind, [cand], [gold], missing, uncounted=uncounted)


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


def _two(sentences, gold, lead=None):
    cands = [Candidate(row=i, chunk_id="c", text="", sentence=v, passage=0.0, lexical=0.0,
                       fits_type=True) for i, v in enumerate(sentences)]
    return cands, gold, lead


def test_the_cross_encoders_lead_sentence_counts_as_quoted():
    cands, gold, _ = _two([0.9, 0.8, 0.2], [False, False, True])
    w = Weights(sentence=1.0, passage=0.0, lexical=0.0, threshold=0.1)
    plain = Case("s1", "answerable", cands, gold, 0.0)
    led = Case("s1", "answerable", cands, gold, 0.0, lead=2)
    assert score([plain], w, 2)["answered_right"] == 0.0
    assert score([led], w, 2)["answered_right"] == 1.0


def test_recorded_weights_are_kept_on_a_tie():
    cases = [_case("s1", "answerable", 0.9), _case("s3", "unanswerable", 0.05, gold=False),
             _case("o1", "offtopic", 0.0)]
    first, _ = search_grid(cases, 3)
    recorded = dataclasses.replace(first, wrong_type=first.wrong_type + 0.1)
    kept, _ = search_grid(cases, 3, recorded)
    assert kept == recorded
    # Recorded weights that score worse are replaced.
    worse = dataclasses.replace(first, threshold=0.95)
    assert search_grid(cases, 3, worse)[0] == first


def test_a_better_setting_moves_only_the_weights_it_needs():
    # Only the count signal separates the unanswerable question from the answerable one.
    cases = [_case("s1", "answerable", 0.6), _case("s3", "unanswerable", 0.6, gold=False,
                                                   uncounted=1.0),
             _case("o1", "offtopic", 0.0)]
    recorded = Weights(sentence=0.5, passage=0.15, lexical=0.25, wrong_type=0.1,
                       missing_name=0.3, missing_count=0.0, threshold=0.2)
    moved, s = search_grid(cases, 3, recorded)
    assert s["abstention_f1"] == 1.0
    assert moved == dataclasses.replace(recorded, missing_count=0.3)


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


def test_the_indirect_margin_is_found_when_wrong_answers_score_lower():
    from rag.calibrate import indirect_scores, search_indirect

    w = Weights(sentence=1.0, passage=0.0, lexical=0.0, threshold=0.3)
    right = [_case(f"s{i}", "answerable", 0.6 + i / 100) for i in range(1, 20, 2)]
    wrong = [_case("s41", "answerable", 0.33, gold=False),
             _case("s43", "unanswerable", 0.35, gold=False)]
    found, scores = search_indirect(right + wrong, w, 3)
    assert 0.05 < found.indirect_margin <= 0.3
    assert scores["indirect_f1"] == 1.0 and scores["right_labelled_indirect"] == 0.0
    # Nothing to separate: every answer stays direct.
    mixed = [_case("s1", "answerable", 0.4), _case("s3", "unanswerable", 0.4, gold=False)]
    kept, _ = search_indirect(mixed, w, 3)
    assert (kept.indirect_margin, kept.indirect_coverage) == (0.0, 0.0)
    assert indirect_scores(mixed, kept, 3)["indirect_recall"] == 0.0
