"""The chaos campaign as part of ``make test``: one run on real Airflow services and PostgreSQL, judged.

Seed and fault rate come from ``CHAOS_SEED`` / ``CHAOS_RATE`` (the Makefile passes them). The summary
line is printed (``pytest -s``) and written to tests/chaos/results/ like ``make chaos`` does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from chaos_campaign import CampaignSettings, run_campaign
from chaos_postgres import server_bin

pytestmark = [pytest.mark.chaos, pytest.mark.integration]


class InvariantsViolated(AssertionError):
    """The campaign ran as intended and found the provider breaking a promise."""


@pytest.mark.timeout(900)
def test_chaos_campaign_keeps_every_promise(tmp_path: Path) -> None:
    if server_bin() is None:
        pytest.skip("no PostgreSQL server installed: `make postgres-server` installs Debian's postgresql-15")
    defaults = CampaignSettings()
    settings = CampaignSettings(
        seed=int(os.environ.get("CHAOS_SEED", defaults.seed)),
        fault_rate=float(os.environ.get("CHAOS_RATE", defaults.fault_rate)),
    )
    result = run_campaign(settings, tmp_path)
    print(result.summary_line())

    assert not result.harness_problems, f"the campaign fell short: {result.harness_problems}"
    if result.report.violations:
        raise InvariantsViolated(f"{result.summary_line()}\n{result.describe_violations()}")
