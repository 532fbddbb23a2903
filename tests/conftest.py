"""Shared fixtures: one real index of the bundled articles per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MULTIHOP = SHARED / "datasets" / "multihop-rag"


@pytest.fixture(scope="session")
def default_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled corpus's index, built the way a new user gets it: by the first ask()."""
    import rag

    folder = tmp_path_factory.mktemp("default-index")
    previous = os.environ.get("RAG_INDEX_DIR")
    os.environ["RAG_INDEX_DIR"] = str(folder)
    try:
        answer = rag.ask("Who did Pak Myong Ho meet?")
        assert answer.citations, "first ask() on the bundled corpus gave no citation"
    finally:
        if previous is None:
            os.environ.pop("RAG_INDEX_DIR", None)
        else:
            os.environ["RAG_INDEX_DIR"] = previous
    return folder


@pytest.fixture(scope="session")
def part_model_index(tmp_path_factory: pytest.TempPathFactory):
    """The bundled corpus indexed with a second model for question parts."""
    import rag
    from rag.config import PART_MODEL

    folder = tmp_path_factory.mktemp("part-model-index")
    config = rag.Config(part_model=PART_MODEL)
    rag.build_index([rag.bundled_corpus_dir()], folder, config=config, progress=False)
    return rag.load_index(folder, config=config)


def news_index(tmp_path_factory: pytest.TempPathFactory, name: str, records: list[dict]):
    """A real index (one model, no part model) of ``records`` written as one JSON
    file of news records: for fixtures that need a small corpus of their own."""
    import json

    import rag

    corpus = tmp_path_factory.mktemp(name)
    (corpus / "news.json").write_text(json.dumps(records))
    target = tmp_path_factory.mktemp(f"{name}-index")
    config = rag.Config(part_model=None)
    rag.build_index([corpus], target, progress=False, config=config)
    return rag.load_index(target, config=config)


@pytest.fixture(scope="session")
def bundled_index(default_index_dir: Path):
    import rag

    return rag.load_index(default_index_dir)


@pytest.fixture()
def use_default_index(default_index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAG_INDEX_DIR", str(default_index_dir))
    return default_index_dir
