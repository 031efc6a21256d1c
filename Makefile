# Two commands for a fresh machine with Python >= 3.11:
#   make book   set up .venv if missing, run the pipeline on the embedded default, build the book into _book/
#   make test   set up .venv if missing, run the default (fast) test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: book test test-slow bench env clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,book]'
	touch $(STAMP)

env: $(STAMP)

book: $(STAMP)
	$(BIN)/nep book

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -n 2 $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench_stats

clean:
	rm -rf _book _freeze .nep_cache
	find nep_core nep_synthetic tests benchmarks -name __pycache__ -prune -exec rm -rf {} +   # numba caches too
