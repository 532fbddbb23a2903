from rag.sentences import split_sentences


def _split(text):
    return [text[s:e] for s, e in split_sentences(text)]


def test_sentences_and_offsets():
    text = "The U.S. said so. Mr. Kim met Gen. Lee in Beijing. Exports rose 30.75% in total!"
    assert _split(text) == ["The U.S. said so.", "Mr. Kim met Gen. Lee in Beijing.",
                            "Exports rose 30.75% in total!"]


def test_line_breaks_end_sentences_and_quotes_stay_attached():
    text = "Headline here\n“It is clear,” he said. “We agree.” Then they left."
    assert _split(text) == ["Headline here", "“It is clear,” he said.", "“We agree.”",
                            "Then they left."]


def test_spans_within_a_range():
    text = "Skip. First one. Second one."
    spans = split_sentences(text, 6, len(text))
    assert [text[s:e] for s, e in spans] == ["First one.", "Second one."]


def test_a_single_line_break_inside_a_sentence_does_not_end_it():
    # The bundled article 001: a scraped line break cuts a sentence in two.
    text = ("This surge follows a decline in August, highlighting a renewed economic\n"
            "engagement between the two nations. Key exports included soybean oil.")
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "This surge follows a decline in August, highlighting a renewed economic\n"
        "engagement between the two nations.", "Key exports included soybean oil."]
    assert spans[0] == (0, text.index(" Key"))  # offsets exact: the quote holds the break


def test_hard_wrapped_lines_join_only_where_the_sentence_goes_on():
    text = ("Officials said the talks, which began on\nMonday, would resume.\n"
            "Kim Jong Un leaves Beijing\nThe visit ended on\r\nwednesday as planned.\n"
            "and a line after a full stop stands alone.")
    assert _split(text) == [
        "Officials said the talks, which began on",  # the next line opens capitalised
        "Monday, would resume.",
        "Kim Jong Un leaves Beijing",                # a title: its own unit
        "The visit ended on\r\nwednesday as planned.",
        "and a line after a full stop stands alone.",
    ]


def test_a_blank_line_always_ends_a_sentence():
    text = "The talks ended without a\n\nstatement from either side."
    assert _split(text) == ["The talks ended without a", "statement from either side."]
