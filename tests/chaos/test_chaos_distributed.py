"""The distributed chaos campaign as part of ``make test``: CeleryExecutor on Redis and PostgreSQL, two
workers, two triggerers and a supervisor, one run with every scheduled fault on top of the emulator's
seeded ones, judged by the campaign's invariants.

Seed and fault rate come from ``CHAOS_SEED`` / ``CHAOS_RATE`` (the Makefile passes them). The summary
line is printed (``pytest -s``) and written to tests/chaos/results/last-run-distributed.txt.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from chaos_campaign import RESULTS_DIR
from chaos_distributed import DistributedSettings, run_distributed_campaign
from chaos_postgres import server_bin
from chaos_redis import redis_bin

pytestmark = [pytest.mark.chaos, pytest.mark.integration]


class InvariantsViolated(AssertionError):
    """The campaign ran as intended and found the provider breaking a promise."""


@pytest.mark.timeout(600)
def test_distributed_chaos_campaign_keeps_every_promise(tmp_path: Path) -> None:
    pytest.importorskip("airflow.providers.celery", reason="the dev extra installs the celery provider")
    if server_bin() is None:
        pytest.skip("no PostgreSQL server installed: `make postgres-server` installs Debian's postgresql-15")
    if redis_bin() is None:
        pytest.skip("no Redis server installed: `make redis-server` installs Debian's redis-server")
    defaults = DistributedSettings()
    settings = DistributedSettings(
        seed=int(os.environ.get("CHAOS_SEED", defaults.seed)),
        fault_rate=float(os.environ.get("CHAOS_RATE", defaults.fault_rate)),
    )
    result = run_distributed_campaign(settings, tmp_path, RESULTS_DIR)
    print(result.summary_line())

    assert not result.harness_problems, f"the campaign fell short: {result.harness_problems}"
    if result.report.violations:
        raise InvariantsViolated(f"{result.summary_line()}\n{result.describe_violations()}")
