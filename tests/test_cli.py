import json
import re

import pytest

from rag.cli import build_parser, main


def test_build_ask_search_json(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text(
        "---\ntitle: Bridge opens\nsource: Border Times\npublished: 2023-10-02\n---\n"
        "The new Yalu River bridge between Dandong and Sinuiju opened to traffic on Monday.\n"
        "Officials expect trucks to cross daily.\n")
    (corpus / "junk.bin.txt").write_bytes(b"\x00\x00")
    index = tmp_path / "idx"
    assert main(["build", str(corpus), "--index", str(index), "--quiet", "--verbose"]) == 0
    out = capsys.readouterr()
    assert "indexed 1 articles" in out.out and "binary" in out.err

    assert main(["ask", "Which bridge opened?", "--index", str(index), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert "Yalu River bridge" in answer["citations"][0]["quote"]
    assert answer["citations"][0]["source"] == "Border Times"

    assert main(["search", "bridge", "--index", str(index), "-k", "1", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 1 and hits[0]["rank"] == 1

    assert main(["ask", "Which bridge opened?", "--index", str(index)]) == 0
    assert "[1] Border Times" in capsys.readouterr().out


def test_errors_are_messages_not_tracebacks(tmp_path, capsys):
    assert main(["ask", "anything", "--index", str(tmp_path / "none")]) == 2
    assert "rag build" in capsys.readouterr().err
    assert main(["build", str(tmp_path / "missing"), "--index", str(tmp_path / "i")]) == 2
    assert "no such file" in capsys.readouterr().err


HEX_ID = re.compile(r"\b[0-9a-f]{16}\b")


def test_ask_and_search_show_outlet_title_and_date_never_a_hash(use_default_index, capsys):
    # The exports figure is in 001, which states no outlet, headline or date.
    assert main(["ask", "By how much did Chinese exports to North Korea rise in September?"]
                ) == 0
    out = capsys.readouterr().out
    assert "30.75%" in out
    assert ("outlet not stated, “Chinese exports to North Korea experienced a significant "
            "increase in September…”, date not stated (September figures, no year given)"
            in out)
    assert not HEX_ID.search(out), out
    assert main(["ask", "Who won the 1998 football world cup?"]) == 0
    out = capsys.readouterr().out
    assert "don't answer" in out and "Closest passages" in out
    assert "Why: " in out and "threshold" not in out  # the reason in plain words
    assert not HEX_ID.search(out), out
    assert main(["search", "Kim Jong Un leaves Beijing", "-k", "5"]) == 0
    out = capsys.readouterr().out
    assert "The Speaker, “Kim Jong Un leaves Beijing”, 2024-05-29" in out
    assert not HEX_ID.search(out), out


def test_serve_is_listed_and_set_up_only_when_asked_for(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0 and "serve" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    assert done.value.code == 0 and "--port" in capsys.readouterr().out
    # A parser for one command leaves the chat's options (and its Gradio import) out.
    ask_only = build_parser("ask")
    assert ask_only.parse_args(["ask", "q", "--verbose"]).verbose
    with pytest.raises(SystemExit):
        ask_only.parse_args(["serve", "--port", "1"])
