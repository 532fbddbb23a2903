"""Changing an index in place: a changed file replaces its old chunks, and
``rag remove`` takes articles out without a full rebuild (real model, real index)."""

from __future__ import annotations

import pytest

import rag
from rag.cli import main
from rag.errors import RagError


def _article(path, title, body):
    day = len(title) % 9 + 1
    path.write_text(f"---\ntitle: {title}\nsource: Border Times\npublished: 2024-02-0{day}\n"
                    f"---\n{body}\n", encoding="utf-8")


@pytest.fixture()
def small_index(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _article(corpus / "bridge.md", "Bridge opens",
             "The new bridge between Dandong and Sinuiju opened to traffic on Monday.")
    _article(corpus / "ferry.md", "Ferry resumes",
             "The Dandong ferry to Nampo resumed sailing on Saturday after four years.")
    _article(corpus / "rail.md", "Rail freight",
             "Freight trains between Dandong and Pyongyang now run twice a week.")
    index = tmp_path / "idx"
    rag.build_index([corpus], index, progress=False)
    return corpus, index


def test_a_changed_file_replaces_its_old_chunks(small_index):
    corpus, index = small_index
    before = rag.load_index(index)
    _article(corpus / "ferry.md", "Ferry resumes",
             "The Dandong ferry to Nampo resumed sailing on Sunday, a day late.")
    results, report = rag.add_files(index, [corpus / "ferry.md"])
    assert results[0].status == "added" and "replaced" in results[0].reason
    assert report is not None and report.embedded >= 1 and report.reused == len(before.chunks) - 1
    after = rag.load_index(index)
    assert len(after.article_list) == 3
    texts = " ".join(a.text for a in after.article_list)
    assert "Sunday" in texts and "Saturday" not in texts
    # The same file again changes nothing.
    results, report = rag.add_files(index, [corpus / "ferry.md"])
    assert results[0].status == "duplicate" and report is None


def test_remove_by_path_and_by_id_without_embedding(small_index, capsys):
    corpus, index = small_index
    ferry = next(a for a in rag.load_index(index).article_list if "ferry" in a.text)
    removed, report = rag.remove_articles(index, [str(corpus / "bridge.md")])
    assert removed[0].article_ids and report is not None and report.embedded == 0
    assert main(["remove", ferry.id[:8], "--index", str(index), "--quiet"]) == 0
    assert "removed 1 article(s)" in capsys.readouterr().out
    left = rag.load_index(index)
    assert [a.title for a in left.article_list] == ["Rail freight"]
    assert rag.ask("When did the Dandong ferry to Nampo resume?", index=index).abstained


def test_removing_what_is_not_there_is_an_error_and_removes_nothing(small_index):
    _, index = small_index
    with pytest.raises(RagError, match="nothing was removed"):
        rag.remove_articles(index, ["no-such-article.md"])
    assert len(rag.load_index(index).article_list) == 3
    with pytest.raises(RagError, match="no index"):
        rag.remove_articles(index.parent / "none", ["x"])
