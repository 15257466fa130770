# Lakegate: `make run` serves the demo data, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Azurite (the Azure emulator) and pg (node-postgres, a client under test).
NODE_PACKAGES := node_modules/.installed
HOST ?= 127.0.0.1
PORT ?= 5433
HTTP_PORT ?= 8086

.PHONY: install install-test run demo test clients-report bench bench-ingest bench-delete reliability check clean

# constraints.txt pins every package to versions tested together, so the
# resolver has nothing to search and installs the same set everywhere.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed

$(NODE_PACKAGES): package.json package-lock.json
	npm install --no-audit --no-fund --silent
	touch $@

install-test: install $(NODE_PACKAGES)

run: install
	$(VENV)/bin/lakegate demo --data ./data --host $(HOST) --port $(PORT) --http-port $(HTTP_PORT)

demo: run

test: install-test
	$(PY) -m pytest -q $(PYTEST_ARGS)

# Rewrites docs/clients.md from a run of the real-client tests.
clients-report: install-test
	$(PY) -m tests.clients.report

# matplotlib draws the charts of make bench; it is not pinned in constraints.txt.
$(VENV)/.bench-installed: $(VENV)/.installed
	$(PIP) install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,bench]'
	touch $@

# Runs every benchmark suite side by side with its reference (PostgreSQL 15,
# DuckDB alone, stock buenavista, moto S3), then the ingestion suite, and
# rewrites their sections of docs/benchmarks.md and the charts in docs/bench/;
# BENCH_ARGS=--quick makes a small, fast run.
bench: $(VENV)/.bench-installed
	$(PY) -m bench $(BENCH_ARGS)

# Runs the ingestion benchmarks against PostgreSQL 15 and rewrites their section
# of docs/benchmarks.md; BENCH_ARGS=--quick divides every data size by 10.
bench-ingest: install
	$(PY) -m bench.ingest $(BENCH_ARGS)

# Times deleting one hour from 7 and 30 days of hourly files through the gateway,
# next to a full rewrite by hand in DuckDB, and rewrites the DELETE section of
# docs/benchmarks.md; BENCH_ARGS="--days 30 --hosts 100" changes the data size.
bench-delete: install
	$(PY) -m bench.delete $(BENCH_ARGS)

# Kills lakegate serve with SIGKILL during ingestion, DELETE, retention and
# continuous-query runs (50 trials each) and checks that nothing was lost or
# duplicated, then runs 100 connections of mixed load for 60 s; both rewrite
# their sections of docs/reliability.md. The load runs even when a crash trial
# failed, and the target fails if either did. RELIABILITY_ARGS passes options
# to the crash harness (RELIABILITY_ARGS="--trials 3"), LOAD_ARGS to the load.
reliability: install
	$(PY) -m reliability.crash $(RELIABILITY_ARGS); crash=$$?; \
	$(PY) -m reliability.load $(LOAD_ARGS) && exit $$crash

clean:
	rm -rf $(VENV) node_modules data .pytest_cache
