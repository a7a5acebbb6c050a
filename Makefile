# stancemap: `make demo` sets up a fresh machine and runs the whole pipeline on corpus/;
# `make test` sets up and runs the test suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORPUS ?= corpus
OUT ?= outputs
BENCH_ARGS ?=
SHARED ?= ../shared

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test lint bench eval browser clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/stancemap run $(CORPUS) --out $(OUT)
	@if [ -f $(SHARED)/gold/seed_stances.csv ]; then \
		$(BIN)/stancemap evaluate --gold $(SHARED)/gold/seed_stances.csv --docs $(SHARED)/seeds --out $(OUT) && \
		$(BIN)/stancemap report --out $(OUT); \
	fi
	@echo "Results: $(OUT)/report.html, $(OUT)/report.md and the parquet tables in $(OUT)/"

# Debian's chromium, for the report's headless-browser test (root on CI and on the dev machines).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium is not installed: the browser test will skip"; fi; }

test: install browser
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

# Stance figures: document-grouped CV on $(SHARED)/dev + dev2 and the seeds, written into README
# (about 12 minutes from an empty cache, 2 with the prepared texts cached; skips when
# $(SHARED) is absent; not part of `make test`).
eval: install
	$(BIN)/python scripts/eval_stance.py --shared $(SHARED)

clean:
	rm -rf $(VENV) $(OUT)
