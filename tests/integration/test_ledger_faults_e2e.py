"""Never an unrecorded POST, never two payers: the ledger's guarantees when Airflow's metadata DB fails
under a task, on real Airflow services (api-server, scheduler with the LocalExecutor, dag-processor,
triggerer) against the emulator, on whichever Airflow line the suite runs.

Task supervisors reach the metadata DB only through the api-server's execution API, so a front before
that API (``execution_api_front``) makes exactly one try's ledger writes fail with the 500 a DB outage
gives, or hang as a locked DB does, while everything else passes. The emulator counts every
submission and generation per taskUUID, i.e. every payment.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator

import pytest
from airflow_lines import requires_airflow
from airflow_services import AirflowServices
from emulator_handle import EmulatorHandle
from execution_api_front import ExecutionApiFront, execution_api_front
from servers import free_port
from service_runs import accepted, generated, returned_images, runware_services, task_try, wait_for

LEDGER_ERROR = "The Runware ledger could not be written"
# Airflow 3.0's task runner sends a Variable write without reading an answer, but its supervisor does
# answer a failed one: every later request of the task reads the answer to the one before. The ledger
# still stops the try before any POST (its read-back gets the write's error), but Airflow's own
# failure handling then meets a mismatched answer, the supervisor never returns, and the LocalExecutor
# slot never runs the retry (measured on 3.0.2; 3.1 pairs each answer with its request).
FAILED_VARIABLE_WRITE_DESYNCS = requires_airflow(
    "3.1", why="a task runner that survives a refused Variable write (its answers fall out of step)"
)


@pytest.fixture(scope="module")
def front_and_services(
    emulator: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ExecutionApiFront, AirflowServices]]:
    api_port, front_port = free_port(), free_port()
    env = {
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{front_port}/execution/",
        # The task SDK retries a 5xx five times, up to 90 s apart by default: a second apart here.
        "AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MAX": "1",
        # A held call is waited for, not retried, and a try whose heartbeats fail keeps running
        # (as a supervisor whose API is reachable again would) while the scheduler, missing them for
        # 10 s, starts the next try.
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "120",
        "AIRFLOW__WORKERS__MAX_FAILED_HEARTBEATS": "1000",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "10",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    }
    home = tmp_path_factory.mktemp("ledger-faults") / "airflow"
    with (
        execution_api_front(api_port, front_port) as front,
        runware_services(home, "runware_ledger_faults.py", emulator, env, port=api_port) as services,
    ):
        yield front, services


def try_logs(services: AirflowServices, dag_id: str) -> dict[int, str]:
    """Each try's task log, by try number."""
    return {
        int(path.rpartition("attempt=")[2].split(".")[0]): text
        for path, text in services.all_text().items()
        if f"dag_id={dag_id}" in path and "attempt=" in path
    }


def failure_message(log: str) -> str:
    """The exception a try failed with, as its task log records it (one JSON object a line)."""
    for line in log.splitlines():
        if '"Task failed with exception"' in line:
            return str(json.loads(line)["error_detail"][0]["exc_value"])
    raise AssertionError("the try did not fail with an exception")


def accepted_uuids(runware: EmulatorHandle) -> Counter[str]:
    """Submissions Runware accepted (and so pays for), per taskUUID."""
    return Counter(entry["taskUUID"] for entry in accepted(runware))


@FAILED_VARIABLE_WRITE_DESYNCS
def test_a_ledger_that_cannot_be_written_means_no_post(
    front_and_services: tuple[ExecutionApiFront, AirflowServices], runware: EmulatorHandle
) -> None:
    front, services = front_and_services
    front.fail_ledger_writes()
    run_id = services.trigger("ledger_fails_before_post", {})
    assert services.wait_for_run("ledger_fails_before_post", run_id, timeout=180) == "success"
    assert task_try(services, "ledger_fails_before_post")[::2] == ("success", 2)
    logs = try_logs(services, "ledger_fails_before_post")
    assert LEDGER_ERROR in logs[1], "try 1 failed because its ledger could not be written"
    assert front.writes("fail"), "try 1's ledger writes were refused"
    images = returned_images(services, "ledger_fails_before_post")
    uuids = sorted(image["task_uuid"] for image in images)
    assert len(uuids) == 2
    assert accepted_uuids(runware) == Counter(dict.fromkeys(uuids, 1)), "only try 2 submitted, once each"
    assert len(runware.tasks_of_type("imageInference")) == 2, "try 1 sent no POST at all"
    assert generated(runware) == Counter(dict.fromkeys(uuids, 1))


@FAILED_VARIABLE_WRITE_DESYNCS
def test_an_answer_that_cannot_be_recorded_is_asked_for_before_paying_again(
    front_and_services: tuple[ExecutionApiFront, AirflowServices], runware: EmulatorHandle
) -> None:
    front, services = front_and_services
    front.fail_ledger_writes(passing=1)  # "submitting" lands, Runware's answer does not
    run_id = services.trigger("ledger_fails_after_post", {})
    assert services.wait_for_run("ledger_fails_after_post", run_id, timeout=180) == "success"
    assert task_try(services, "ledger_fails_after_post")[::2] == ("success", 2)
    images = returned_images(services, "ledger_fails_after_post")
    uuids = sorted(image["task_uuid"] for image in images)
    assert len(uuids) == 2
    assert front.writes("fail"), "try 1's second ledger write was refused"
    failure = failure_message(try_logs(services, "ledger_fails_after_post")[1])
    assert LEDGER_ERROR in failure
    assert all(uuid in failure for uuid in uuids), f"try 1 names what Runware accepted: {failure}"
    assert "asks Runware" in failure, failure
    posts = [(e["post"], e["taskType"], e["taskUUID"]) for e in runware.requests("api")]
    (first_post,) = {post for post, task_type, _ in posts if task_type == "imageInference"}
    asked = {uuid for post, task_type, uuid in posts if task_type == "getResponse" and post > first_post}
    assert asked == set(uuids), "try 2 asked Runware about both before deciding anything"
    assert accepted_uuids(runware) == Counter(dict.fromkeys(uuids, 1)), "each image was submitted once"
    assert len(runware.tasks_of_type("imageInference")) == 2, "and try 2 sent no second POST"
    assert generated(runware) == Counter(dict.fromkeys(uuids, 1))


@requires_airflow(
    "3.1",
    why="a supervisor that outlives a hung API call: 3.0.2's raises out of supervise() on the read "
    "timeout and leaves its task runner orphaned and spinning, which no harness can stop",
)
def test_two_tries_of_one_task_instance_at_once_pay_once(
    front_and_services: tuple[ExecutionApiFront, AirflowServices], runware: EmulatorHandle
) -> None:
    """Try 1 hangs in its first ledger write, so it sends no heartbeat either; the scheduler takes it
    for dead and starts try 2 (a new task instance id) while try 1 still runs. Try 2 submits, then try
    1's write goes through: on 3.3 the API refuses it (404, try 1 stops before any POST); below 3.3 the
    Variable takes it, late, over try 2's ledger, and try 2 writes its own again instead of failing."""
    front, services = front_and_services
    front.hold_ledger_writes()
    run_id = services.trigger("two_tries_at_once", {})
    wait_for("try 1's first ledger write to hang", lambda: front.writes("hold"))
    wait_for("try 2 to start while try 1 runs, and submit", lambda: len(accepted_uuids(runware)) == 2, 180)
    front.release()
    assert services.wait_for_run("two_tries_at_once", run_id, timeout=180) == "success"
    assert task_try(services, "two_tries_at_once")[::2] == ("success", 2)
    uuids = sorted(image["task_uuid"] for image in returned_images(services, "two_tries_at_once"))
    assert len(uuids) == 2
    ((pid,),) = services.query(
        "SELECT pid FROM task_instance_history WHERE dag_id = 'two_tries_at_once' AND try_number = 1"
    )
    wait_for("try 1's process to end", lambda: not process_alive(int(pid)))
    assert accepted_uuids(runware) == Counter(dict.fromkeys(uuids, 1)), "each image was accepted once"
    assert len(runware.tasks_of_type("imageInference")) == 2, "try 1 sent no POST"
    assert generated(runware) == Counter(dict.fromkeys(uuids, 1)), "and each was generated once"
    first = try_logs(services, "two_tries_at_once")[1]
    assert not any(uuid in first for uuid in uuids), "try 1 reports none of try 2's images as its own"
    assert "Image 1/2" in try_logs(services, "two_tries_at_once")[2]


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
