"""End to end with the real model and index on the bundled articles."""

from pathlib import Path

import pytest

import rag

# (question, a fact the cited quotes must contain)
FACTUAL = [
    ("By how much did Chinese exports to North Korea rise in September?", "30.75%"),
    ("Who did Pak Myong Ho meet?", "Sun Weidong"),
    ("What goods did North Korea import from China?", "soybean oil"),
    ("How many Chinese staff arrived in North Korea on March 31?", "14 staff"),
    ("How many times had Kim visited China by the time of the Beijing trip?", "fourth"),
    ("Which town on the border was Kim travelling to?", "Dandong"),
    ("What was the value of trade between North Korea and China?", "$271.2 million"),
    ("Which outlet reported the North Korea-China trade figures?", "NK News"),
    ("Who is North Korea's largest trading partner?", "largest trading partner"),
    ("What is the marathon called now?", "Pyongyang International Marathon"),
    ("Which cemetery did Ambassador Wang Yajun visit?", "South Hamgyong"),
    ("Who did Foreign Minister Choe Son Hui meet in China?", "Wang Yi"),
]
OFF_TOPIC = [
    "What is the capital of France?",
    "Who won the 2022 football World Cup final?",
    "How do I bake sourdough bread at home?",
    "What is the boiling point of water in Kelvin?",
]


@pytest.mark.parametrize("question, fact", FACTUAL)
def test_factual_questions_cite_the_fact(use_default_index, question, fact):
    answer = rag.ask(question)
    assert not answer.abstained, answer
    assert answer.citations
    assert fact.lower() in " ".join(c.quote for c in answer.citations).lower(), answer.text


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_are_abstained(use_default_index, question):
    answer = rag.ask(question)
    assert answer.abstained, answer.text
    assert not answer.citations
    assert "don't answer" in answer.text
    # The reader is told why in words; the numbers are kept apart.
    assert "below the threshold" in answer.reason_detail
    assert answer.reason.startswith(("None of the closest passages", "The closest sentences"))
    assert not any(ch.isdigit() for ch in answer.reason), answer.reason


def test_the_reason_names_what_no_passage_mentions(use_default_index):
    answer = rag.ask("What is the capital of France?")
    assert answer.abstained
    assert "None of the closest passages mentions France." in answer.reason
    assert "of the question's names are in no passage" in answer.reason_detail
    data = answer.to_dict()
    assert (data["reason"], data["reason_detail"]) == (answer.reason, answer.reason_detail)


# "How many / how much" questions the articles do answer: the count rule must let
# them through (they were written after the rule, as a check on false abstention).
COUNTED = [
    ("How many staff members arrived in North Korea on March 31?", "14 staff"),
    ("How many days was Kim expected to spend in China?", "four days"),
    ("How many public appearances on economic issues did Kim make in the first quarter?",
     "seven appearances"),
    ("How many tourists does the Wonsan resort need each year?", "tens of thousands"),
    ("How many dollars worth of goods did North Korea import from China last month?",
     "$228 million"),
    ("How many years is the national economic development plan?", "five-year"),
]


@pytest.mark.parametrize("question, fact", COUNTED)
def test_counts_the_articles_give_are_answered(use_default_index, question, fact):
    answer = rag.ask(question)
    assert not answer.abstained, answer.reason
    assert fact in " ".join(c.quote for c in answer.citations), answer.text


def test_a_count_the_articles_never_give_is_abstained(use_default_index):
    # The articles discuss Russia's aid and oil, but never give a number of barrels.
    answer = rag.ask("How many barrels of crude oil has Russia delivered to North Korea?")
    assert answer.abstained, answer.text
    assert "no passage gives a figure for what is counted: barrel" in answer.reason_detail
    assert "None of the closest passages gives a figure for barrels." in answer.reason


def test_every_quote_is_verbatim_in_its_source_file(use_default_index, bundled_index):
    for question, _ in FACTUAL:
        answer = rag.ask(question)
        for n, citation in enumerate(answer.citations, 1):
            assert citation.n == n and f"[{n}]" in answer.text
            article = bundled_index.articles[citation.article_id]
            source_text = Path(article.path or "").read_text(encoding="utf-8")
            assert citation.quote in source_text
            assert article.text[citation.start:citation.end] == citation.quote
            assert citation.quote in answer.text
            assert (citation.source, citation.title, citation.published) == (
                article.source, article.title, article.published)


def test_answer_is_json_ready_and_timed(use_default_index):
    import json

    answer = rag.ask("Who did Pak Myong Ho meet?")
    data = json.loads(json.dumps(answer.to_dict()))
    assert data["citations"][0]["quote"] in data["text"]
    assert answer.timings_ms["total"] > 0


def test_quotes_are_not_near_duplicates(use_default_index):
    answer = rag.ask("What goods did China export to North Korea?", k=10)
    quotes = [c.quote for c in answer.citations]
    assert len(set(quotes)) == len(quotes)


def test_the_bundled_index_is_rebuilt_when_built_with_other_settings(tmp_path, monkeypatch):
    # Built with other settings (an older rag's defaults, say): the bundled
    # corpus's index is rag's own, so it is brought up to date, not refused.
    from rag import Config
    from rag.config import PART_MODEL

    folder = tmp_path / "default"
    rag.build_index([rag.bundled_corpus_dir()], folder, config=Config(part_model=PART_MODEL),
                    progress=False)
    assert rag.load_index(folder).part_model == PART_MODEL
    monkeypatch.setenv("RAG_INDEX_DIR", str(folder))
    answer = rag.ask("Who did Pak Myong Ho meet?")
    assert answer.citations
    assert rag.load_index(folder).part_model is None
