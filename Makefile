# One command sets everything up and runs the job; one sets up and runs the checks.
#   make demo   - install (first time), build the bundled index, open the chat in a browser
#   make test   - install (first time), then lint (ruff), types (mypy) and tests (pytest)
#   make check  - the same as make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo ask test check lint types unit browser-deps bench bench-cold bench-scale eval clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of PyTorch, pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/rag build --quiet
	$(BIN)/rag ask "By how much did Chinese exports to North Korea rise in September?"
	$(BIN)/rag serve

ask: setup
	$(BIN)/rag ask "By how much did Chinese exports to North Korea rise in September?"

# Headless Chromium for the browser test (Debian packages; needs root, as in CI).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "browser test needs: sudo apt-get install chromium chromium-driver"; fi; }

lint: setup
	$(BIN)/ruff check .

types: setup
	$(BIN)/mypy rag

unit: setup browser-deps
	$(BIN)/python -m pytest

test: lint types unit

# The same one command under the name the docs use.
check: test

bench: setup
	$(BIN)/python benchmarks/bench_ask.py

# `rag ask` as a fresh process, 7 times: median/min/max wall time and peak memory.
bench-cold: setup
	$(BIN)/python benchmarks/bench_cold_start.py

# Corpora of 10k, 100k and 1M chunks: build, disk, RSS, load, search/ask p50/p95, ANN recall.
bench-scale: setup
	$(BIN)/python benchmarks/bench_scale.py --json benchmarks/scale.json

clean:
	rm -rf $(VENV) index/CURRENT index/builds .pytest_cache .mypy_cache .ruff_cache
