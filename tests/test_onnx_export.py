"""The ONNX export that encodes questions without torch matches the torch model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import rag
from rag import embeddings, onnx_export
from rag.embeddings import (
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    export_for_questions,
    get_embedder,
    get_query_embedder,
    make_query_embedder,
    resolve_model_path,
)

REPO = Path(__file__).resolve().parents[1]
MODEL = "all-MiniLM-L6-v2"


def _questions() -> list[str]:
    return [json.loads(line)["question"]
            for name in ("seed_questions.jsonl", "offtopic_questions.jsonl")
            for line in (REPO / "eval" / name).read_text(encoding="utf-8").splitlines()
            if line.strip()]


def test_the_default_model_has_mean_pooling_and_others_may_not(tmp_path):
    assert onnx_export.pooling_of(resolve_model_path(MODEL)) == "mean"
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    modules = [{"type": "sentence_transformers.models.Transformer", "path": ""},
               {"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"},
               {"type": "sentence_transformers.models.Dense", "path": "2_Dense"}]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    assert onnx_export.pooling_of(tmp_path) is None  # a Dense layer is not exported
    (tmp_path / "modules.json").write_text(json.dumps(modules[:2]))
    assert onnx_export.pooling_of(tmp_path) == "mean"


def test_question_vectors_and_answers_match_the_torch_model(bundled_index, monkeypatch):
    exported = bundled_index.embedder()
    assert isinstance(exported, OnnxEmbedder) and exported is get_query_embedder(MODEL)
    torch_model = get_embedder(MODEL)
    assert isinstance(torch_model, SentenceTransformerEmbedder)
    questions = _questions()
    a = np.stack([exported.encode_query(q) for q in questions])
    b = np.stack([torch_model.encode_query(q) for q in questions])
    assert float((a * b).sum(axis=1).min()) >= onnx_export.MIN_COSINE
    # A several-part question's part vectors come from the same pass in both.
    long = ("Which company, according to TechCrunch, was sued by the FTC, and, as The Verge "
            "reported, launched a new phone in September?")
    spans = [(0, 45), (47, len(long))]
    for mine, theirs in zip(exported.encode_query_spans(long, spans),
                            torch_model.encode_query_spans(long, spans), strict=True):
        assert np.allclose(mine, theirs, atol=1e-5)

    def answers() -> list[tuple]:
        out = []
        for q in questions:
            answer = rag.ask(q, index=bundled_index)
            out.append((answer.text, answer.abstained,
                        [(c.article_id, c.start, c.end) for c in answer.citations],
                        [h.chunk_id for h in answer.hits]))
        return out

    with_onnx = answers()
    monkeypatch.setitem(embeddings._QUERY_EMBEDDERS, MODEL, torch_model)
    assert bundled_index.embedder() is torch_model
    assert answers() == with_onnx


@pytest.fixture()
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "rag" / "models" / "onnx"


def test_the_export_is_made_once_and_a_damaged_one_is_not_used(empty_cache):
    torch_model = get_embedder(MODEL)
    path = resolve_model_path(MODEL)
    assert onnx_export.find_export(path) is None
    folder = export_for_questions(torch_model)
    assert folder is not None and folder.parent == empty_cache
    found = onnx_export.find_export(path)
    assert found is not None and found[0] == folder
    assert found[1]["min_cosine"] >= onnx_export.MIN_COSINE
    assert found[1]["pooling"] == "mean" and found[1]["max_tokens"] == 256
    assert export_for_questions(torch_model) == folder  # found, not made again
    fresh = make_query_embedder(MODEL)
    assert isinstance(fresh, OnnxEmbedder) and fresh.dimension == 384
    with (folder / "model.onnx").open("r+b") as handle:
        handle.truncate(1000)
    assert onnx_export.find_export(path) is None


def test_without_the_onnx_package_questions_are_encoded_with_torch(empty_cache, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    assert make_query_embedder(MODEL) is get_embedder(MODEL)
    assert not empty_cache.exists() or not any(empty_cache.iterdir())


def test_an_onnx_model_is_its_own_query_embedder():
    assert make_query_embedder("bge-small-en-v1.5") is get_embedder("bge-small-en-v1.5")
