import numpy as np
import pytest

import rag
from rag.answer import (
    LEAD_POOL,
    LEAD_RERANK_WEIGHT,
    Weights,
    absent_names,
    calibrated_weights,
    candidates,
    choose_lead,
    compose,
    missing_names,
    recorded_weights,
    sentence_text,
)
from rag.asked import answer_type, counted_noun, fits_type, gives_count, missing_count
from rag.config import Config
from rag.quotable import states_something, unquotable
from rag.records import Hit
from rag.rerank import get_reranker

from .conftest import news_index


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


def test_absent_names_are_given_as_the_question_writes_them():
    hit = Hit(text="Kim met Xi in Beijing.", score=1, rank=1, chunk_id="c", article_id="a",
              title=None, source=None, published=None, url=None, start=0, end=22)
    assert absent_names("Did Kim meet Pak Myong Ho in Beijing or Paris?", [hit]) == [
        "Pak Myong Ho", "Paris"]
    assert absent_names("Did Kim meet Xi?", [hit]) == []


def test_missing_names_matches_hyphenated_names_word_by_word():
    text = "Lim Eul-chul, a professor at Kyungnam University, said so."
    hit = Hit(text=text, score=1, rank=1, chunk_id="c", article_id="a",
              title=None, source=None, published=None, url=None, start=0, end=len(text))
    assert missing_names("Where does Lim Eul-chul teach?", [hit]) == 0.0
    assert missing_names("Where does Kim Yo-jong teach?", [hit]) == 1.0


def test_counted_noun_is_what_a_how_many_question_counts():
    assert counted_noun("How many barrels of crude oil has Russia delivered?") == "barrel"
    assert counted_noun("How many North Korean workers are employed in Russia?") == "worker"
    assert counted_noun("How much coal did China import?") == "coal"
    assert counted_noun("By how many dollars did exports drop?") == "dollar"
    assert counted_noun("How many tourists visited the resort?") == "tourist"
    # Generic or absent: nothing specific to look for.
    assert counted_noun("How many people came back?") is None
    assert counted_noun("How much did Pyongyang buy last month?") is None
    assert counted_noun("How much more did China ship?") is None
    assert counted_noun("Who met Sun Weidong?") is None


def test_a_count_needs_a_figure_shortly_before_the_noun():
    assert gives_count("staff", "14 staff members arrived on March 31.")
    assert gives_count("tourist", "a flow of tens of thousands of tourists a year")
    assert gives_count("dollar", "Trade reached $271.2 million in September.")
    assert not gives_count("barrel", "Russia supplies oil by the barrel, officials said.")
    assert not gives_count("coal", "It imported 228 million dollars of goods, not coal.")


def test_missing_count_is_one_when_no_passage_gives_the_figure():
    text = "North Korea imported more than $228 million worth of goods, including sugar."
    hit = Hit(text=text, score=1, rank=1, chunk_id="c", article_id="a",
              title=None, source=None, published=None, url=None, start=0, end=len(text))
    assert missing_count("How much coal did China import from North Korea?", [hit]) == 1.0
    assert missing_count("How many dollars of goods did North Korea import?", [hit]) == 0.0
    assert missing_count("What goods did North Korea import?", [hit]) == 0.0


def test_calibration_is_recorded_for_the_default_model():
    weights = calibrated_weights(Config().model)
    assert weights != Weights() or weights.threshold > 0
    assert 0 < weights.threshold < 1
    assert recorded_weights(Config().model) == weights


def test_a_model_without_a_calibration_gets_the_default_weights():
    assert recorded_weights("no-such-model") is None
    assert calibrated_weights("no-such-model") == Weights()


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


def test_the_cross_encoders_best_sentence_leads_the_quotes(bundled_index):
    # The seed set's s021: the composer's own signals quote other sentences about the
    # visit; the cross-encoder's best read sentence names the spokesman.
    question = "Which Beijing spokesman refused to go into details of Kim's stay?"
    answer = rag.ask(question, index=bundled_index)
    top = max((h for h in answer.hits if h.rerank_score is not None),
              key=lambda h: h.rerank_score)
    first = answer.citations[0]
    assert (first.article_id, (first.start, first.end)) == (top.article_id, top.rerank_span)
    assert "Lu Kang" in first.quote
    # Without the reranker the composer alone does not quote it.
    plain = rag.ask(question, index=bundled_index, config=Config(rerank_depth=0))
    assert not any("Lu Kang" in c.quote for c in plain.citations)


def test_the_lead_weighs_the_cross_encoders_reading_against_the_score(bundled_index):
    import dataclasses

    question = "By how much did Chinese exports to North Korea rise in September?"
    hits = rag.search(question, index=bundled_index)
    assert any(h.rerank_score is not None for h in hits)
    vector = bundled_index.embedder().encode_query(question)
    cands = candidates(bundled_index, question, vector, hits)
    w = calibrated_weights(bundled_index.model)
    scores = np.array([c.score(w) for c in cands])
    order = np.argsort(-scores, kind="stable").tolist()
    lead = choose_lead(bundled_index, question, cands, scores, order, hits)
    pool = order[:LEAD_POOL]
    logits = get_reranker().score(question, [cands[i].text for i in pool])
    fit = {i: scores[i] + LEAD_RERANK_WEIGHT * x for i, x in zip(pool, logits, strict=True)}
    assert lead == max(fit, key=fit.get)
    answer = compose(bundled_index, question, vector, hits, Config())
    assert answer.citations[0].quote == cands[lead].text
    assert "30.75%" in answer.citations[0].quote
    # Without the cross-encoder's reading, no lead: the best score comes first.
    unread = [dataclasses.replace(h, rerank_score=None, rerank_span=None) for h in hits]
    assert choose_lead(bundled_index, question, cands, scores, order, unread) is None
    plain = compose(bundled_index, question, vector, unread, Config())
    assert plain.citations[0].quote == cands[order[0]].text


def test_the_sentence_that_answers_when_leads(bundled_index):
    # Three sentences of one article say trade is at a six-year high; the one
    # that says when it last was ("since December 2019") answers the question.
    answer = rag.ask("When was the last time trade between China and North Korea was this "
                     "high?", index=bundled_index)
    assert not answer.abstained
    assert "the highest since December 2019" in answer.citations[0].quote
    _no_caption_or_headline(bundled_index, answer)


def test_what_kim_and_xi_agreed_is_not_answered_with_captions(bundled_index):
    # The passages found hold two photo captions naming both leaders; they were
    # quoted as two of the three answers.
    answer = rag.ask("What did Kim Jong Un and Xi Jinping agree on?", index=bundled_index)
    held = " ".join(h.text for h in answer.hits)
    assert "From left:" in held or "A photo released by" in held
    assert answer.citations
    _no_caption_or_headline(bundled_index, answer)
    first = answer.citations[0].quote
    assert "Xi" in first and "Kim" in first


def _no_caption_or_headline(index, answer) -> None:
    for c in answer.citations:
        article = index.articles[c.article_id]
        assert unquotable(article.text, c.start, c.end, article.title) is None, c.quote
        assert "PHOTO]" not in c.quote and "A photo released" not in c.quote
        assert c.quote != article.title


@pytest.mark.parametrize("text, expected", [
    ("the highest since December 2019", True),
    ("on Sept. 4, the two leaders met", True),
    ("Wednesday, 29 May", True),
    ("three years ago", True),
    ("reported on Monday that trade last month reached a high in September", False),
    ("the visit came only a week after the speech", False),
])
def test_when_is_answered_by_a_date_that_stands_on_its_own(text, expected):
    assert fits_type("date", text) is expected


def _sentences(index, hit: Hit) -> list[str]:
    """The sentences of a retrieved passage, quotable or not."""
    a_idx = index.article_position[hit.article_id]
    return [sentence_text(index, row)
            for row in index.sentence_rows(a_idx, hit.start, hit.end).tolist()]


def test_shouted_text_is_never_quoted(bundled_index):
    # A vague question whose passages hold a photo credit in capitals; it used
    # to be quoted as the second sentence of the answer.
    question = "What is the latest news?"
    answer = rag.ask(question, index=bundled_index)
    shouted = [text for hit in answer.hits for text in _sentences(bundled_index, hit)
               if not any(ch.islower() for ch in text)]
    assert "[KOREAN CENTRAL NEWS AGENCY]" in shouted
    assert not answer.abstained
    assert all(any(ch.islower() for ch in c.quote) for c in answer.citations)


def test_a_dateline_is_never_quoted(bundled_index):
    # The Speaker's article is the one from May 2024, and its dateline was the
    # whole answer.
    answer = rag.ask("What happened in May 2024?", index=bundled_index)
    assert "period named: 2024-05-01 to 2024-05-31" in answer.hints
    hit = next(h for h in answer.hits if h.source == "The Speaker")
    assert "Wednesday, 29 May 2024 – 22:46" in _sentences(bundled_index, hit)
    assert not any("22:46" in c.quote for c in answer.citations)
    # Nor the section heading that fits "what happened" next best.
    assert "What's Happening?" not in [c.quote for c in answer.citations]


@pytest.mark.parametrize("text, expected", [
    ("Kim met Xi on Sept. 4.", True),
    ("Fulham 3-0 Aston Villa: October 20, 2022", True),
    ("Updated 10:30 am", True),
    ("Wednesday, 29 May 2024 – 22:46", False),
    ("Sept. 4, 2023", False),
    ("[KOREAN CENTRAL NEWS AGENCY]", False),
    ("CLICK HERE TO GET THE FOX NEWS APP", False),
    ("BY LEE YU-JUNG, CHUNG YEONG-GYO [[email protected]]", False),
    ("U.S. [sic] officials said so.", True),
    ("(The company declined to comment.)", True),
    ("What's Next?", False),
    ("Why It's Important?", False),
    ("Is Sam Bankman-Fried a bad 'man' or a good 'boy'?", True),
    ("Hockenson playing Week 10?", True),
])
def test_what_states_something(text, expected):
    assert states_something(text) is expected


_REPEATED = ("Dana Marlow, the founder of the failed courier firm Swiftline, is on trial for "
             "seven counts of fraud.")


@pytest.fixture(scope="module")
def repeating_index(tmp_path_factory):
    """One outlet repeating a sentence in three articles on unrelated news: each
    copy's vector, pooled in its own chunk, differs (cosine about 0.82)."""
    marathon = ("The city marathon drew forty thousand runners on a cold and windy Sunday "
                "morning. Kenyan athletes took the first three places in the men's race, and a "
                "local teacher won the wheelchair division. Volunteers handed out water at "
                "twenty stations along the route, which crossed five bridges and passed the old "
                "harbour. Organisers said next year's race would start an hour earlier. ")
    apples = ("Farmers in the northern valley are harvesting the largest apple crop in a decade "
              "after a mild spring and a wet summer. Prices at the market fell by a third, and "
              "cider makers bought whole orchards. A new cold store opened near the railway "
              "station, and growers hope to sell fruit abroad for the first time. The regional "
              "council promised grants for young farmers who plant new trees.")
    comet = ("Astronomers at the mountain observatory photographed a comet that will pass "
             "closest to the sun in March. The comet's tail stretches across several degrees of "
             "sky and is visible with binoculars before dawn. Students from three schools joined "
             "the night watch and logged their sightings for a national survey. The observatory "
             "will open its telescopes to the public on the first Friday of each month. ")
    records = [
        {"title": "Day one", "source": "Beta Post", "published_at": "2023-10-02",
         "body": marathon + _REPEATED},
        {"title": "Day two", "source": "Beta Post", "published_at": "2023-10-03",
         "body": _REPEATED + " " + apples},
        {"title": "Day three", "source": "Beta Post", "published_at": "2023-10-04",
         "body": comet + _REPEATED},
        {"title": "Weather", "source": "Alpha Wire", "published_at": "2023-10-05",
         "body": "Heavy rain flooded the river valley and closed two schools."},
    ]
    return news_index(tmp_path_factory, "repeating", records)


def test_a_sentence_an_outlet_repeats_is_quoted_once(repeating_index):
    answer = rag.ask("What charges is the founder of Swiftline on trial for?",
                     index=repeating_index)
    assert not answer.abstained
    assert [c.quote for c in answer.citations].count(_REPEATED) == 1


def test_weak_evidence_is_said_plainly(bundled_index):
    import dataclasses

    from rag.answer import INDIRECT_TEXT

    question = "Who did Pak Myong Ho meet?"
    vector = bundled_index.embedder().encode_query(question)
    hits = rag.search(question, index=bundled_index)
    w = calibrated_weights(bundled_index.model)
    direct = compose(bundled_index, question, vector, hits, Config(), weights=w)
    assert direct.confidence_label == "direct" and not direct.text.startswith(INDIRECT_TEXT)
    # A margin wider than this answer's lead over the threshold makes it indirect.
    margin = direct.confidence - w.threshold + 0.01
    weak = compose(bundled_index, question, vector, hits, Config(),
                   weights=dataclasses.replace(w, indirect_margin=margin))
    assert weak.confidence_label == "indirect"
    assert weak.text.startswith(INDIRECT_TEXT + " “")
    assert [c.quote for c in weak.citations] == [c.quote for c in direct.citations]
    assert weak.reason and "above the threshold" in weak.reason_detail
    assert weak.to_dict()["confidence_label"] == "indirect"
    # So does a best sentence holding less of the question's wording than asked for.
    loose = compose(bundled_index, question, vector, hits, Config(),
                    weights=dataclasses.replace(w, indirect_coverage=1.01))
    assert loose.confidence_label == "indirect" and "wording" in loose.reason_detail
    none = compose(bundled_index, question, vector, hits, Config(abstain_threshold=5.0))
    assert none.abstained and none.confidence_label == "none"
