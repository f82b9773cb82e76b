# Every target creates .venv when missing and installs the project into it, so a fresh clone needs
# nothing but Python 3.11: `make run` and `make test` do all the set-up.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test fuzz lint fmt bench chaos clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# Bytecode for the project's own modules: where PYTHONDONTWRITEBYTECODE is set (these machines
# set it), every process, and the workflow sandbox once per case it loads, would otherwise
# compile them from source again (7% of a replay's CPU). Only changed files are recompiled.
PACKAGES := activities api audit bench cli models sandbox simulation web workers workflows tests

install: $(STAMP)
	$(BIN)/python -m compileall -q -j 0 $(PACKAGES)

run: install
	$(BIN)/collectflow dev --demo

test: install
	$(BIN)/python -m tests.run_pytest

# The core's stateful property test with 5,000 sequences (make test runs 300).
fuzz: install
	COLLECTFLOW_CORE_PROFILE=core-fuzz $(BIN)/python -m tests.run_pytest tests/unit/core/test_properties.py -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench.all

chaos: install
	$(BIN)/python -m tests.chaos.run $(ARGS)

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
