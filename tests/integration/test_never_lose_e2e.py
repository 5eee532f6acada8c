"""The never-lose promise through real Airflow services: api-server, scheduler (LocalExecutor),
triggerer and dag-processor as separate processes, against the emulator.

Each scenario is one of the findings that once broke it: a deferred task that succeeded with no
images during a polling outage; a 503 naming a taskUUID recorded as a failed generation (paid twice
on retry); Airflow's deferral race failing tasks that succeeded; deadlines restarting on every try;
a retry resubmitting a task Runware had forgotten.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from airflow_services import AirflowServices, airflow_services
from emulator_handle import EmulatorHandle

REPO = Path(__file__).resolve().parents[2]
DEADLINE_LINE = re.compile(r"their deadline (\S+)\)")


def xcom_values(services: AirflowServices, dag_id: str) -> list[Any]:
    rows = services.query(
        "SELECT value FROM xcom WHERE dag_id = ? AND key = 'return_value' ORDER BY map_index", dag_id
    )
    return [json.loads(value) if isinstance(value, str | bytes) else value for (value,) in rows]


def task_states(services: AirflowServices, dag_id: str) -> list[tuple[str, int]]:
    return [
        (str(state), int(try_number))
        for state, try_number in services.query(
            "SELECT state, try_number FROM task_instance WHERE dag_id = ? ORDER BY map_index", dag_id
        )
    ]


def task_log(services: AirflowServices, dag_id: str) -> str:
    return "".join(
        text
        for path, text in services.all_text().items()
        if f"dag_id={dag_id}" in path and "task_id=" in path
    )


def submissions(runware: EmulatorHandle) -> Counter[str]:
    return Counter(e["taskUUID"] for e in runware.tasks_of_type("imageInference") if e.get("status") == 200)


def generations(runware: EmulatorHandle) -> int:
    return len(runware.requests("generation"))


def test_every_image_is_reported_or_named_and_paid_once(runware: EmulatorHandle, tmp_path: Path) -> None:
    with airflow_services(
        tmp_path / "airflow",
        [REPO / "tests" / "dags" / "runware_never_lose.py"],
        {"AIRFLOW_CONN_RUNWARE_DEFAULT": runware.connection()},
    ) as services:
        # 1. Polls fail for about half a minute while the task is deferred (dropped connections).
        runware.fault(kind="queue_delay", seconds=12)
        runware.fault(kind="drop_connection", task_type="getResponse", count=20)
        assert services.trigger_and_wait("never_lose_outage_drop", {}) == "success"
        (images,) = xcom_values(services, "never_lose_outage_drop")
        assert len(images) == 2, "both images are reported, none silently dropped"
        assert generations(runware) == 2

        # 2. The same outage as HTTP 503 whose body names a taskUUID: not a failed generation.
        runware.reset()
        runware.fault(kind="queue_delay", seconds=12)
        runware.fault(kind="http_status", status=503, task_type="getResponse", count=20)
        assert services.trigger_and_wait("never_lose_outage_503", {}) == "success"
        (images,) = xcom_values(services, "never_lose_outage_503")
        assert len(images) == 2
        assert generations(runware) == 2, "no image was generated twice"
        assert set(submissions(runware).values()) == {1}

        # 3. retries=0 and images that finish just as the tasks defer: Airflow's race must not bite.
        runware.reset()
        runware.fault(kind="queue_delay", seconds=8.5)
        assert services.trigger_and_wait("never_lose_deferral_race", {}) == "success"
        assert task_states(services, "never_lose_deferral_race") == [("success", 1)] * 6
        assert len(xcom_values(services, "never_lose_deferral_race")) == 6

        # 4. Airflow kills try 1 while Runware generates; try 2 keeps the image's deadline.
        runware.reset()
        runware.fault(kind="queue_delay", seconds=10)
        assert services.trigger_and_wait("never_lose_deadline", {}) == "success"
        ((_, tries),) = task_states(services, "never_lose_deadline")
        assert tries >= 2, "try 1 was killed while waiting"
        deadlines = DEADLINE_LINE.findall(task_log(services, "never_lose_deadline"))
        assert len(deadlines) >= 2
        assert len(set(deadlines)) == 1, f"every try waits for the first submission's deadline: {deadlines}"
        assert generations(runware) == 1

        # 5. Runware forgets a task it accepted: the task fails naming it and never resubmits it.
        runware.reset()
        runware.fault(kind="amnesia")
        assert services.trigger_and_wait("never_lose_forgotten", {}) == "failed"
        (task_uuid,) = submissions(runware)
        assert submissions(runware)[task_uuid] == 1
        log = task_log(services, "never_lose_forgotten")
        assert "RunwareLostTaskError" in log
        assert task_uuid in log
        assert "set `regenerate`" in log
