# `make run` and `make test` are each self-sufficient on a fresh clone:
# they create .venv when it is missing and install the project into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test test-fast lint bench clean

# uv installs the same packages from the same index (PyPI) as pip, several times faster (a fresh
# clone spent 171 s in pip before the demo could start; benchmarks/startup.py times both). uv
# itself comes from PyPI into the venv, so nothing outside it is needed. Each phase says what it
# does: uv prints its own progress (a bar on a terminal, a summary line per step otherwise).
# --compile-bytecode does what pip does at install time: without it, where PYTHONDONTWRITEBYTECODE
# is set (this sandbox, CI) every process compiles what it imports again (azure.ai.ml and mlflow:
# 7 s instead of 2 s, in the daemon, each job, each scoring server and each test that spawns one).
$(BIN)/python:
	@echo "==> creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	@echo "==> installing uv (the installer) into $(VENV)"
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on uv

# Stamps re-run the install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/uv
	@echo "==> installing amlops and its dependencies (uv pip install -e .)"
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/uv
	@echo "==> installing amlops with its test extra (uv pip install -e '.[test]')"
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	@echo "==> setting up the demo on the local workspace (amlops demo)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/amlops demo
	@echo "==> opening the console (amlops)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/amlops

# The project's own bytecode, compiled once: where PYTHONDONTWRITEBYTECODE is set, every daemon,
# CLI call and job the suite starts would compile console/ again (about 0.05 s each, hundreds of
# processes). Site-packages' is compiled at install (uv --compile-bytecode).
COMPILE = $(BIN)/python -m compileall -q -j 0 console training >/dev/null

# Three workers on two cores, a test file each: the suite waits on real processes (servers
# starting, probes) much of the time, and a third worker fills those waits (1,123 tests: 305 s on
# three workers, 320 s on four, 344 s on five, on a quiet 2-core machine).
test: $(VENV)/.installed-test
	$(COMPILE)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -n 3 --dist loadfile

# The fast lane: no daemon, router or scoring server (tests marked `integration` start those),
# as `make test` runs (about 90 s on three workers, quiet machine: over its 60 s budget).
test-fast: $(VENV)/.installed-test
	$(COMPILE)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -n 3 --dist loadfile -m "not integration"

lint: $(VENV)/.installed
	$(BIN)/amlops lint specs/

bench: $(VENV)/.installed-test
	for b in benchmarks/*.py; do PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
