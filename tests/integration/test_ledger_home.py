"""The ledger's home on this Airflow line, through real task runs (``dag.test()``) against the emulator.

From Airflow 3.3 the ledger lives in ``task_state_store``; below it in an Airflow Variable. Either way:
it is written before anything is paid for, a task whose ledger cannot be written fails before its
first POST naming why, it outlives a failed task instance (so a clear reuses what was paid for), and a
100-row batch's ledger fits the home's value limit. The homes are read back from Airflow's own
metadata tables, not through the provider.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from airflow_runs import run_dag
from emulator_handle import EmulatorHandle

from airflow_provider_runware.run.ledger_home import TASK_STATE_KEY, VARIABLE_PREFIX

SCENARIOS = "runware_scenarios.py"
HAS_TASK_STATE_STORE = True
try:
    from airflow.sdk.execution_time.context import TaskStateStoreAccessor
except ImportError:  # Airflow 3.0 to 3.2
    HAS_TASK_STATE_STORE = False
# The strictest limit a ledger meets on any line: 3.3's [state_store] max_value_storage_bytes default
# (the REST API refuses larger values; workers only warn). A Variable's column is unbounded Text on
# PostgreSQL and SQLite and MEDIUMTEXT (16 MiB) on MySQL.
LEDGER_VALUE_LIMIT = 65535


def stored_ledgers(dag_id: str) -> list[dict[str, Any]]:
    """Every ledger this line's home holds for ``dag_id``, read from the metadata DB."""
    from airflow.utils.session import create_session

    with create_session() as session:
        if HAS_TASK_STATE_STORE:
            from airflow.models.task_state_store import TaskStateStoreModel

            rows = session.query(TaskStateStoreModel).filter_by(dag_id=dag_id, key=TASK_STATE_KEY).all()
            return [{"raw": row.value, "run_id": row.run_id, "ledger": json.loads(row.value)} for row in rows]
        from airflow.models.variable import Variable

        found = []
        for variable in session.query(Variable).filter(Variable.key.startswith(VARIABLE_PREFIX)).all():
            stored = json.loads(variable.val)
            owner, run_id, _ = stored["task_instance"].split(" / ", 2)
            if owner == dag_id:
                found.append(
                    {
                        "raw": variable.val,
                        "run_id": run_id,
                        "key": variable.key,
                        "ledger": stored["ledger"],
                        "description": variable.description,
                    }
                )
        return found


def submitted_uuids(runware: EmulatorHandle) -> Counter[str]:
    return Counter(
        entry["taskUUID"] for entry in runware.tasks_of_type("imageInference") if entry["status"] == 200
    )


WHEN = datetime(2026, 11, 21, 6, tzinfo=UTC)


def test_a_failed_task_keeps_its_ledger_with_what_it_paid_for(airflow: EmulatorHandle) -> None:
    airflow.fault(kind="fail_generation", count=1, code="inferenceError", message="GPU on fire")
    outcome = run_dag(SCENARIOS, "runware_generation_fails_blocking", logical_date=WHEN)
    assert outcome.state == "failed"
    [kept] = [
        found
        for found in stored_ledgers("runware_generation_fails_blocking")
        if found.get("run_id", outcome.run_id) == outcome.run_id
    ]
    [entry] = kept["ledger"]["entries"]
    assert entry["state"] == "failed"
    assert entry["error"]["code"] == "inferenceError"
    assert entry["task_uuid"] in submitted_uuids(airflow)
    if not HAS_TASK_STATE_STORE:
        assert f"runware_generation_fails_blocking / {outcome.run_id} / generate" in kept["description"]


@pytest.mark.skipif(
    HAS_TASK_STATE_STORE,
    reason="dag.test() deletes the run's task_state_store rows on a re-run (it is no Clear); a real "
    "Clear through real services is tested on every line in test_process_faults_e2e",
)
def test_a_rerun_reads_the_variable_ledger_and_pays_only_for_the_failed_image(
    airflow: EmulatorHandle,
) -> None:
    when = datetime(2026, 11, 22, 6, tzinfo=UTC)
    airflow.fault(kind="fail_generation", count=1, code="inferenceError", message="GPU on fire")
    first = run_dag(SCENARIOS, "runware_generation_fails_blocking", logical_date=when)
    assert first.state == "failed"
    second = run_dag(SCENARIOS, "runware_generation_fails_blocking", logical_date=when)
    assert second.run_id == first.run_id
    assert second.state == "success", second.tasks
    counts = submitted_uuids(airflow)
    assert len(counts) == 2, "the failed image was regenerated under a new taskUUID"
    assert set(counts.values()) == {1}, "and no taskUUID was sent twice"
    assert all(
        found["ledger"]["entries"][0]["task_uuid"] not in counts
        for found in stored_ledgers("runware_generation_fails_blocking")
    ), "the ledger of the succeeded task instance was deleted"


def test_a_task_whose_ledger_cannot_be_written_fails_before_paying(
    airflow: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Airflow's store refuses the write (3.3+), or loses it silently as 3.0's Variable.set can."""
    if HAS_TASK_STATE_STORE:

        def refuse(self: Any, key: str, value: Any, **kwargs: Any) -> None:
            raise RuntimeError("metadata database unavailable")

        monkeypatch.setattr(TaskStateStoreAccessor, "set", refuse)
    else:
        from airflow.sdk import Variable

        monkeypatch.setattr(Variable, "set", classmethod(lambda cls, *args, **kwargs: None))
    outcome = run_dag(SCENARIOS, "runware_basic_blocking")
    assert outcome.state == "failed"
    assert airflow.tasks_of_type("imageInference") == [], "nothing was submitted, so nothing was paid for"
    text = "".join(capfd.readouterr())
    assert "The Runware ledger could not be written" in text


def test_a_hundred_row_batch_ledger_fits_the_homes_value_limit(
    airflow: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, s3_bucket: str, aws_conn: str
) -> None:
    """The largest ledger a 100-row catalogue chunk writes, measured as the home stores it."""
    from airflow_provider_runware.run.ledger_home import VariableHome

    sizes: list[int] = []
    real_save = VariableHome.save

    def measuring_save(self: VariableHome, ledger: Any) -> None:
        real_save(self, ledger)
        sizes.extend(
            len(found["raw"]) for found in stored_ledgers(self.identity.dag_id) if found["key"] == self.key
        )

    monkeypatch.setattr(VariableHome, "save", measuring_save)
    conf = {
        "rows": 100,
        "chunk_size": 100,
        "model": "openai:2@2",
        "width": 256,
        "height": 256,
        "output_location": f"s3://{s3_bucket}/catalogue/",
        "storage_conn_id": aws_conn,
    }
    outcome = run_dag("runware_catalogue_batches.py", "runware_catalogue_batches", conf=conf)
    assert outcome.state == "success", outcome.tasks
    assert len(outcome.xcom("generate")[0]) == 100
    if HAS_TASK_STATE_STORE:
        sizes += [
            len(found["raw"])
            for found in stored_ledgers("runware_catalogue_batches")
            if found["run_id"] == outcome.run_id
        ]
    assert sizes, "the ledger was written to this line's home"
    print(f"largest 100-row ledger as stored: {max(sizes)} bytes (limit {LEDGER_VALUE_LIMIT})")
    assert max(sizes) <= LEDGER_VALUE_LIMIT, f"largest 100-row ledger: {max(sizes)} bytes"


@pytest.mark.skipif(
    HAS_TASK_STATE_STORE,
    reason="from 3.3 the execution API itself refuses a superseded try's task_state_store writes (404); "
    "tested through real services in test_ledger_faults_e2e",
)
def test_a_try_that_finds_a_later_tries_ledger_stops_before_paying(
    airflow: EmulatorHandle, capfd: pytest.CaptureFixture[str]
) -> None:
    """A try the scheduler took for dead but still running finds the Variable written by the try that
    replaced it: it stops, and submits nothing."""
    from airflow.models.variable import Variable

    from airflow_provider_runware.run.identity import TaskInstanceIdentity
    from airflow_provider_runware.run.ledger_home import variable_key

    when = datetime(2026, 11, 23, 6, tzinfo=UTC)
    first = run_dag(SCENARIOS, "runware_basic_blocking", logical_date=when)
    assert first.state == "success"
    airflow.reset()
    later_try = {
        "task_instance": f"runware_basic_blocking / {first.run_id} / generate",
        "try_id": "ffffffff-ffff-7fff-bfff-ffffffffffff",  # a UUIDv7 from the far future sorts last
        "try_number": 9,
        "expires_at": datetime(2100, 1, 1, tzinfo=UTC).timestamp(),
        "ledger": {"fingerprint": "written by a later try", "entries": []},
    }
    key = variable_key(TaskInstanceIdentity("runware_basic_blocking", first.run_id, "generate"))
    Variable.set(key, json.dumps(later_try))
    second = run_dag(SCENARIOS, "runware_basic_blocking", logical_date=when)
    assert second.state == "failed"
    assert airflow.tasks_of_type("imageInference") == [], "the superseded try submitted nothing"
    out = re.sub(r"\x1b\[[0-9;]*m", "", "".join(capfd.readouterr()))  # a traceback in colour
    assert "RunwareLedgerError" in out
    assert "A later try" in out
    assert "try 9" in out
    assert json.loads(Variable.get(key))["try_number"] == 9, "and left the later try's ledger alone"
