from rag.hints import find_hints, outlet_aliases

SOURCES = ["TechCrunch", "The Verge", "Sporting News", "The Independent - Sports",
           "The Independent - Travel", "Fortune", "Cnbc | World Business News Leader"]
SPAN = ("2023-09-26", "2023-12-26")


def test_outlet_aliases():
    assert "The Independent" in outlet_aliases("The Independent - Sports")
    assert "Cnbc" in outlet_aliases("Cnbc | World Business News Leader")
    assert "Verge" in outlet_aliases("The Verge")


def test_outlets_are_found_in_order_and_grouped():
    hints = find_hints("Did The Verge and TechCrunch both report it, as did The Independent?",
                       SOURCES, SPAN)
    assert hints.source_groups == (("The Verge",), ("TechCrunch",),
                                   ("The Independent - Sports", "The Independent - Travel"))
    assert "outlet named: The Verge" in hints.describe()


def test_lower_case_common_words_are_not_outlets():
    assert find_hints("Is a fortune spent on sporting news worth it?", SOURCES, SPAN).sources \
        == ("Sporting News",)  # multi-word names count in any case, single words only capitalised


def test_dates_exact_before_and_after():
    hints = find_hints("Did the TechCrunch article published on September 26, 2023 agree with "
                       "reports after October 4, 2023?", SOURCES, SPAN)
    assert hints.days == ("2023-09-26",) and hints.since == "2023-10-05"
    assert find_hints("before 2023-11-01, what happened?", SOURCES, SPAN).until == "2023-10-31"


def test_month_resolves_against_the_corpus_span_not_the_clock():
    hints = find_hints("What happened in September?", SOURCES, SPAN)
    assert (hints.since, hints.until) == ("2023-09-01", "2023-09-30")
    assert find_hints("What happened in September?", SOURCES, None).since is None


def test_latest_and_no_hints():
    assert find_hints("What is the latest on the merger?", SOURCES, SPAN).latest
    plain = find_hints("Who met Sun Weidong?", SOURCES, SPAN)
    assert not plain.any and plain.describe() == ()
