import pytest

import rag
from rag import Config, QuestionError

from .conftest import news_index


def test_search_returns_ranked_cited_hits(bundled_index):
    hits = rag.search("Chinese exports to North Korea in September", k=5, index=bundled_index)
    assert len(hits) == 5
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    # A one-part question: the cross-encoder read the first chunks and ranks them.
    read = [h for h in hits if h.rerank_score is not None]
    assert read and hits[: len(read)] == read
    assert read == sorted(read, key=lambda h: -h.rerank_score)
    assert "30.75%" in " ".join(h.text for h in hits[:3])
    for hit in hits:
        article = bundled_index.articles[hit.article_id]
        assert article.text[hit.start:hit.end] == hit.text
        assert (hit.title, hit.source, hit.published, hit.url) == (
            article.title, article.source, article.published, article.url)


def test_dense_only_also_works(bundled_index):
    hits = rag.search("talks between the vice foreign ministers of North Korea and China", k=3,
                      index=bundled_index, config=Config(hybrid=False))
    assert any("Sun Weidong" in h.text for h in hits)


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x01"])
def test_empty_questions_are_rejected(bundled_index, question):
    with pytest.raises(QuestionError, match="empty"):
        rag.search(question, index=bundled_index)
    with pytest.raises(ValueError):
        rag.ask(question, index=bundled_index)


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_bad_k_is_rejected(bundled_index, k):
    with pytest.raises(QuestionError, match="k must be"):
        rag.search("trade", k=k, index=bundled_index)


def test_overlong_question_is_rejected_not_truncated(bundled_index):
    with pytest.raises(QuestionError, match="limit"):
        rag.ask("trade " * 100_000, index=bundled_index)


def test_filters_fail_closed(bundled_index):
    joongang = rag.search("trade", k=10, index=bundled_index, sources=["Korea JoongAng Daily"])
    assert joongang and {h.source for h in joongang} == {"Korea JoongAng Daily"}
    assert rag.search("trade", index=bundled_index, sources=["No Such Outlet"]) == []
    dated = rag.search("Kim visit", index=bundled_index, since="2024-01-01")
    assert dated and {h.source for h in dated} == {"The Speaker"}
    assert rag.search("Kim visit", index=bundled_index, until="2000-01-01") == []
    answer = rag.ask("Who met Sun Weidong?", index=bundled_index, sources=["No Such Outlet"])
    assert answer.abstained and not answer.citations and not answer.hits


def test_bad_date_filter_is_a_clear_error(bundled_index):
    with pytest.raises(QuestionError, match="since"):
        rag.search("trade", index=bundled_index, since="yesterday-ish")


def _tagged_index(tmp_path_factory):
    """A small real index: two outlets, dated, several articles each."""
    import json

    corpus = tmp_path_factory.mktemp("outlets")
    records = []
    for i in range(4):
        records.append({"title": f"Alpha {i}", "source": "Alpha Wire",
                        "published_at": f"2023-10-0{i + 1}",
                        "body": f"Alpha report {i}: the river port handled {i + 3} ships of grain "
                                "this week, harbour officials said."})
        records.append({"title": f"Beta {i}", "source": "Beta Post",
                        "published_at": f"2023-11-0{i + 1}",
                        "body": f"Beta report {i}: grain ships at the river port numbered "
                                f"{i + 10} as the season ended, the port authority said."})
    (corpus / "news.json").write_text(json.dumps(records))
    target = tmp_path_factory.mktemp("outlets-index")
    rag.build_index([corpus], target, progress=False)
    return rag.load_index(target)


@pytest.fixture(scope="module")
def outlet_index(tmp_path_factory):
    return _tagged_index(tmp_path_factory)


def test_named_outlet_steers_and_is_reported(outlet_index):
    hits = rag.search("How many grain ships did Beta Post report at the river port?", k=3,
                      index=outlet_index)
    assert hits[0].source == "Beta Post"
    assert "outlet named: Beta Post" in hits[0].hints
    answer = rag.ask("How many grain ships did Beta Post report?", index=outlet_index)
    assert "outlet named: Beta Post" in answer.hints


def test_two_outlets_both_get_evidence(outlet_index):
    hits = rag.search("Did Alpha Wire and Beta Post agree on grain ships at the port?", k=4,
                      index=outlet_index)
    assert {h.source for h in hits[:4]} == {"Alpha Wire", "Beta Post"}


def test_latest_prefers_recent_articles(outlet_index):
    hits = rag.search("What is the latest count of grain ships at the river port?", k=3,
                      index=outlet_index)
    assert hits[0].published and hits[0].published >= "2023-11-01"


def test_hints_can_be_switched_off(outlet_index):
    hits = rag.search("Beta Post grain ships", k=3, index=outlet_index,
                      config=Config(hints=False))
    assert all(h.hints == () for h in hits)


def test_one_article_cannot_crowd_out_the_others(bundled_index):
    hits = rag.search("North Korea China relations", k=6, index=bundled_index,
                      config=Config(max_per_article=1))
    assert len({h.article_id for h in hits}) == 5  # all five articles before any repeat


def test_best_sentence_bm25_is_the_max_over_each_chunks_sentences(bundled_index):
    from rag.text import tokenize

    terms = tokenize("Lim Eul-chul professor Kyungnam University")
    per_chunk = bundled_index.best_sentence_bm25(terms)
    assert per_chunk.shape == (len(bundled_index.chunks),)
    sentence_scores = bundled_index._sentence_bm25.get_scores(terms)
    for position, chunk in enumerate(bundled_index.chunks):
        rows = [row for row, (a, lo, hi) in enumerate(bundled_index.sentences)
                if a == bundled_index.chunk_article[position] and lo < chunk.end
                and hi > chunk.start]
        assert per_chunk[position] == pytest.approx(max(sentence_scores[rows]))
    best = bundled_index.chunks[int(per_chunk.argmax())]
    assert "Lim Eul-chul" in best.text


def test_sentence_bm25_barely_penalises_a_long_sentence(bundled_index):
    # A fact is usually a long sentence: with bm25s's default length
    # normalisation (b = 0.75) a short sentence holding the same word once
    # outscores it by far more than with ours (docs/experiments.md, "Length normalisation").
    from collections import Counter

    import bm25s

    from rag.answer import sentence_text
    from rag.text import tokenize

    tokens = [tokenize(sentence_text(bundled_index, row)) or ["_"]
              for row in range(len(bundled_index.sentences))]
    term = Counter(t for sentence in tokens for t in set(sentence)).most_common(1)[0][0]
    once = [row for row, sentence in enumerate(tokens) if sentence.count(term) == 1]
    short = min(once, key=lambda row: len(tokens[row]))
    long = max(once, key=lambda row: len(tokens[row]))
    assert len(tokens[long]) >= 3 * len(tokens[short])
    ours = bundled_index.sentence_bm25([term])
    default = bm25s.BM25()
    default.index(tokens, show_progress=False)
    theirs = default.get_scores([term])
    assert ours[long] / ours[short] > theirs[long] / theirs[short] + 0.2


def test_a_word_repeated_in_the_question_counts_once(bundled_index):
    from rag.retrieve import retrieve

    question = "Did Chinese exports to North Korea rise in September?"
    vector = bundled_index.embedder().encode_query(question)
    config = Config(rerank_depth=0)
    once = retrieve(bundled_index, question, vector, k=8, config=config)
    repeated = retrieve(bundled_index, question + " Exports, exports, September.", vector,
                        k=8, config=config)
    assert [(h.chunk_id, h.score) for h in once] == [(h.chunk_id, h.score) for h in repeated]


def test_sentence_bm25_ranking_can_be_switched_off(bundled_index):
    question = "Where does Lim Eul-chul teach?"
    on = rag.search(question, k=3, index=bundled_index)
    off = rag.search(question, k=3, index=bundled_index, config=Config(sentence_bm25=False))
    assert "Lim Eul-chul" in on[0].text
    assert [h.score for h in on] != [h.score for h in off]  # one ranking fewer was fused


def test_coverage_brings_in_a_passage_for_the_other_part(bundled_index):
    import numpy as np

    from rag.retrieve import _cover
    from rag.text import tokenize

    index = bundled_index
    part_one = "How much did Chinese exports to North Korea rise in September"
    dense = index.chunk_vectors @ index.embedder().encode_query(part_one)
    order = [int(r) for r in np.argsort(-dense)]
    fused = {r: float(dense[r]) for r in order}
    assert not any("Lim Eul-chul" in index.chunks[r].text for r in order[:3])
    terms = tokenize(part_one + ", and where does Lim Eul-chul teach?")
    covered = _cover(index, order, fused, terms, 3, Config(), fused)
    assert covered[0] == order[0]  # the best passage still leads
    assert any("Lim Eul-chul" in index.chunks[r].text for r in covered[:3])
    assert sorted(covered) == sorted(order)  # reordered: nothing lost, nothing added
    # The first passage is the best by ``first``, whatever the wider fusion says.
    first = {r: -float(i) for i, r in enumerate(order)}
    first[order[5]] = 1.0
    assert _cover(index, order, fused, terms, 3, Config(), first)[0] == order[5]


def test_best_sentence_dense_is_the_max_over_each_chunks_sentences(bundled_index):
    import numpy as np

    index = bundled_index
    vector = index.embedder().encode_query("Where does Lim Eul-chul teach?")
    per_chunk = index.best_sentence_dense(vector)
    assert per_chunk.shape == (len(index.chunks),)
    cosines = index.sentence_vectors @ vector
    for position, chunk in enumerate(index.chunks):
        rows = [row for row, (a, lo, hi) in enumerate(index.sentences)
                if a == index.chunk_article[position] and lo < chunk.end and hi > chunk.start]
        assert per_chunk[position] == pytest.approx(float(np.max(cosines[rows])))
    assert "Kyungnam University" in index.chunks[int(per_chunk.argmax())].text


def test_sentence_dense_ranking_widens_only_several_part_questions(bundled_index):
    long = ("How much did Chinese exports to North Korea rise in September, and where "
            "does the professor Lim Eul-chul teach?")
    on = rag.search(long, k=5, index=bundled_index)
    off = rag.search(long, k=5, index=bundled_index, config=Config(sentence_dense=False))
    assert [h.score for h in on] != [h.score for h in off]  # one ranking more was fused
    assert on[0].chunk_id == off[0].chunk_id  # it does not choose the first passage
    short = "Where does Lim Eul-chul teach?"
    assert rag.search(short, k=5, index=bundled_index) == rag.search(
        short, k=5, index=bundled_index, config=Config(sentence_dense=False))


def test_short_questions_are_left_to_relevance(bundled_index):
    question = "Where does Lim Eul-chul teach?"
    assert rag.search(question, k=10, index=bundled_index) == rag.search(
        question, k=10, index=bundled_index, config=Config(coverage=0.0))


@pytest.mark.parametrize("value", [-0.1, 1.0, 2, True, "high"])
def test_coverage_must_be_below_one(value):
    with pytest.raises(rag.ConfigError, match="coverage"):
        Config(coverage=value)


def test_cross_encoder_reorders_only_the_fused_head(bundled_index):
    question = "What think tank does Duyeon Kim work for?"
    fused = rag.search(question, k=10, index=bundled_index, config=Config(rerank_depth=0))
    reread = rag.search(question, k=10, index=bundled_index, config=Config(rerank_depth=5))
    assert all(h.rerank_score is None for h in fused)
    assert [h.rerank_score is not None for h in reread] == [True] * 5 + [False] * 5
    # The same five chunks, reordered by what the cross-encoder read; the rest untouched.
    assert {h.chunk_id for h in reread[:5]} == {h.chunk_id for h in fused[:5]}
    assert [h.chunk_id for h in reread[5:]] == [h.chunk_id for h in fused[5:]]
    assert [h.rerank_score for h in reread[:5]] == sorted(
        (h.rerank_score for h in reread[:5]), reverse=True)
    assert "Center for New American Security" in reread[0].text
    # Each read hit names the sentence that earned its score: one inside the chunk.
    for hit in reread[:5]:
        assert hit.rerank_span is not None
        start, end = hit.rerank_span
        assert hit.start <= start < end <= hit.end
    assert "Center for New American Security" in bundled_index.articles[
        reread[0].article_id].text[slice(*reread[0].rerank_span)]
    assert all(h.rerank_span is None for h in fused + reread[5:])


def test_cross_encoder_lifts_the_answer_of_a_paraphrase(bundled_index):
    # The seed set's s032: fused retrieval ranks the answer's chunk 8th.
    question = "What is Moscow reportedly giving Pyongyang in return for arms?"
    fused = rag.search(question, k=10, index=bundled_index, config=Config(rerank_depth=0))
    reread = rag.search(question, k=10, index=bundled_index)

    def rank(hits):
        return next(h.rank for h in hits if "crude oil, food and luxury goods" in h.text)

    assert rank(reread) < rank(fused)


def test_several_part_questions_are_covered_not_reranked(bundled_index):
    from rag.retrieve import several_parts

    long = ("How much did Chinese exports to North Korea rise in September, and where "
            "does the professor Lim Eul-chul teach?")
    assert several_parts(long) and not several_parts("Where does Lim Eul-chul teach?")
    hits = rag.search(long, k=5, index=bundled_index)
    assert all(h.rerank_score is None for h in hits)
    assert hits == rag.search(long, k=5, index=bundled_index, config=Config(rerank_depth=0))


def test_reranking_keeps_filters_closed(bundled_index):
    hits = rag.search("Who is Kim Jong Un?", k=10, index=bundled_index,
                      sources=["Korea JoongAng Daily"])
    assert hits and {h.source for h in hits} == {"Korea JoongAng Daily"}
    assert rag.search("Who is Kim Jong Un?", index=bundled_index, sources=["Nobody"]) == []


@pytest.fixture(scope="module")
def port_index(tmp_path_factory):
    """Six reports on one story and one article on another: a two-part question's
    minor part is easily starved by the major one."""
    records = [{"title": f"Port {i}", "source": "Alpha Wire", "published_at": f"2023-10-0{i + 1}",
                "body": f"Port report {i}: the river port handled {i + 3} grain ships this "
                        "week, harbour officials said. Grain prices held steady."}
               for i in range(6)]
    records.append({"title": "Town news", "source": "Beta Post", "published_at": "2023-10-09",
                    "body": "Town news: Mayor Ruth Okafor cut the ribbon on the new footbridge "
                            "over the canal on Saturday. Residents cheered."})
    # The six reports are near-identical, so which one best matches the grain
    # part is a tie that a second model (Config.part_model) breaks arbitrarily,
    # and its first pick may fall outside the head and take rank 4. One model
    # (news_index's) keeps the test about the mechanism: without parts the
    # bridge is starved.
    return news_index(tmp_path_factory, "port", records)


PORT_QUESTION = ("How many grain ships did the river port handle this week according to "
                 "harbour officials, and who opened the new bridge?")


def test_each_part_of_a_question_gets_its_passage(port_index):
    plain = Config(coverage=0.0)  # so that only the parts can bring the bridge in
    without = rag.search(PORT_QUESTION, k=4, index=port_index, config=plain.replace(parts=False))
    assert [h.title for h in without] == ["Port 0", "Port 1", "Port 2", "Port 3"]
    hits = rag.search(PORT_QUESTION, k=4, index=port_index, config=plain)
    assert [h.title for h in hits[:3]] == ["Port 0", "Port 1", "Port 2"]  # the head stays
    assert hits[3].title == "Town news"
    assert "part of the question: who opened the new bridge" in hits[3].hints
    answer = rag.ask(PORT_QUESTION, index=port_index, config=plain)
    assert "part of the question: who opened the new bridge" in answer.hints


def test_parts_keep_filters_closed(port_index):
    assert rag.search(PORT_QUESTION, index=port_index, sources=["No Such Outlet"]) == []
    hits = rag.search(PORT_QUESTION, index=port_index, sources=["Alpha Wire"])
    assert hits and {h.source for h in hits} == {"Alpha Wire"}
    assert rag.search(PORT_QUESTION, index=port_index, since="2023-10-08")[0].title == "Town news"


def test_a_part_that_names_a_date_looks_in_that_dates_articles(port_index):
    question = ("How many grain ships did harbour officials count at the river port in the "
                "report of October 5, 2023, and who opened the new bridge?")
    hits = rag.search(question, k=6, index=port_index)
    label = ("part of the question: How many grain ships did harbour officials count at the "
             "river port in the report of October 5, 2023")
    dated = [h for h in hits if label in h.hints]
    # Two picks for the part (PART_PICKS), both from that date's reports.
    assert len(dated) == 2 and all(h.published is not None for h in dated)
    assert all("2023-10-04" <= (h.published or "")[:10] <= "2023-10-06"  # the day, or one beside
               for h in dated)
    bridge = [i for i, h in enumerate(hits)
              if "part of the question: who opened the new bridge" in h.hints]
    # Every part's first pick comes before any part's second.
    assert hits[bridge[0]].title == "Town news" and bridge[0] < hits.index(dated[1])


def test_a_several_part_question_gets_part_vectors_from_both_models(part_model_index):
    from rag.api import question_inputs

    index = part_model_index
    question = ("How much did Chinese exports to North Korea rise in August, and what did "
                "Kim Jong Un discuss with Xi Jinping in Beijing?")
    inputs = question_inputs(index, question, Config())
    assert len(inputs.parts) == 2
    assert inputs.part_vectors.shape == inputs.part_model_vectors.shape == (2, 384)
    # The part model reads each part alone: its vector is that model's encoding.
    embedder = index.part_embedder()
    alone = embedder.encode([embedder.query_prefix + inputs.parts[1].text])[0]
    # (0.99, not 1: in a batch the shorter part is padded, and 8-bit arithmetic shifts.)
    assert float(alone @ inputs.part_model_vectors[1]) > 0.99
    assert float(alone @ inputs.part_model_vectors[0]) < 0.9
    one_part = question_inputs(index, "Who met Kim Jong Un?", Config())
    assert one_part.parts == [] and one_part.part_model_vectors is None
    hits = rag.search(question, k=8, index=index)
    assert any(label.startswith("part of the question: what did Kim Jong Un discuss")
               for h in hits for label in h.hints)
    assert any("export" in h.text.lower() for h in hits)


def test_an_index_without_a_part_model_gives_no_part_model_vectors(bundled_index):
    from rag.api import question_inputs

    question = ("How much did Chinese exports to North Korea rise in August, and what did "
                "Kim Jong Un discuss with Xi Jinping in Beijing?")
    inputs = question_inputs(bundled_index, question, Config())
    assert len(inputs.parts) == 2 and inputs.part_model_vectors is None


@pytest.fixture(scope="module")
def span_index(tmp_path_factory):
    """Reports of one outlet over three weeks: two the question names by date, one
    between them, and one well after them that matches its last clause best."""
    records = [
        ("River port", "2023-10-02", "River port report: the river port handled five grain "
                                     "ships this week, harbour officials said."),
        ("Grain prices", "2023-10-06", "Grain price report: grain prices rose at the river "
                                       "port this week, traders said."),
        ("Harbour notes", "2023-10-04", "Harbour notes: the mayor said crowds came to the "
                                        "river port for the harvest festival."),
        ("Festival news", "2023-10-20", "Festival news: the mayor said the harvest festival "
                                        "drew record crowds."),
    ]
    return news_index(tmp_path_factory, "span", [
        {"title": t, "source": "Alpha Wire", "published_at": d, "body": b}
        for t, d, b in records])


def test_a_clause_without_a_date_looks_between_the_dates_the_question_names(span_index):
    question = ("Between the Alpha Wire report on the river port published on October 2, "
                "2023, and the report on grain prices published on October 6, 2023, did the "
                "mayor say the harvest festival drew record crowds?")
    hits = rag.search(question, k=10, index=span_index)
    label = "part of the question: did the mayor say the harvest festival drew record crowds"
    picked = [h for h in hits if label in h.hints]
    assert picked, [h.hints for h in hits]
    # From the first named day to the last (a day beside each), not the closer match
    # published two weeks later.
    assert picked[0].title == "Harbour notes"
    assert all("2023-10-01" <= (h.published or "")[:10] <= "2023-10-07" for h in picked)
