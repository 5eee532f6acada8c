# The two commands a user needs: `make demo` and `make test`. Each installs what it needs itself.
# `make bench` measures the performance goals (see the README's Performance section).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SDK_VENV := .venv-sdk
STAMP := $(VENV)/.installed-stamp
SDK_STAMP := $(SDK_VENV)/.installed-stamp
AZURITE_DIR := .azurite
AZURITE_STAMP := $(AZURITE_DIR)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install demo test lint typecheck pytest bench clean

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv

# Bytecode is compiled at install time: this machine sets PYTHONDONTWRITEBYTECODE, so otherwise every
# import (and every DAG parse) would compile Airflow again.
$(STAMP): pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -e '.[dev,emulator]'
	touch $@

# The official Runware SDK imports as `runware`, which clashes with an older package: it gets its own
# environment and is only used to check that the emulator speaks Runware's protocol.
$(SDK_STAMP):
	$(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/pip install --quiet --disable-pip-version-check runware-sdk==1.8.0
	touch $@

# Azurite, Microsoft's Azure Storage emulator, for the Azure Blob output tests (it checks SAS signatures).
# 3.35.0 is the last release that supports node 20.
$(AZURITE_STAMP):
	npm install --prefix $(AZURITE_DIR) --no-audit --no-fund azurite@3.35.0
	touch $@

install: $(STAMP) $(SDK_STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

lint: $(STAMP)
	$(BIN)/ruff check airflow_provider_runware tests example_dags scripts benchmarks
	$(BIN)/ruff format --check airflow_provider_runware tests example_dags scripts benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: install $(AZURITE_STAMP)
	$(BIN)/pytest -p no:cacheprovider -rs $(PYTEST_ARGS)

test: lint typecheck pytest

# P1-P6 of issue 9 as one table (goal beside each figure) and benchmarks/results.json. Needs only loopback.
# BENCH_QUICK=1: fewer repetitions and smaller sizes.
bench: install
	$(BIN)/python benchmarks/run.py $(if $(filter 1 yes true,$(BENCH_QUICK)),--quick)

clean:
	rm -rf $(VENV) $(SDK_VENV) $(AZURITE_DIR) demo-output .demo
