"""RunwareTaskTrigger driven by asyncio against the emulator, as the triggerer would run it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from emulator_handle import EmulatorHandle

from airflow_provider_runware.triggers.runware import RunwareTaskTrigger, validate_event


@pytest.fixture(autouse=True)
def connection(runware: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", runware.connection(max_retries=2))


def run_to_first_event(trigger: RunwareTaskTrigger) -> dict[str, Any]:
    async def first() -> dict[str, Any]:
        events = [event async for event in trigger.run()]
        assert len(events) == 1, "a trigger must emit exactly one event"
        return dict(events[0].payload)

    return asyncio.run(first())


def test_serialize_round_trip_recreates_an_equal_trigger() -> None:
    trigger = RunwareTaskTrigger(task_uuids=["a", "b"], end_time=123.5, number_results=2, poll_interval=3)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_runware.triggers.runware.RunwareTaskTrigger"
    again = RunwareTaskTrigger(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert not any("key" in name.lower() or "secret" in name.lower() for name in kwargs)


def test_success_event_carries_lean_results(runware: EmulatorHandle) -> None:
    uuids = runware.submit_images(3, outputType="base64Data")
    event = run_to_first_event(
        RunwareTaskTrigger(task_uuids=uuids, end_time=time.time() + 30, poll_interval=0.3)
    )
    assert validate_event(event)["status"] == "success"
    assert {r["taskUUID"] for r in event["results"]} == set(uuids)
    assert all("imageBase64Data" not in r for r in event["results"])
    assert event["errors"] == []
    polls = runware.tasks_of_type("getResponse")
    assert {p["taskUUID"] for p in polls} == set(uuids)
    per_post = Counter(p["post"] for p in polls)
    assert set(per_post.values()) == {3}, "each poll asks about every task in one POST"


def test_partial_and_error_events_keep_details(runware: EmulatorHandle) -> None:
    runware.fault(kind="fail_generation", count=1, code="inferenceError", message="melted")
    uuids = runware.submit_images(2)
    event = run_to_first_event(
        RunwareTaskTrigger(task_uuids=uuids, end_time=time.time() + 30, poll_interval=0.3)
    )
    assert event["status"] == "partial"
    (error,) = event["errors"]
    assert error["code"] == "inferenceError"
    assert error["message"] == "melted"
    assert error["task_uuid"] in uuids


def test_timeout_event_names_pending_tasks(runware: EmulatorHandle) -> None:
    runware.fault(kind="queue_delay", seconds=30)
    uuids = runware.submit_images()
    event = run_to_first_event(
        RunwareTaskTrigger(task_uuids=uuids, end_time=time.time() + 1, poll_interval=0.3)
    )
    assert event["status"] == "timeout"
    assert event["pending"] == uuids


def test_unknown_task_is_an_error_not_a_hang(runware: EmulatorHandle) -> None:
    missing = str(uuid.uuid4())
    event = run_to_first_event(
        RunwareTaskTrigger(task_uuids=[missing], end_time=time.time() + 30, poll_interval=0.3)
    )
    assert event["status"] == "error"
    assert event["errors"][0]["task_uuid"] == missing


def test_a_recreated_trigger_keeps_the_original_deadline(runware: EmulatorHandle) -> None:
    runware.fault(kind="queue_delay", seconds=30)
    uuids = runware.submit_images()
    original = RunwareTaskTrigger(task_uuids=uuids, end_time=time.time() + 1, poll_interval=0.3)
    _, kwargs = original.serialize()
    time.sleep(1.1)
    event = run_to_first_event(RunwareTaskTrigger(**kwargs))
    assert event["status"] == "timeout"
    assert len(runware.tasks_of_type("getResponse")) == 1, "past its deadline it looks once, then stops"


def test_auth_failure_becomes_an_error_event(
    runware: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", runware.connection(api_key="nope-nope"))
    event = run_to_first_event(
        RunwareTaskTrigger(task_uuids=[str(uuid.uuid4())], end_time=time.time() + 30, poll_interval=0.3)
    )
    assert event["status"] == "error"
    assert event["errors"] == [], "an account problem is not a failed image"
    assert event["failure"]["code"] == "invalidApiKey"
    assert event["failure"]["category"] == "authentication"
    assert "nope-nope" not in json.dumps(event)


@pytest.mark.parametrize(
    "outage",
    [
        {"kind": "drop_connection"},
        {"kind": "http_status", "status": 503},
        {"kind": "http_status", "status": 429, "retry_after": 0},
        {"kind": "malformed"},
    ],
    ids=["dropped", "503-naming-a-task", "429", "malformed"],
)
def test_an_outage_while_polling_never_ends_the_wait_early(
    runware: EmulatorHandle, outage: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """More consecutive failures than the connection's retries: each failed poll is logged and the
    trigger polls again; the event reports every image once Runware answers again."""
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", runware.connection(max_retries=1))
    uuids = runware.submit_images(2)
    runware.fault(**outage, task_type="getResponse", count=14)
    event = run_to_first_event(
        RunwareTaskTrigger(task_uuids=uuids, end_time=time.time() + 120, poll_interval=0.3)
    )
    assert event["status"] == "success", event["message"]
    assert {r["taskUUID"] for r in event["results"]} == set(uuids)
    assert event["errors"] == []
    failed_polls = [p for p in runware.tasks_of_type("getResponse") if p.get("fault")]
    assert len(failed_polls) >= 14, "the outage outlasted the per-request retries"


def test_no_event_before_not_before(runware: EmulatorHandle) -> None:
    uuids = runware.submit_images()
    not_before = time.time() + 2
    event = run_to_first_event(
        RunwareTaskTrigger(
            task_uuids=uuids, end_time=time.time() + 30, poll_interval=0.3, not_before=not_before
        )
    )
    assert event["status"] == "success"
    assert time.time() >= not_before, "a task must not resume within the deferral-race margin"


def test_still_running_trigger_does_not_emit(runware: EmulatorHandle) -> None:
    runware.fault(kind="queue_delay", seconds=30)
    uuids = runware.submit_images()

    async def check() -> None:
        trigger = RunwareTaskTrigger(task_uuids=uuids, end_time=time.time() + 60, poll_interval=0.3)
        task = asyncio.ensure_future(trigger.run().__anext__())
        await asyncio.sleep(1.0)
        assert not task.done()
        task.cancel()

    asyncio.run(check())
