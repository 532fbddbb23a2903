import numpy as np
import pytest

import rag
from rag.answer import Weights, answer_type, calibrated_weights, compose, missing_names
from rag.config import Config
from rag.records import Hit


def test_answer_types():
    assert answer_type("How many staff arrived?") == "number"
    assert answer_type("What percentage of trade is with China?") == "number"
    assert answer_type("When did the border close?") == "date"
    assert answer_type("Who met Sun Weidong?") == "person"
    assert answer_type("Where did Kim have lunch?") == "place"
    assert answer_type("Why does it matter?") is None


def test_missing_names_counts_names_absent_from_passages():
    hit = Hit(text="Kim met Xi in Beijing.", score=1, rank=1, chunk_id="c", article_id="a",
              title=None, source=None, published=None, url=None, start=0, end=22)
    assert missing_names("Did Kim meet Xi?", [hit]) == 0.0
    assert missing_names("What is the capital of France?", [hit]) == 1.0
    assert missing_names("what happened?", [hit]) == 0.0


def test_missing_names_matches_hyphenated_names_word_by_word():
    text = "Lim Eul-chul, a professor at Kyungnam University, said so."
    hit = Hit(text=text, score=1, rank=1, chunk_id="c", article_id="a",
              title=None, source=None, published=None, url=None, start=0, end=len(text))
    assert missing_names("Where does Lim Eul-chul teach?", [hit]) == 0.0
    assert missing_names("Where does Kim Yo-jong teach?", [hit]) == 1.0


def test_calibration_is_recorded_for_the_default_model():
    weights = calibrated_weights(Config().model)
    assert weights != Weights() or weights.threshold > 0
    assert 0 < weights.threshold < 1


def test_threshold_override_forces_abstention(bundled_index):
    question = "Who did Pak Myong Ho meet?"
    vector = bundled_index.embedder().encode_query(question)
    hits = rag.search(question, index=bundled_index)
    normal = compose(bundled_index, question, vector, hits, Config())
    assert not normal.abstained and "Sun Weidong" in normal.text
    strict = compose(bundled_index, question, vector, hits, Config(abstain_threshold=5.0))
    assert strict.abstained and strict.hits and not strict.citations


def test_no_hits_abstains(bundled_index):
    answer = compose(bundled_index, "anything", np.zeros(384, dtype=np.float32), [], Config())
    assert answer.abstained and answer.text.startswith("The articles don't")


def _hit(text: str) -> Hit:
    return Hit(text=text, score=1, rank=1, chunk_id="c", article_id="a", title=None,
               source=None, published=None, url=None, start=0, end=len(text))


def test_a_name_must_be_found_whole_in_one_passage():
    hits = [_hit("Jay Leno hosted the show."), _hit("Gordon Brown spoke in London.")]
    assert missing_names("Did Jay Brown speak in London?", hits) == 0.5  # London yes
    assert missing_names("Did Gordon Brown speak in London?", hits) == 0.0
    # Word order and titles around the name do not matter, only one passage.
    assert missing_names("What did Brown Gordon say?", hits) == 0.0


def test_outlet_names_are_not_names_to_find():
    hits = [_hit("Sam Altman was ousted by the board.")]
    question = "Did TechCrunch and The Verge both report that Sam Altman was ousted?"
    assert missing_names(question, hits) == pytest.approx(2 / 3)
    assert missing_names(question, hits, outlets=["TechCrunch", "The Verge"]) == 0.0


def test_only_the_outlet_mention_is_dropped_not_its_words_elsewhere():
    hits = [_hit("Seoul said so.")]
    outlets = ["Korea JoongAng Daily"]
    assert missing_names("Did Korea JoongAng Daily quote Seoul?", hits, outlets) == 0.0
    assert missing_names("Did Korea Herald quote Seoul?", hits, outlets) == 0.5
