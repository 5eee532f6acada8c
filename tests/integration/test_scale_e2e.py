"""Running at scale through real Airflow services (LocalExecutor: every task instance is its own
worker process): a per-connection limit of images in flight, and back-pressure shared by the task
instances of a connection. Counted at the emulator, never timed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from airflow_services import AirflowServices, airflow_services
from emulator_handle import EmulatorHandle

REPO = Path(__file__).resolve().parents[2]
LIMIT = 20
ROWS = 10


def task_states(services: AirflowServices, dag_id: str) -> list[tuple[str, int]]:
    rows = services.query(
        "SELECT state, try_number FROM task_instance WHERE dag_id = ? ORDER BY map_index", dag_id
    )
    return [(str(state), int(try_number)) for state, try_number in rows]


def most_in_flight(runware: EmulatorHandle) -> int:
    """Most images accepted by the emulator and not yet generated at any moment."""
    changes = [(e["at"], 1) for e in runware.tasks_of_type("imageInference") if e.get("status") == 200]
    changes += [(e["at"], -1) for e in runware.requests("generation")]
    in_flight = peak = 0
    for _, change in sorted(changes, key=lambda item: (item[0], item[1])):
        in_flight += change
        peak = max(peak, in_flight)
    return peak


def test_in_flight_limit_holds_across_workers_and_storms_do_not_spend_retry_budgets(
    runware: EmulatorHandle, tmp_path: Path
) -> None:
    connections = {
        "AIRFLOW_CONN_RUNWARE_LIMITED": runware.connection(max_images_in_flight=LIMIT),
        "AIRFLOW_CONN_RUNWARE_STORM": runware.connection(max_retries=1, max_retry_seconds=120),
    }
    with airflow_services(
        tmp_path / "airflow", [REPO / "tests" / "dags" / "runware_scale.py"], connections
    ) as services:
        made = services.airflow(
            "pools", "set", "runware_images", str(LIMIT), "scale test", "--include-deferred"
        )
        assert made.returncode == 0, made.stderr[-2000:]

        # 1. Three tasks of 10 images, a pool of 20 slots (LocalExecutor parallelism 4): never more
        # than 20 images at Runware, and two tasks did overlap (the limit was reached, not idle).
        runware.fault(kind="queue_delay", seconds=4)
        assert services.trigger_and_wait("scale_in_flight_limit", {}) == "success"
        assert task_states(services, "scale_in_flight_limit") == [("success", 1)] * 3
        assert len(runware.requests("generation")) == 3 * ROWS
        assert LIMIT // 2 < most_in_flight(runware) <= LIMIT

        # 2. A storm of 429s on submissions while two tasks (two worker processes) submit at once,
        # with max_retries=1: three 429s between two tasks, so one of them meets two, which alone
        # would have spent its retry budget.
        runware.reset()
        runware.fault(kind="http_status", status=429, task_type="imageInference", count=3, retry_after=0.5)
        assert services.trigger_and_wait("scale_storm", {}) == "success"
        assert task_states(services, "scale_storm") == [("success", 1)] * 2, "no retry budget ran out"
        statuses = Counter(e.get("status") for e in runware.tasks_of_type("imageInference"))
        assert statuses[429] > 0
        accepted = Counter(
            e["taskUUID"] for e in runware.tasks_of_type("imageInference") if e.get("status") == 200
        )
        assert len(accepted) == 2 * ROWS
        assert set(accepted.values()) == {1}, "every image submitted once"
        # The cool-down was shared through the deployment: a task process wrote the Variable any
        # worker reads before it submits.
        shared = services.query("SELECT key FROM variable WHERE key = ?", "runware_cooldown_runware_storm")
        assert shared == [("runware_cooldown_runware_storm",)]
