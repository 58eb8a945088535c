# The two README commands are `make demo` and `make test`; everything else supports them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP_FLAGS := --quiet --disable-pip-version-check
# Zero-config local instance: SQLite under .dagster_home (an empty dagster.yaml means "defaults").
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
UI_PORT ?= 3000

.PHONY: demo ui test hunt census dev-postgres validate bench clean

demo: $(VENV)/.runtime $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/compliance-assets run demo_pipeline --partitions all
	$(BIN)/compliance-assets run governance_reports

census: $(VENV)/.runtime $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/compliance-assets run census_release

# `exec`: make passes a SIGTERM (or Ctrl-C) on to its child, here dg dev itself, which stops
# its webserver, daemon and code server.
ui: $(VENV)/.runtime $(DAGSTER_HOME)/dagster.yaml
	exec $(BIN)/dg dev -h 127.0.0.1 -p $(UI_PORT)

validate: $(VENV)/.runtime $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dg check defs

# Two workers, a test file each (the files running Dagster's servers share one: tests/conftest.py):
# most tests wait on PostgreSQL, Dagster's processes or a browser, so the suite takes ~60 % of its
# serial time on 2 cores. The slowest tests are listed at the end. `PYTEST_ARGS="-n 0"` runs it serially.
test: $(VENV)/.test
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=25 $(PYTEST_ARGS)

# The disclosure properties with fresh random seeds, HUNT_EXAMPLES each (minutes; not in CI).
HUNT_EXAMPLES ?= 600
hunt: $(VENV)/.test
	HUNT_EXAMPLES=$(HUNT_EXAMPLES) $(BIN)/python -m pytest -n 2 tests/test_hunt.py $(PYTEST_ARGS)

# Full-size benchmarks (minutes); `BENCH_ARGS=--quick` for the seconds-long CI variant.
bench: $(VENV)/.runtime
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# Against PostgreSQL: the repo's dagster.yaml, credentials from DAGSTER_PG_* variables.
dev-postgres: $(VENV)/.runtime
	mkdir -p .dagster/postgres && cp dagster.yaml .dagster/postgres/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.dagster/postgres exec $(BIN)/dg dev -h 127.0.0.1 -p 3000

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME) && touch $@

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.runtime
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) .venv-pycanon .data .dagster_home .dagster .pytest_cache .hypothesis
