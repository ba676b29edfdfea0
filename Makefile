# Every target creates .venv on first use; nothing needs installing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DB := demo/demo.db
DEMO_CUSTOMERS ?= 5000

.PHONY: demo test test-fast lab bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	@mkdir -p demo
	$(BIN)/crmkit demo $(DEMO_DB) --customers $(DEMO_CUSTOMERS) --seed 7 --replace
	$(BIN)/crmkit report $(DEMO_DB) --html demo/report.html

# Both engines at once: the suite on SQLite files and on a PostgreSQL server. The server is
# $$CRMKIT_TEST_POSTGRES_URL when set, else a throw-away one started here (PostgreSQL's binaries
# must be installed). When none can be started the PostgreSQL run is left out, saying so, except
# under CI=true, where that is a failure.
test: $(VENV)/.installed-dev
	@scripts/test-both-engines $(BIN)/python -m pytest

test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not slow"

lab: $(VENV)/.installed-dev
	$(BIN)/jupyter lab

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks

bench-quick: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks --quick

clean:
	rm -rf $(VENV) demo .pytest_cache
