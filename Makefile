# Two commands for a fresh machine with only Python: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow check lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/branchnet demo

# In four workers (pytest-xdist): the suite mostly waits (node processes starting, servers
# answering, a browser), so four overlap those waits on two cores: 4m35s to 6m48s on 2 cores here, as busy as the shared host is (two
# workers: 6m27s). Each test stands alone (its own folders, ports chosen by the OS), so any
# order and any split give the same verdicts.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 4

# Suites marked slow (minutes, not seconds); CI runs them after `make test`.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -n 4 -m slow

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test test-slow

bench: $(STAMP)
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/vote.py
	$(BIN)/python bench/gossip_sim.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
