"""The README's commands run as written: its Python blocks are executed on the real
bundled index, its example command lines are run, its command synopses name only
options the CLI has, and its make targets exist."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
from pathlib import Path

import pytest

from rag.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def _blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def _command_lines() -> list[str]:
    lines = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                lines.append(command)
    return lines


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the CLI has no subcommands")


def test_readme_is_short_and_has_both_setup_commands():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; keep it to 250 for users"
    commands = _command_lines()
    assert "make demo" in commands and "make test" in commands


def test_make_targets_in_the_readme_exist():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.M))
    for line in _command_lines():
        if line.startswith("make "):
            for target in line.split()[1:]:
                assert target in targets, f"README runs `make {target}`; no such target"


def test_rag_synopses_name_only_real_options():
    subparsers = _subparsers()
    synopses = [line for line in _command_lines() if line.startswith("rag ") and "[" in line]
    assert len(synopses) >= 5
    for line in synopses:
        name = line.split()[1]
        assert name in subparsers, f"README shows `rag {name}`, which the CLI does not have"
        known = {opt for action in subparsers[name]._actions for opt in action.option_strings}
        for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", line):
            assert option in known, f"README shows `rag {name} {option}`, which it does not accept"


def test_rag_example_lines_run_as_written(tmp_path, monkeypatch, capsys):
    # The examples use ~/news: make that a real folder of one article, in a private HOME.
    monkeypatch.setenv("HOME", str(tmp_path))
    news = tmp_path / "news"
    news.mkdir()
    (news / "bridge.md").write_text(
        "---\ntitle: Bridge opens\nsource: Border Times\npublished: 2023-10-02\n---\n"
        "The new bridge between Dandong and Sinuiju opened to traffic on Monday.\n"
        "The ministry said the bridge would carry trucks and passengers every day.\n",
        encoding="utf-8")
    examples = [line for line in _command_lines() if line.startswith("rag ") and "[" not in line]
    assert examples, "the README shows no runnable rag example"
    for line in examples:
        # As a shell would: ~ and $HOME expanded.
        argv = [os.path.expandvars(str(Path(arg).expanduser()) if arg.startswith("~") else arg)
                for arg in shlex.split(line)[1:]]
        assert main(argv) == 0, f"`{line}` failed: {capsys.readouterr().err}"
    out = capsys.readouterr().out
    assert "bridge" in out


@pytest.mark.usefixtures("use_default_index")
def test_python_blocks_run_on_the_bundled_index():
    blocks = _blocks("python")
    assert blocks
    for code in blocks:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, str(README), "exec"), {"__name__": "readme"})
        assert printed.getvalue().strip(), f"this README block printed nothing:\n{code}"
