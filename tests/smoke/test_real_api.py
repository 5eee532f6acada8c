"""Against the real Runware API, only when RUNWARE_API_KEY is set (never in CI, never by default).

Free calls only: proving the key and reading the balance costs nothing.
"""

from __future__ import annotations

import json
import os

import pytest

from airflow_provider_runware.hooks.runware import RunwareHook

API_KEY = os.environ.get("RUNWARE_API_KEY")
pytestmark = pytest.mark.skipif(not API_KEY, reason="RUNWARE_API_KEY is not set: real-API smoke test not run")


def test_real_key_connects_and_reports_balance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps({"conn_type": "runware", "password": API_KEY})
    )
    ok, message = RunwareHook().test_connection()
    assert ok, message
    assert "balance $" in message
    assert str(API_KEY) not in message
