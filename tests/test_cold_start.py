"""`rag ask` from a cold process: the in-process answer, printed quietly, without torch.

A cold `rag ask` once spent about 10 s importing torch, sentence-transformers and
Gradio and loading the weights; it now encodes the question with the model's ONNX
export (rag.onnx_export) and imports none of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import rag
from rag.cli import main

REPO = Path(__file__).resolve().parents[1]
QUESTION = "By how much did Chinese exports to North Korea rise in September?"
#: Packages a question has no need of (the build and the chat use them).
HEAVY = ("torch", "transformers", "sentence_transformers", "gradio", "langchain_text_splitters",
         "sklearn")


def _python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """This checkout's rag in a fresh interpreter, as a user starts it."""
    environment = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                       PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.run([sys.executable, *args], cwd=REPO, env=environment, text=True,
                          capture_output=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def cold(default_index_dir: Path) -> subprocess.CompletedProcess[str]:
    """One cold `rag ask` of QUESTION on the bundled index."""
    done = _python("-m", "rag", "ask", QUESTION, "--index", str(default_index_dir))
    assert done.returncode == 0, done.stderr
    return done


def test_a_cold_rag_ask_prints_the_in_process_answer(default_index_dir, cold, capsys):
    answer = rag.ask(QUESTION, index=default_index_dir)
    assert cold.stdout.startswith(answer.text + "\n\n[1] ")
    assert main(["ask", QUESTION, "--index", str(default_index_dir)]) == 0
    assert cold.stdout == capsys.readouterr().out


def test_a_cold_rag_ask_prints_no_progress_bar(default_index_dir, cold):
    assert cold.stderr == ""
    verbose = _python("-m", "rag", "ask", QUESTION, "--index", str(default_index_dir),
                      "--verbose")
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stdout == cold.stdout
    assert "encoded with onnxruntime" in verbose.stderr
    assert "answered in" in verbose.stderr


def test_a_question_imports_neither_torch_nor_gradio(default_index_dir):
    code = (
        "import sys\n"
        "from rag.cli import main\n"
        f"main(['ask', {QUESTION!r}, '--index', {str(default_index_dir)!r}])\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))\n"
    )
    done = _python("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_without_an_export_the_first_ask_makes_one_quietly(default_index_dir, cold, tmp_path):
    """An index built before the export (or an emptied cache): that ask loads torch,
    without its loading bar, answers the same, and leaves an export for the next."""
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    first = _python("-m", "rag", "ask", QUESTION, "--index", str(default_index_dir), env=env)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert first.stdout == cold.stdout
    assert list((tmp_path / "rag" / "models" / "onnx").glob("*/export.json"))


def test_a_question_answered_before_the_reranker_loads_exits_cleanly(default_index_dir):
    """A filter no article passes ends the question while the cross-encoder still
    loads in its thread: the process must wait for it, not abort (onnxruntime
    aborted with a daemon thread)."""
    for _ in range(3):
        done = _python("-m", "rag", "ask", "Who did Pak Myong Ho meet?", "--index",
                       str(default_index_dir), "--source", "No Such Outlet")
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
