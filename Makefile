# custodes: the two commands a newcomer types are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
PG_BINDIR := $(shell ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
DEMO_HOME ?= demo-out/home
DEMO_DATA ?= demo-out/data

.PHONY: demo test lint types pytest bench bench-10m system-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# PostgreSQL and Chromium are needed for real by the tests (never mocked); install them when missing.
system-deps:
	@if [ -z "$(PG_BINDIR)" ] && ! command -v pg_ctl >/dev/null 2>&1; then \
	  echo "pg_ctl not found: installing Debian's postgresql"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; \
	fi
	@# the reviewer UI test drives Debian's Chromium through Playwright (never `playwright install`)
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "/usr/bin/chromium not found: installing Debian's chromium"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	fi

demo: $(STAMP)
	rm -rf demo-out
	$(BIN)/custodes synth --persons 200000 --requests 20000 --seed 7 --out $(DEMO_DATA)
	CUSTODES_HOME=$(DEMO_HOME) $(BIN)/custodes init
	CUSTODES_HOME=$(DEMO_HOME) $(BIN)/custodes master load $(DEMO_DATA)/master.parquet
	CUSTODES_HOME=$(DEMO_HOME) $(BIN)/custodes verify $(DEMO_DATA)/requests.csv \
	  --manifest $(DEMO_DATA)/requests.manifest.json --out demo-out/result
	$(BIN)/custodes score --truth $(DEMO_DATA)/truth.csv --decisions demo-out/result/decisions.parquet --table

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

types: $(STAMP)
	$(BIN)/mypy

# the bench harness (Splink, FEBRL4, pseudopeople converters) is tested too, so pytest needs the bench extra.
# One pytest worker per core (pytest-xdist): the suite is mostly single-threaded Python, and on 2 cores
# it runs in about half the time of one process. Each worker starts its own PostgreSQL cluster.
PYTEST_WORKERS ?= auto
pytest: $(BENCH_STAMP) system-deps
	$(BIN)/pytest -n $(PYTEST_WORKERS)

test: lint types pytest

bench: $(BENCH_STAMP)
	$(BIN)/custodes bench pipeline --persons 1000000 --requests 100000 --seed 1 --out bench/results
	$(BIN)/custodes bench linkage --persons 1000000 --requests 100000 --seed 1 --out bench/results
	$(BIN)/custodes bench accounting --persons 1000000 --requests 100000 --seed 1 --out bench/results
	$(BIN)/custodes bench ledger --out bench/results
	$(BIN)/custodes bench online --persons 1000000 --seed 1 --out bench/results
	$(BIN)/custodes bench service --persons 1000000 --clients 50 --seconds 30 --out bench/results
	$(BIN)/custodes bench service --persons 1000000 --clients 50 --seconds 30 --workers 2 --out bench/results
	$(BIN)/custodes bench oversight --entries 10000000 --persons 1000000 --requests 100000 --out bench/results

bench-10m: $(BENCH_STAMP)
	$(BIN)/custodes bench scale --persons 10000000 --requests 1280000 --out bench/results

clean:
	rm -rf $(VENV) demo-out custodes-data .mypy_cache .ruff_cache
