import pytest

import rag
from rag import Config
from rag.bridge import asks_for_name, full_form, names, shared_name
from rag.records import Hit

from .conftest import news_index


@pytest.mark.parametrize("question, expected", [
    ("Who is the individual that Fortune says ...?", True),
    ("Which company, according to TechCrunch, ...?", True),
    ("  what entity did The Verge report on?", True),
    ("Did TechCrunch and The Verge both report that ...?", False),
    ("Somewhat later, did the report say ...?", False),
    ("Is the Sporting News article consistent with ...?", False),
])
def test_questions_that_ask_for_a_name(question, expected):
    assert asks_for_name(question) is expected


def test_names_are_runs_of_capitalised_words_without_leading_stopwords_or_dates():
    text = ("But Sam Bankman-Fried told Caroline Ellison on Monday. On Tuesday The Verge "
            "reported it. Kestrel Motors’ shares fell.")
    assert names(text) == ["Sam Bankman-Fried", "Caroline Ellison", "Verge", "Kestrel Motors"]


def _hit(article: str, text: str) -> Hit:
    return Hit(text=text, score=0.0, rank=1, chunk_id=article + "-c", article_id=article,
               title=None, source=None, published=None, url=None, start=0, end=len(text))


def test_the_shared_name_is_the_one_most_articles_mention():
    hits = [_hit("a1", "Kestrel Motors recalled cars. Jo Smith said so. Jo Smith again."),
            _hit("a1", "Jo Smith added more."),
            _hit("a2", "Kestrel Motors shares fell."),
            _hit("a3", "Harlow Foods built a plant.")]
    # Jo Smith has more mentions, but in one article only.
    assert shared_name("Which company recalled cars?", hits, []) == "Kestrel Motors"


def test_names_the_question_or_an_outlet_holds_are_not_candidates():
    hits = [_hit("a1", "Kestrel Motors, Alpha Wire said, recalled cars."),
            _hit("a2", "Kestrel Motors shares fell, Alpha Wire reported.")]
    assert shared_name("Which company recalled cars?", hits, ["Alpha Wire"]) == "Kestrel Motors"
    assert shared_name("Did Kestrel Motors recall cars?", hits, ["Alpha Wire"]) is None


def test_a_name_in_one_article_only_is_no_bridge():
    hits = [_hit("a1", "Kestrel Motors recalled cars."), _hit("a1", "Kestrel Motors again."),
            _hit("a2", "Harlow Foods built a plant.")]
    assert shared_name("Which company recalled cars?", hits, []) is None
    assert shared_name("Which company recalled cars?", [], []) is None


def test_only_the_first_hits_are_read():
    hits = [_hit(f"a{i}", "Nothing named here.") for i in range(5)]
    hits += [_hit("b1", "Kestrel Motors"), _hit("b2", "Kestrel Motors")]
    assert shared_name("Which company recalled cars?", hits, []) is None


@pytest.fixture(scope="module")
def bridge_index(tmp_path_factory):
    """Four reports of a recall by one company and, in another outlet, that
    company's plan in words unlike the question's, beside another company's plan
    in the question's own words."""
    records = [
        {"title": f"Recall {i}", "source": "Alpha Wire", "published_at": f"2023-10-0{i + 1}",
         "body": f"Kestrel Motors recalled {i + 4}0,000 cars after regulators found faulty "
                 f"brakes, report {i} said. Kestrel Motors will repair the cars for free."}
        for i in range(4)
    ] + [
        {"title": "Shares", "source": "Beta Post", "published_at": "2023-10-03",
         "body": "Kestrel Motors shares fell 9 percent on Monday after the brake recall."},
        {"title": "Plant", "source": "Beta Post", "published_at": "2023-10-05",
         "body": "Kestrel Motors wants a second site for making cars by next summer."},
        {"title": "Bakery", "source": "Beta Post", "published_at": "2023-10-06",
         "body": "Harlow Foods is planning to build a new factory next year near the coast."},
        {"title": "Weather", "source": "Alpha Wire", "published_at": "2023-10-07",
         "body": "Heavy rain flooded the river valley and closed two schools."},
        {"title": "Sport", "source": "Beta Post", "published_at": "2023-10-08",
         "body": "The city team won the cup final and plans to defend it next year."},
    ]
    return news_index(tmp_path_factory, "bridge", records)


BRIDGE_QUESTION = ("Which company, as Beta Post reported, is planning to build a new factory "
                   "next year, and, according to Alpha Wire, recalled cars because of faulty "
                   "brakes?")


def test_a_clause_read_as_about_the_shared_name_finds_its_fact(bridge_index):
    off = rag.search(BRIDGE_QUESTION, k=4, index=bridge_index, config=Config(bridge=False))
    # Without the name, the clause matches the other company's plan, told in its words.
    assert "Plant" not in [h.title for h in off]
    assert not any("part read as about" in label for h in off for label in h.hints)
    hits = rag.search(BRIDGE_QUESTION, k=4, index=bridge_index)
    assert hits[3].title == "Plant"
    assert "part read as about: Kestrel Motors" in hits[3].hints
    assert "part of the question: is planning to build a new factory next year" in hits[3].hints
    answer = rag.ask(BRIDGE_QUESTION, index=bridge_index)
    assert "part read as about: Kestrel Motors" in answer.hints


def test_the_answer_to_a_bridged_question_leads_with_the_name(bridge_index):
    question = ("Which company is planning to build a new factory next year, as Beta Post "
                "reported, and recalled cars, according to Alpha Wire?")
    answer = rag.ask(question, index=bridge_index)
    assert not answer.abstained and "part read as about: Kestrel Motors" in answer.hints
    # The question's own words fit the other company's plan best, and that is
    # still quoted; but the name is what the question asks for, so it leads.
    assert "Kestrel Motors" in answer.citations[0].quote
    assert any("Harlow Foods" in c.quote for c in answer.citations[1:])


def test_a_yes_no_question_is_not_read_as_about_a_name(bridge_index):
    question = BRIDGE_QUESTION.replace("Which company,", "Did the company,").replace(
        "is planning", "say it is planning")
    hits = rag.search(question, k=4, index=bridge_index)
    assert not any("part read as about" in label for h in hits for label in h.hints)


def test_bridge_must_be_true_or_false():
    with pytest.raises(rag.ConfigError, match="bridge must be true or false"):
        Config(bridge="yes")  # type: ignore[arg-type]


def test_a_who_question_is_not_bridged_by_an_acronym():
    hits = [_hit("a1", "Last year FTX collapsed, and its founder Sam Bankman-Fried was "
                       "charged. Creditors say FTX owed billions."),
            _hit("a2", "Lawyers for FTX and for Sam Bankman-Fried met.")]
    assert shared_name("Which exchange collapsed?", hits, []) == "FTX"
    assert shared_name("Who founded the exchange that collapsed?", hits, []) == "Sam Bankman-Fried"


def test_the_name_joins_the_questions_words_for_bm25(bridge_index):
    from rag.api import question_hints, question_inputs
    from rag.retrieve import retrieve

    config = Config(parts=False, coverage=0.0)
    vector = question_inputs(bridge_index, BRIDGE_QUESTION, config).vector
    hints = question_hints(bridge_index, BRIDGE_QUESTION)

    def score(bridge):
        hits = retrieve(bridge_index, BRIDGE_QUESTION, vector, k=10, config=config,
                        hints=hints, bridge=bridge)
        return {h.title: h.score for h in hits}

    plain, named = score(None), score("Kestrel Motors")
    # "Plant" shares one word with the question ("next") and "Sport" two ("next
    # year"); the name's words lift the first above the second in BM25.
    assert named["Plant"] > plain["Plant"]
    assert named["Sport"] < plain["Sport"]


def test_a_name_the_question_holds_in_another_form_is_not_a_candidate():
    hits = [_hit("a1", "Talks in China went on. There Sun Weidong met him, in China."),
            _hit("a2", "In Beijing, China said Sun Weidong had met Pak Myong Ho's team.")]
    question = "Who was the Chinese vice minister that met North Korea's Pak Myong Ho?"
    assert shared_name(question, hits, []) == "Sun Weidong"
    assert shared_name("Who was the vice minister that met him?", hits, []) == "China"


def test_the_full_form_of_a_name_is_the_longer_one_most_passages_use():
    hits = [_hit("a1", "FTX founder Sam Bankman-Fried spoke. Later Bankman-Fried left."),
            _hit("a2", "Lawyers for Sam Bankman-Fried met on Monday."),
            _hit("a3", "Jurors heard from Bankman-Fried. The Minnesota Vikings won.")]
    assert full_form("Bankman-Fried", hits) == "Sam Bankman-Fried"
    assert full_form("Vikings", hits) == "Minnesota Vikings"
    # Only a longer name that ends with the name: no match keeps the name.
    assert full_form("Sam", hits) == "Sam"
    assert full_form("Sam Bankman-Fried", hits) == "Sam Bankman-Fried"
    assert full_form("Harlow", []) == "Harlow"


@pytest.fixture(scope="module")
def person_index(tmp_path_factory):
    """A person named in full once, by surname in the other reports."""
    records = [
        {"title": "Account", "source": "Alpha Wire", "published_at": "2023-10-01",
         "body": "Prosecutors say courier founder Dana Marlow moved client money into a "
                 "private account."},
        {"title": "Court", "source": "Beta Post", "published_at": "2023-10-02",
         "body": "In court, Marlow told the jury the missing funds were a bookkeeping error."},
        {"title": "Delay", "source": "Alpha Wire", "published_at": "2023-10-03",
         "body": "Lawyers for Marlow asked the judge for a delay of two weeks."},
        {"title": "Resigned", "source": "Beta Post", "published_at": "2023-10-04",
         "body": "On Friday, Marlow resigned as chief executive of the courier firm."},
        {"title": "Weather", "source": "Alpha Wire", "published_at": "2023-10-05",
         "body": "Heavy rain flooded the river valley and closed two schools."},
    ]
    return news_index(tmp_path_factory, "person", records)


def test_a_who_answer_leads_with_the_name_in_full(person_index):
    question = ("Who is the individual who, as Beta Post reported, called the missing funds a "
                "bookkeeping error, and, according to Alpha Wire, moved client money into a "
                "private account?")
    answer = rag.ask(question, index=person_index)
    # "Marlow" is in three articles, "Dana Marlow" in one.
    assert not answer.abstained and "part read as about: Marlow" in answer.hints
    # The surname's sentence on the jury fits the question best, but "who" is
    # answered by the name in full, so its sentence leads, and the other follows.
    assert "Dana Marlow" in answer.citations[0].quote
    assert "bookkeeping error" in answer.citations[1].quote
