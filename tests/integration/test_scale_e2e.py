"""Running at scale through real Airflow services (LocalExecutor: every task instance is its own
worker process): a per-connection limit of images in flight, and back-pressure shared by the task
instances of a connection. Counted at the emulator, never timed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from airflow_services import AirflowServices, airflow_services
from emulator_handle import EmulatorHandle

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "scale_limit_under_storm"
LIMIT = 20
ROWS = 10
TASKS = 3


def task_states(services: AirflowServices) -> list[tuple[str, int]]:
    rows = services.query(
        "SELECT state, try_number FROM task_instance WHERE dag_id = ? ORDER BY map_index", DAG_ID
    )
    return [(str(state), int(try_number)) for state, try_number in rows]


def most_in_flight(runware: EmulatorHandle) -> int:
    """Most images accepted by the emulator and not yet generated at any moment."""
    changes = [(e["at"], 1) for e in runware.tasks_of_type("imageInference") if e.get("status") == 200]
    changes += [(e["at"], -1) for e in runware.requests("generation")]
    in_flight = peak = 0
    for _, change in sorted(changes):
        in_flight += change
        peak = max(peak, in_flight)
    return peak


def test_in_flight_limit_holds_across_workers_and_a_storm_does_not_spend_retry_budgets(
    runware: EmulatorHandle, tmp_path: Path
) -> None:
    connection = runware.connection(max_images_in_flight=LIMIT, max_retries=1, max_retry_seconds=120)
    dag_file = REPO / "tests" / "dags" / "runware_scale.py"
    with airflow_services(
        tmp_path / "airflow", [dag_file], {"AIRFLOW_CONN_RUNWARE_SCALE": connection}
    ) as services:
        made = services.airflow(
            "pools", "set", "runware_images", str(LIMIT), "scale test", "--include-deferred"
        )
        assert made.returncode == 0, made.stderr[-2000:]
        # The first two tasks (two worker processes, LocalExecutor parallelism 4) submit together and
        # meet three 429s between them, so one meets two: with max_retries=1 that alone would fail it.
        runware.fault(kind="queue_delay", seconds=4)
        runware.fault(kind="http_status", status=429, task_type="imageInference", count=3, retry_after=0.5)
        assert services.trigger_and_wait(DAG_ID, {}) == "success"
        assert task_states(services) == [("success", 1)] * TASKS, "no retry budget ran out"

    refused = {e["post"] for e in runware.tasks_of_type("imageInference") if e.get("status") == 429}
    assert len(refused) == 3, "three submission POSTs were answered 429"
    accepted = Counter(
        e["taskUUID"] for e in runware.tasks_of_type("imageInference") if e.get("status") == 200
    )
    assert len(accepted) == TASKS * ROWS
    assert set(accepted.values()) == {1}, "every image submitted once"
    assert len(runware.requests("generation")) == TASKS * ROWS
    # A pool of 20 slots, 10 per task: never more than 20 images at Runware, and two tasks did
    # overlap (the limit was reached, not idle).
    assert LIMIT // 2 < most_in_flight(runware) <= LIMIT
    # The cool-down was shared through the deployment: a task process wrote the Variable any worker
    # reads before it submits.
    shared = services.query("SELECT key FROM variable WHERE key = ?", "runware_cooldown_runware_scale")
    assert shared == [("runware_cooldown_runware_scale",)]
