"""The tests' DAGs on real Airflow services against the emulator, and what the fault e2e modules
(test_process_faults_e2e, test_ledger_faults_e2e) read back: a task instance's try, the images a task
returned, what Runware accepted and generated, and a wait for any condition."""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from airflow_services import AirflowServices, airflow_services
from emulator_handle import EmulatorHandle

DAGS = Path(__file__).resolve().parent / "dags"


@contextlib.contextmanager
def runware_services(
    home: Path,
    dag_file: str,
    runware: EmulatorHandle,
    extra_env: Mapping[str, str] | None = None,
    *,
    port: int | None = None,
) -> Iterator[AirflowServices]:
    """:func:`airflow_services` (LocalExecutor) on ``tests/dags/<dag_file>``, ``runware_default``
    pointing at the emulator; ``extra_env`` and ``port`` as there."""
    env = {"AIRFLOW_CONN_RUNWARE_DEFAULT": runware.connection(), **(extra_env or {})}
    with airflow_services(home, [DAGS / dag_file], env, port=port) as services:
        yield services


class TaskTry(NamedTuple):
    state: str
    pid: int | None
    try_number: int


def task_try(services: AirflowServices, dag_id: str) -> TaskTry:
    """The state, process id and try number of the DAG's one task instance."""
    ((state, pid, try_number),) = services.query(
        "SELECT state, pid, try_number FROM task_instance WHERE dag_id = :dag_id", dag_id=dag_id
    )
    return TaskTry(str(state), pid, int(try_number or 0))


def returned_images(services: AirflowServices, dag_id: str) -> list[dict[str, Any]]:
    """What the DAG's one task returned (its ``return_value`` XCom)."""
    ((value,),) = services.query(
        "SELECT value FROM xcom WHERE dag_id = :dag_id AND key = 'return_value'", dag_id=dag_id
    )
    images: list[dict[str, Any]] = json.loads(value) if isinstance(value, str | bytes) else value
    return images


def accepted(runware: EmulatorHandle, task_type: str = "imageInference") -> list[dict[str, Any]]:
    """The logged tasks of ``task_type`` the emulator accepted: what Runware starts generating and charges
    for."""
    return [entry for entry in runware.tasks_of_type(task_type) if entry.get("status") == 200]


def generated(runware: EmulatorHandle) -> Counter[str]:
    """Generations per taskUUID: more than one is an image or video paid for twice."""
    return Counter(entry["taskUUID"] for entry in runware.requests("generation"))


def wait_for(what: str, check: Any, timeout: float = 120.0) -> Any:
    """Call ``check`` every half second until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")
