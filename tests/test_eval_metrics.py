"""Unit tests of the evaluation metrics on tiny hand-made cases."""

from __future__ import annotations

import pytest

from rag.evaluation import metrics as m


def _upstream_reference(retrieved_lists: list[list[str]], gold_lists: list[list[str]]) -> dict:
    """A line-by-line transcription of upstream ``calculate_metrics``.

    Source: github.com/yixuantt/MultiHop-RAG, retrieval_evaluate.py. Kept here
    only as an oracle so our implementation is checked against the original
    logic rather than against itself.
    """
    hits10 = hits4 = 0
    map_list: list[float] = []
    mrr_list: list[float] = []
    for retrieved, gold in zip(retrieved_lists, gold_lists, strict=True):
        h10 = h4 = False
        ap = 0.0
        first = None
        find_gold: list[str] = []
        gold = [g.replace(" ", "").replace("\n", "") for g in gold]
        retrieved = [r.replace(" ", "").replace("\n", "") for r in retrieved]
        for rank, item in enumerate(retrieved[:11], start=1):
            if any(g in item for g in gold):  # noqa: SIM102 - kept as upstream wrote it
                if rank <= 10:
                    h10 = True
                    if first is None:
                        first = rank
                    if rank <= 4:
                        h4 = True
                    count = 0
                    for g in gold:
                        if g in item and g not in find_gold:
                            count += 1
                            find_gold.append(g)
                    ap += count / rank
        hits10 += int(h10)
        hits4 += int(h4)
        map_list.append(ap / min(len(gold), 10))
        mrr_list.append(1 / first if first else 0)
    n = len(gold_lists)
    return {
        "Hits@10": hits10 / n,
        "Hits@4": hits4 / n,
        "MAP@10": sum(map_list) / n,
        "MRR@10": sum(mrr_list) / n,
    }


# ----------------------------------------------------------------- MultiHop-RAG retrieval


def test_map_at_10_worked_example() -> None:
    # Gold facts A, B, C. Ranking (1-based):
    #   1: junk, 2: holds A, 3: holds A again, 4: junk, 5: holds B and C (across a newline)
    # AP sum = 1/2 (A new at rank 2) + 0/3 (A already found) + 2/5 (B, C new) = 0.9
    # AP@10 = 0.9 / min(3, 10) = 0.3 ; first hit rank 2 -> RR 0.5; Hits@4 yes.
    gold = ["Alpha beta.", "Gamma delta.", "Epsilon zeta."]
    retrieved = [
        "nothing here",
        "intro Alpha  beta. outro",
        "again Alpha beta.",
        "still nothing",
        "Gamma\ndelta. and Epsilon zeta.",
    ]
    s = m.multihop_query_score(retrieved, gold)
    assert s.first_hit_rank == 2
    assert s.average_precision == pytest.approx(0.3)
    assert s.reciprocal_rank == pytest.approx(0.5)
    assert s.hits_at(4) and not s.hits_at(1)
    assert s.facts_found == 3 and s.all_evidence
    assert _upstream_reference([retrieved], [gold])["MAP@10"] == pytest.approx(0.3)


def test_only_top_10_count() -> None:
    gold = ["needle"]
    retrieved = ["hay"] * 10 + ["needle"]
    s = m.multihop_query_score(retrieved, gold)
    assert s.first_hit_rank is None
    assert s.average_precision == 0.0
    assert s.reciprocal_rank == 0.0
    assert not s.hits_at(10)
    assert s.evidence_recall == 0.0


def test_whitespace_is_ignored_both_ways() -> None:
    s = m.multihop_query_score(["The cat\nsat on the mat"], ["cat sat  on"])
    assert s.first_hit_rank == 1
    assert m.remove_whitespace(" a\tb\nc \u00a0d ") == "abcd"


def test_evidence_recall_and_all_evidence() -> None:
    gold = ["fact one", "fact two", "fact three", "fact four"]
    retrieved = ["x fact one", "fact three y", "z"]
    s = m.multihop_query_score(retrieved, gold)
    assert s.evidence_recall == pytest.approx(0.5)
    assert not s.all_evidence
    # AP: 1/1 + 1/2 = 1.5, over min(4, 10) = 4
    assert s.average_precision == pytest.approx(0.375)


def test_duplicate_gold_facts_follow_upstream() -> None:
    # Upstream divides by len(gold) with duplicates but counts a duplicate once.
    gold = ["same fact", "same fact"]
    s = m.multihop_query_score(["the same fact"], gold)
    assert s.average_precision == pytest.approx(0.5)
    assert s.n_facts == 1 and s.all_evidence


def test_null_query_rejected() -> None:
    with pytest.raises(ValueError):
        m.multihop_query_score(["anything"], [])


def test_summary_matches_upstream_on_several_queries() -> None:
    retrieved_lists = [
        ["a b", "c d", "e f"],
        ["x", "y", "z", "w", "gold two here"],
        ["nothing"] * 12,
        ["g1 and g2", "g3"],
    ]
    gold_lists = [["cd", "ef", "zz"], ["gold two"], ["never"], ["g1", "g2", "g3"]]
    ours = m.upstream_calculate_metrics(retrieved_lists, gold_lists)
    ref = _upstream_reference(retrieved_lists, gold_lists)
    for key, value in ref.items():
        assert ours[key] == pytest.approx(value), key
    summary = m.multihop_summary(
        [m.multihop_query_score(r, g) for r, g in zip(retrieved_lists, gold_lists, strict=True)]
    )
    assert summary["map@10"] == pytest.approx(ref["MAP@10"])
    assert summary["hits@4"] == pytest.approx(0.5)  # queries 1 and 4
    assert summary["hits@10"] == pytest.approx(0.75)
    # MRR: 1/2 + 1/5 + 0 + 1 over 4
    assert summary["mrr@10"] == pytest.approx((0.5 + 0.2 + 1.0) / 4)
    # evidence recall: 2/3, 1, 0, 1
    assert summary["evidence_recall@10"] == pytest.approx((2 / 3 + 1 + 0 + 1) / 4)
    assert summary["all_evidence@10"] == pytest.approx(0.5)


# ----------------------------------------------------------------- seed retrieval


def test_evidence_in_chunk_containment_and_overlap() -> None:
    quote = "The mayor resigned on Friday."
    assert m.evidence_in_chunk(quote, "Earlier news. The mayor\nresigned on Friday. Later.")
    assert not m.evidence_in_chunk(quote, "The mayor resigned")
    # Split quote: chunk covers 70% of its span in the same article -> hit.
    qspan = ("art1", 100, 200)
    assert m.evidence_in_chunk(quote, "part", quote_span=qspan, chunk_span=("art1", 0, 170))
    # Covers only 50% -> no hit; other article -> no hit.
    assert not m.evidence_in_chunk(quote, "part", quote_span=qspan, chunk_span=("art1", 150, 400))
    assert not m.evidence_in_chunk(quote, "part", quote_span=qspan, chunk_span=("art2", 0, 400))
    assert m.span_overlap(0, 10, 5, 20) == 5
    assert m.span_overlap(0, 10, 10, 20) == 0


def test_recall_mrr_hits() -> None:
    # Two gold quotes found at ranks 3 and (never).
    assert m.recall_at([3, None], 1) == 0.0
    assert m.recall_at([3, None], 5) == 0.5
    assert m.recall_at([1, 7], 5) == 0.5
    assert m.recall_at([1, 7], 10) == 1.0
    with pytest.raises(ValueError):
        m.recall_at([], 5)
    assert m.reciprocal_rank(4) == 0.25
    assert m.reciprocal_rank(None) == 0.0
    assert m.reciprocal_rank(11, cutoff=10) == 0.0
    assert m.hits_at(3, 3) and not m.hits_at(4, 3) and not m.hits_at(None, 10)


# ----------------------------------------------------------------- answers and citations


def test_answer_contains_case_normalised() -> None:
    assert m.answer_contains(["Sam Altman."], "Quote: sam  ALTMAN said [1]")
    assert m.answer_contains(["Google"], "nothing", quotes=["a google spokesperson"])
    assert not m.answer_contains(["Apple"], "Microsoft said", quotes=["no fruit"])
    assert not m.answer_contains([""], "anything")
    assert m.normalize_answer("  \u201cThe  Verge.\u201d ") == "the verge"


def test_citation_precision_counts() -> None:
    assert m.citation_precision(["a", "b", "a"], ["a"]) == (2, 3)
    assert m.citation_precision([], ["a"]) == (0, 0)


def test_abstention_scores() -> None:
    # q1 unanswerable+abstained (TP), q2 unanswerable answered (FN),
    # q3 answerable abstained (false abstention), q4 answerable answered.
    s = m.abstention_scores([True, False, True, False], [False, False, True, True])
    assert s.precision == pytest.approx(0.5)
    assert s.recall == pytest.approx(0.5)
    assert s.false_abstention_rate == pytest.approx(0.5)
    none = m.abstention_scores([False, False], [True, True])
    assert none.precision is None and none.recall is None
    assert none.false_abstention_rate == 0.0
    assert s.f1 == pytest.approx(0.5) and s.to_dict()["f1"] == pytest.approx(0.5)
    assert none.f1 is None
    lopsided = m.abstention_scores([True, False, False, False], [False, False, False, False])
    assert lopsided.f1 == pytest.approx(2 * 1.0 * 0.25 / 1.25)


def test_a_quote_holds_gold_when_it_covers_most_of_the_gold_span() -> None:
    gold = [("a", 100, 140), None]
    assert m.quote_holds_gold(("a", 90, 200), gold)       # a sentence around the gold words
    assert m.quote_holds_gold(("a", 100, 130), gold)      # 30 of 40 gold characters
    assert not m.quote_holds_gold(("a", 120, 300), gold)  # 20 of 40, and 20 of 180
    assert not m.quote_holds_gold(("b", 90, 200), gold)   # another article
    assert not m.quote_holds_gold(("a", 0, 100), gold)    # next to it, not on it
    # A gold quote of several sentences: one of them, wholly inside it, holds it.
    assert m.quote_holds_gold(("a", 10, 50), [("a", 0, 400)])
    assert not m.quote_holds_gold(("a", 10, 50), [None])


# ----------------------------------------------------------------- verbatim quotes


def test_verbatim_check_passes_and_fails_loudly() -> None:
    texts = {"a1": "Hello world. Second sentence here."}
    good = [(1, "Second sentence", "a1", 13, 28)]
    assert m.find_verbatim_violations("q", good, texts) == []
    m.assert_verbatim([], total=1)  # no exception

    bad = [
        (1, "Second sentence", "a1", 0, 15),  # text exists, offsets wrong
        (2, "Invented words", "a1", 0, 14),  # not in the article at all
        (3, "Hello", "zz", 0, 5),  # unknown article
        (4, "", "a1", 0, 0),  # empty quote
    ]
    v = m.find_verbatim_violations("q", bad, texts)
    assert [x.n for x in v] == [1, 2, 3, 4]
    assert "offsets" in v[0].reason and "does not occur" in v[1].reason
    with pytest.raises(m.VerbatimError) as exc:
        m.assert_verbatim(v, total=5)
    assert "4 of 5" in str(exc.value) and "NOT verbatim" in str(exc.value)
    assert isinstance(exc.value, AssertionError)


# ----------------------------------------------------------------- small helpers


def test_percentile_linear() -> None:
    vals = [10.0, 20.0, 30.0, 40.0]
    assert m.percentile(vals, 50) == pytest.approx(25.0)
    assert m.percentile(vals, 95) == pytest.approx(38.5)
    assert m.percentile([7.0], 95) == 7.0
    assert m.percentile([], 50) is None
    with pytest.raises(ValueError):
        m.percentile(vals, 101)


def test_evenly_spaced_is_deterministic() -> None:
    assert m.evenly_spaced(10, 3) == [0, 3, 6]
    assert m.evenly_spaced(5, None) == [0, 1, 2, 3, 4]
    assert m.evenly_spaced(5, 50) == [0, 1, 2, 3, 4]
    assert m.evenly_spaced(2556, 10) == [i * 2556 // 10 for i in range(10)]
    with pytest.raises(ValueError):
        m.evenly_spaced(5, 0)


def test_mean_of_nothing_is_none() -> None:
    assert m.mean([]) is None
    assert m.mean([1.0, 2.0]) == 1.5
