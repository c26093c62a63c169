# `make run` and `make test` are each self-sufficient on a fresh clone:
# they create .venv when it is missing and install the project into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test test-fast lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-run the install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/amlops demo && $(BIN)/amlops

# Three workers on two cores, a test file each: the suite waits on real processes (servers
# starting, probes) much of the time, and a third worker fills those waits (pytest: 286 s on
# two workers, 230 s on three, on a quiet 2-core machine; the timing checks hold on both).
test: $(VENV)/.installed-test
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -n 3 --dist loadfile

# The fast lane: no daemon, router or scoring server (tests marked `integration` start those),
# as `make test` runs (about 140 s serial, 78 s on two workers, 65 s on three, quiet machine).
test-fast: $(VENV)/.installed-test
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -n 3 --dist loadfile -m "not integration"

lint: $(VENV)/.installed
	$(BIN)/amlops lint specs/

bench: $(VENV)/.installed-test
	for b in benchmarks/*.py; do PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
