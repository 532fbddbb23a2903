from rag.parts import MIN_PART_WORDS, question_parts

OUTLETS = ["TechCrunch", "The Verge", "The Roar | Sports Writers Blog", "Sporting News",
           "The Independent - Life and Style"]


def texts(question: str) -> list[str]:
    return [p.text for p in question_parts(question, OUTLETS)]


def test_clauses_are_split_at_commas_while_and_a_new_predicate():
    q = ("Who is the individual facing a criminal trial on fraud and conspiracy charges, "
         "as reported by both The Verge and TechCrunch, and is accused by prosecutors of "
         "committing fraud for personal gain?")
    assert texts(q) == [
        "Who is the individual facing a criminal trial on fraud and conspiracy charges",
        "is accused by prosecutors of committing fraud for personal gain",
    ]  # "fraud and conspiracy" stays whole; "as reported by both ..." says nothing on its own


def test_outlets_are_cut_out_of_the_text_and_kept_per_part():
    q = ("Does the 'Sporting News' article say the Bills' defense improved, while the "
         "TechCrunch report says Beeper plans paid subscriptions for Beeper Mini?")
    parts = question_parts(q, OUTLETS)
    assert [p.sources for p in parts] == [("Sporting News",), ("TechCrunch",)]
    assert [p.text for p in parts] == [
        "Does the article say the Bills' defense improved",
        "the report says Beeper plans paid subscriptions for Beeper Mini",
    ]
    for p in parts:
        assert all(word in q[p.start:p.end] for word in p.text.split())


def test_overlapping_outlet_names_are_one_mention_and_do_not_split():
    q = ("Did The Roar | Sports Writers Blog describe the JackJumpers' lead over the Kings, "
         "and did The Independent - Life and Style say the singer kept her tour dates?")
    parts = question_parts(q, OUTLETS)
    assert parts[0].sources == ("The Roar | Sports Writers Blog",)
    assert "Roar" not in parts[0].text and "|" not in parts[0].text
    assert parts[1].sources == ("The Independent - Life and Style",)
    assert "Style" not in parts[1].text


def test_a_date_keeps_its_year_and_short_clauses_are_dropped():
    q = ("Between the report on Google's search deals published on October 31, 2023, "
         "and the one on the antitrust suit, was there a change?")
    first = "Between the report on Google's search deals published on October 31, 2023"
    assert texts(q)[0] == first
    assert all(len(t.split()) >= MIN_PART_WORDS for t in texts(q))
    assert "was there a change" not in texts(q)  # one content word: not a part


def test_a_question_without_boundaries_is_one_part():
    q = "How many grain ships did the river port handle this week"
    assert texts(q) == [q]


def test_a_comma_inside_a_number_does_not_split():
    q = ("Did the Sporting News article say new users can claim over $5,000 in bonuses, "
         "while TechCrunch said Tyreek Hill may reach 2,000 receiving yards on December 5, 2023?")
    assert texts(q) == [
        "Did the article say new users can claim over $5,000 in bonuses",
        "said Tyreek Hill may reach 2,000 receiving yards on December 5, 2023",
    ]


def test_a_second_report_named_inside_a_clause_starts_a_part():
    q = ("Does the TechCrunch article on Meta's moderation issues suggest a different "
         "problem than the TechCrunch article alleging violations of children's privacy "
         "law by Meta?")
    parts = question_parts(q, OUTLETS)
    assert [p.text for p in parts] == [
        "Does the article on Meta's moderation issues suggest a different problem than the",
        "article alleging violations of children's privacy law by Meta",
    ]
    assert [p.sources for p in parts] == [("TechCrunch",), ("TechCrunch",)]


def test_two_outlets_for_one_claim_stay_one_part():
    q = "Did TechCrunch and The Verge both report that Beeper Mini stopped working for users?"
    parts = question_parts(q, OUTLETS)
    assert len(parts) == 1
    assert parts[0].sources == ("TechCrunch", "The Verge")


def test_outlet_names_after_a_second_report_do_not_count_as_its_words():
    # After "The Verge" come only "and The Roar | Sports Writers Blog report": no claim
    # of its own, so no split, and every outlet stays with the one part.
    q = ("Does the Sporting News article say the Bills' defense improved against Miami "
         "as The Verge and The Roar | Sports Writers Blog report?")
    parts = question_parts(q, OUTLETS)
    assert len(parts) == 1
    assert parts[0].sources == ("Sporting News", "The Verge", "The Roar | Sports Writers Blog")
