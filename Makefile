# The two commands a user needs: `make demo` and `make test`. Each installs what it needs itself.
# `make bench` measures the performance goals (see docs/performance.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SDK_VENV := .venv-sdk
STAMP := $(VENV)/.installed-stamp
SDK_STAMP := $(SDK_VENV)/.installed-stamp
AZURITE_DIR := .azurite
AZURITE_STAMP := $(AZURITE_DIR)/.installed-stamp
PYTEST_ARGS ?=
# The chaos campaign's seeded emulator faults: `make chaos CHAOS_SEED=11 CHAOS_RATE=0.5`.
CHAOS_SEED ?= 7
CHAOS_RATE ?= 0.3
CHAOS_ARGS ?=
# The distributed campaign's knobs (`make chaos-distributed CHAOS_DISTRIBUTED_ARGS="--run-timeout 600
# --concurrency 4 --visibility-timeout 30"`; --help lists them).
CHAOS_DISTRIBUTED_ARGS ?=
# The Airflow 3 lines `make matrix` runs (`make matrix LINES=3.0`), and extra pytest arguments for each.
# (Set on the command line only: a shell may export its own LINES, the terminal height.)
LINES =
MATRIX_ARGS ?=

.PHONY: install demo demo-video demo-products test lint typecheck floors pytest matrix matrix-oldest chaos postgres-server \
	chromium redis-server chaos-distributed bench clean

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

# PostgreSQL 15 server (Debian package) for the chaos campaign's Airflow metadata DB; idempotent.
postgres-server:
	scripts/install-postgres.sh

# Debian's Chromium for the browser tests and the demo's screenshots (Playwright drives it); idempotent.
chromium:
	scripts/install-chromium.sh

# Redis (Debian package) for the distributed chaos campaign's Celery broker; idempotent.
redis-server:
	scripts/install-redis.sh

install: $(STAMP) $(SDK_STAMP)

# Ends with the URL of the run's gallery; DEMO_ARGS=--serve keeps it open on http://localhost:8080.
demo: $(STAMP)
	$(BIN)/python scripts/demo.py $(DEMO_ARGS)

# A product photo -> caption -> richer prompt -> scene image -> short product video
# (example_dags/runware_product_video.py) on the emulator and a local S3 server; leaves the MP4 and a
# contact sheet (photo, scene, the video's first and last frames) in demo-output/video/.
demo-video: $(STAMP)
	$(BIN)/python scripts/demo_video.py

# The product campaign with its human review step (example_dags/runware_product_campaign.py) on real
# Airflow services, the emulator and moto; the review is answered in headless Chromium (Playwright), which
# leaves screenshots of the review with its thumbnails and of the run's gallery in demo-output/products/.
# DEMO_ARGS="--screenshots docs/screenshots" also writes the README's copies.
demo-products: $(STAMP) chromium
	$(BIN)/python scripts/demo_products.py $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check airflow_provider_runware tests example_dags scripts benchmarks
	$(BIN)/ruff format --check airflow_provider_runware tests example_dags scripts benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# The dependency floors in pyproject.toml, proven: a throwaway install at the lowest allowed version of
# every direct dependency imports every module (seconds once uv's cache is warm).
floors: $(STAMP)
	$(BIN)/python scripts/check_floors.py

# The core suite on every Airflow 3 line (3.0.2, 3.1.8, 3.2.2, 3.3.2), each in its own .venv-airflow-<line>
# built with the packages of its release's era (rebuilt only when pyproject.toml changes): unit tests and
# the dag.test() suites everywhere, the end-to-end tests on real Airflow services (a SIGKILLed worker, a
# restarted triggerer, a clear) on the oldest line.
matrix: $(STAMP)
	$(BIN)/python scripts/airflow_matrix.py $(LINES) $(if $(MATRIX_ARGS),-- $(MATRIX_ARGS))

# Only the oldest line (part of `make test`: the newest line is what `make pytest` runs in .venv).
matrix-oldest: $(STAMP)
	$(BIN)/python scripts/airflow_matrix.py --oldest $(if $(MATRIX_ARGS),-- $(MATRIX_ARGS))

# The chaos campaigns (tests/chaos) are part of pytest: about 3 minutes of real Airflow services with
# the LocalExecutor, and about 5 of a CeleryExecutor deployment (two workers, two triggerers, Redis).
pytest: install $(AZURITE_STAMP) postgres-server redis-server chromium
	CHAOS_SEED=$(CHAOS_SEED) CHAOS_RATE=$(CHAOS_RATE) $(BIN)/pytest -p no:cacheprovider -rsx --durations=25 $(PYTEST_ARGS)

# One chaos campaign on its own: PostgreSQL + api-server, scheduler, triggerer, dag-processor, a faulty
# emulator, moto; prints the summary line and every violation, writes tests/chaos/results/last-run.*.
chaos: $(STAMP) postgres-server
	$(BIN)/python tests/chaos/run_chaos.py --seed $(CHAOS_SEED) --fault-rate $(CHAOS_RATE) $(CHAOS_ARGS)

# The distributed campaign on its own: CeleryExecutor with Redis and PostgreSQL, two workers, two
# triggerers and a supervisor that restarts what exits; killed workers, a frozen task supervisor (two
# tries at once), a killed triggerer, two database outages, a Redis restart and forced Celery
# redeliveries on top of the emulator's seeded faults. Prints the summary line, every violation and
# every restart; writes tests/chaos/results/last-run-distributed.*.
chaos-distributed: $(STAMP) postgres-server redis-server
	$(BIN)/python tests/chaos/run_chaos_distributed.py --seed $(CHAOS_SEED) --fault-rate $(CHAOS_RATE) \
		$(CHAOS_DISTRIBUTED_ARGS)

test: lint typecheck floors pytest matrix-oldest

# P1-P6 of issue 9 and P7, P7b (two triggerers) and P8 of issue 18 as one table (goal beside each figure) and benchmarks/results.json. Needs only loopback.
# BENCH_QUICK=1: fewer repetitions and smaller sizes.
bench: install postgres-server redis-server
	$(BIN)/python benchmarks/run.py $(if $(filter 1 yes true,$(BENCH_QUICK)),--quick)

clean:
	rm -rf $(VENV) $(SDK_VENV) .venv-airflow-* $(AZURITE_DIR) demo-output .demo .demo-products .demo-video
