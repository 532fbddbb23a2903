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
