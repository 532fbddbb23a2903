"""The lead quote holds the kind asked for (rag/lead.py), and an elliptical
follow-up is led by the user's own new words (rag/followup_lead.py)."""
import json
from pathlib import Path

import pytest

import rag
from rag.followup_lead import focus_lead, new_words
from rag.lead import DATE, FIGURE, LIST, MONEY, asked_kind, given_numbers, holds_kind, kind_lead

ROOT = Path(__file__).resolve().parents[1]

# Sentences of the bundled articles and of MultiHop-RAG, verbatim.
SEALED = ("The delegation, assigned to a facility commemorating Chinese soldiers killed during "
          "the Korean War, marks the first such entry since the border was sealed in early 2020.")
REOPENING = ("What Happened: On Saturday, the North Korean state media said that the country has "
             "been progressively reopening its borders following the pandemic lockdown.")
TRADE = ("Trade between North Korea and China reached $271.2 million, the highest since December "
         "2019, when it totaled $279 million.")
EXPORTS = ("Chinese exports to North Korea experienced a significant increase in September, "
           "marking a 30.75% rise year-on-year, according to data from China's General "
           "Administration of Customs.")
KEY_EXPORTS = ("Key exports included soybean oil, processed hair and wool for wig-making, "
               "petroleum bitumen, and granulated sugar.")
AUGUST = "This surge follows a decline in August, highlighting a renewed economic engagement."
ARRESTED = "Bankman-Fried was arrested in December 2022 in the Bahamas, where FTX was based."
JAIL = "He could face up to 115 years in jail if convicted on all charges."


@pytest.mark.parametrize(("question", "kind"), [
    ("When did North Korea seal its border because of the pandemic?", DATE),
    ("In what year will Ohtani try to pitch again?", DATE),
    ("How many workers did Sono lay off?", FIGURE),
    ("By how much did Chinese exports to North Korea rise in September?", FIGURE),
    ("What share of trade goes to China?", FIGURE),  # a share is a part, not money
    ("What percentage of the vote did she win?", FIGURE),
    ("How much did the company pay for the startup?", MONEY),
    ("What was the combined value of goods moving between the two countries?", MONEY),
    ("What did the ElectraMeccanica Solo cost?", None),  # no figure asked in its first words
    ("What goods did China sell to North Korea in September?", LIST),
    ("Which countries signed the deal?", LIST),
    ("What were the key Chinese exports to North Korea?", LIST),
    ("Was road-paving material among China's exports to the North?", LIST),
    ("Which senior Beijing leader flew to the North Korean capital?", None),
    ("Which American spokesperson said Washington still wants to talk?", None),
    ("Which company offers the cheapest plan?", None),  # "offers" is the verb
    ("What are the international penalties on Pyongyang imposed over?", None),  # asks why
    ("Who represents Beijing as envoy in Pyongyang?", None),
])
def test_the_kind_a_question_asks_for_is_read_from_its_first_words(question, kind):
    assert asked_kind(question) == kind


def test_a_sentence_holds_a_kind_by_how_news_writes_it():
    assert holds_kind(DATE, SEALED) and not holds_kind(DATE, REOPENING)  # "Saturday" alone
    assert holds_kind(MONEY, TRADE) and not holds_kind(MONEY, EXPORTS)  # a rate is no sum
    assert holds_kind(FIGURE, EXPORTS) and holds_kind(FIGURE, JAIL)
    assert holds_kind(LIST, KEY_EXPORTS) and not holds_kind(LIST, AUGUST)
    # A year is not a count, nor is a number the question gives itself.
    assert not holds_kind(FIGURE, ARRESTED)
    asked = given_numbers("How many home runs did Ohtani hit in 2023?")
    assert not holds_kind(FIGURE, "In 2023, Ohtani led the league in homers.", asked)
    assert holds_kind(FIGURE, "He swatted 44 homers with a career-best 1.066 OPS.", asked)


def test_the_lead_is_promoted_only_to_a_pool_sentence_holding_the_kind():
    question = "When did North Korea seal its border because of the pandemic?"
    texts = [REOPENING, TRADE, SEALED, EXPORTS]
    scores = [0.30, 0.35, 0.36, 0.20]
    order = [2, 1, 0, 3]
    fits = {0: 0.72, 1: 0.71, 2: 0.30}  # the cross-encoder's pool: REOPENING best
    # Of the two dated sentences, the one dating the sealing, not "the highest since".
    assert kind_lead(question, texts, scores, order, 0, 0.25, fits) == 2
    # A lead that holds the kind stays; so does one with no dated sentence to take over.
    assert kind_lead(question, texts, scores, order, 2, 0.25, fits) == 2
    assert kind_lead(question, texts, scores, order, 0, 0.25, {0: 0.7, 3: 0.1}) == 0
    # Below the composer's floor for a quote, no promotion.
    assert kind_lead(question, texts, scores, order, 0, 0.37, fits) == 0
    # A question that names no kind is left as it is.
    assert kind_lead("Why did the border close?", texts, scores, order, 0, 0.25, fits) == 0


def test_an_elliptical_follow_up_is_led_by_the_users_new_words():
    previous = "By how much did Chinese exports to North Korea rise in September?"
    assert new_words("What about in August?", previous) == ("august",)
    assert new_words("What about for people leading the meeting?",
                     "What does Kyle Elliott suggest doing in large meetings?") == (
        "people", "leading")
    resolved = "By how much did Chinese exports to North Korea rise in August?"
    texts = [EXPORTS, AUGUST, TRADE]
    scores, order = [0.53, 0.45, 0.42], [0, 1, 2]
    assert focus_lead(resolved, ("august",), texts, scores, order, 0, {0: 1.3, 1: -0.1}) == 1
    assert focus_lead(resolved, (), texts, scores, order, 0, {0: 1.3, 1: -0.1}) == 0
    # Without the cross-encoder's pool, the best by score are the pool.
    assert focus_lead(resolved, ("august",), texts, scores, order, None) == 1
    # Rarer words count for more.
    weight = {"people": 0.5, "leading": 3.0}
    texts = ["So people can do things they would otherwise.",
             "For those leading a video meeting, start with a stretch break."]
    assert focus_lead("What about for people leading the meeting?", ("people", "leading"),
                      texts, [0.35, 0.32], [0, 1], None, weight=weight) == 1


def test_on_the_bundled_index_the_answer_leads_with_what_is_asked(bundled_index):
    answer = rag.ask("When did North Korea seal its border because of the pandemic?",
                     index=bundled_index)
    assert "2020" in answer.citations[0].quote
    answer = rag.ask("What goods did China sell to North Korea in September?",
                     index=bundled_index)
    assert "soybean oil" in answer.citations[0].quote
    first = rag.ask("By how much did Chinese exports to North Korea rise in September?",
                    index=bundled_index)
    follow = rag.ask("What about in August?", index=bundled_index, history=[first])
    assert follow.resolved_question and "August" in follow.resolved_question
    assert "August" in follow.citations[0].quote


def test_the_held_out_set_quotes_its_articles_verbatim():
    from rag.evaluation.multihop import default_dataset_dir

    corpus = default_dataset_dir() / "corpus.json"
    if not corpus.is_file():
        pytest.skip("MultiHop-RAG data not found")
    bodies = {a["title"]: a["body"] for a in json.loads(corpus.read_text(encoding="utf-8"))}
    questions = [json.loads(line) for line in
                 (ROOT / "eval" / "heldout_lead_questions.jsonl").read_text().splitlines()]
    for q in questions:
        text = " ".join(bodies[t] for t in q["titles"])
        assert all(e in text for e in q["evidence"]), q["id"]
        assert all(any(a in e for e in q["evidence"]) for a in q["answers"]), q["id"]
    for line in (ROOT / "eval" / "heldout_lead_followups.jsonl").read_text().splitlines():
        f = json.loads(line)
        assert any(g in bodies[t] for g in f["gold"] for t in f["titles"]), f["id"]
