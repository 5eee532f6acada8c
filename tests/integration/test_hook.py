"""RunwareHook over real HTTP against the emulator: auth, batching, retries, waiting, errors."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
from emulator_handle import EmulatorHandle

from airflow_provider_runware.api.schemas import PollState
from airflow_provider_runware.exceptions import (
    RunwareAuthenticationError,
    RunwareGenerationError,
    RunwareModelDeactivatedError,
    RunwarePaymentError,
    RunwareTaskTimeoutError,
    RunwareTransientError,
    RunwareValidationError,
)
from airflow_provider_runware.hooks.runware import RunwareHook


@pytest.fixture
def hook(runware: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> RunwareHook:
    connection = runware.connection(timeout=10, max_retries=3, max_retry_seconds=30)
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", connection)
    return RunwareHook()


def request(**overrides: object) -> dict[str, object]:
    return {
        "model": "openai:2@2",
        "positivePrompt": "a ceramic mug on a wooden table",
        "width": 256,
        "height": 256,
        "includeCost": True,
        **overrides,
    }


def test_generate_images_submits_async_and_polls(hook: RunwareHook, runware: EmulatorHandle) -> None:
    images = hook.generate_images(request(numberResults=2), timeout=30, poll_interval=0.5)
    assert len(images) == 2
    assert len({image.image_uuid for image in images}) == 2
    assert all(image.cost == 0.016 for image in images)
    (submitted,) = runware.tasks_of_type("imageInference")
    assert submitted["task"]["deliveryMethod"] == "async"
    assert runware.tasks_of_type("getResponse")


def test_test_connection_reports_balance(hook: RunwareHook) -> None:
    ok, message = hook.test_connection()
    assert ok, message
    assert "balance $100.00" in message


def test_wrong_key_fails_at_once_without_retries(
    runware: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", runware.connection(api_key="wrong-key-123"))
    hook = RunwareHook()
    ok, message = hook.test_connection()
    assert not ok
    assert "invalidApiKey" in message
    assert "wrong-key-123" not in message
    with pytest.raises(RunwareAuthenticationError):
        hook.generate_images(request())
    assert len(runware.requests("api")) == 2


def test_bad_request_fails_before_any_http(hook: RunwareHook, runware: EmulatorHandle) -> None:
    with pytest.raises(RunwareValidationError) as caught:
        hook.generate_images(request(width=300, height=300))
    assert caught.value.parameter == "width"
    assert runware.requests("api") == []


@pytest.mark.parametrize("status", [429, 503, 504, 500])
def test_transient_statuses_are_retried_honouring_retry_after(
    hook: RunwareHook, runware: EmulatorHandle, status: int
) -> None:
    runware.fault(kind="http_status", status=status, count=2, retry_after=0.2)
    images = hook.generate_images(request(), timeout=30, poll_interval=0.5)
    assert len(images) == 1
    assert len(runware.tasks_of_type("imageInference")) == 3


def test_dropped_connections_and_malformed_bodies_are_retried(
    hook: RunwareHook, runware: EmulatorHandle
) -> None:
    runware.fault(kind="drop_connection", count=1)
    runware.fault(kind="malformed", count=1)
    assert len(hook.generate_images(request(), timeout=30, poll_interval=0.5)) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_retries_of_anything_but_a_submission_are_bounded_by_count(
    hook: RunwareHook, runware: EmulatorHandle, status: int
) -> None:
    runware.fault(kind="http_status", status=status, count=50, retry_after=0)
    with pytest.raises(RunwareTransientError) as caught:
        hook.get_account_details()
    assert caught.value.http_status == status
    assert len(runware.requests("api")) == 4  # first try + max_retries=3


def test_an_endless_overload_storm_ends_a_submission_at_its_time_budget_backing_off_as_it_goes(
    runware: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """429/503 do not spend a submission's max_retries (the connection cools down instead) but its time
    budget still ends them; Retry-After: 0 does not turn the waits into a tight loop."""
    connection = runware.connection(timeout=10, max_retries=1, max_retry_seconds=2)
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_STORM", connection)
    runware.fault(kind="http_status", status=503, count=50, retry_after=0)
    task = {
        "taskType": "imageInference",
        "taskUUID": str(uuid.uuid4()),
        "deliveryMethod": "async",
        **request(),
    }
    with pytest.raises(RunwareTransientError) as caught:
        RunwareHook("runware_storm").submit([task])
    assert caught.value.http_status == 503
    # Waits of at least 0.5, 1, 2 s (each wave doubles): POSTs at about 0, 0.5, 1.5 and 3.5 s, the
    # last one let through because the 2 s budget had not run out when its wait began.
    assert 2 < len(runware.requests("api")) <= 4


def test_empty_balance_is_surfaced_and_not_retried(hook: RunwareHook, runware: EmulatorHandle) -> None:
    runware.fault(kind="insufficient_credits")
    with pytest.raises(RunwarePaymentError) as caught:
        hook.generate_images(request())
    assert caught.value.code == "insufficientCredits"
    assert len(runware.tasks_of_type("imageInference")) == 1


def test_deactivated_model_names_the_replacement(hook: RunwareHook, runware: EmulatorHandle) -> None:
    runware.fault(kind="deactivate_model", model="openai:2@2", code="modelDisabled")
    with pytest.raises(RunwareModelDeactivatedError) as caught:
        hook.generate_images(request())
    assert "Model openai:2@2 (DALL·E 2)" in str(caught.value)
    assert "migrate to openai:gpt-image@2" in str(caught.value)
    assert caught.value.code == "modelDisabled"


def test_failed_generation_keeps_runwares_details(hook: RunwareHook, runware: EmulatorHandle) -> None:
    runware.fault(kind="fail_generation", count=1, code="inferenceError", message="provider exploded")
    with pytest.raises(RunwareGenerationError) as caught:
        hook.generate_images(
            request(taskUUID=(task_uuid := str(uuid.uuid4()))), timeout=30, poll_interval=0.5
        )
    assert caught.value.code == "inferenceError"
    assert caught.value.task_uuid == task_uuid
    assert "provider exploded" in str(caught.value)


def test_waiting_is_bounded_and_names_the_tasks(hook: RunwareHook, runware: EmulatorHandle) -> None:
    runware.fault(kind="queue_delay", seconds=30)
    task_uuid = str(uuid.uuid4())
    with pytest.raises(RunwareTaskTimeoutError) as caught:
        hook.generate_images(request(taskUUID=task_uuid), timeout=1.5, poll_interval=0.5)
    assert task_uuid in str(caught.value)


def test_resubmitting_the_same_uuid_is_not_a_second_payment(
    hook: RunwareHook, runware: EmulatorHandle
) -> None:
    task = {
        "taskType": "imageInference",
        "taskUUID": str(uuid.uuid4()),
        "deliveryMethod": "async",
        **request(),
    }
    first = hook.submit([task])
    second = hook.submit([task])
    assert first.accepted == [task["taskUUID"]]
    assert second.already_submitted == [task["taskUUID"]]
    assert second.errors == []
    generations = runware.requests("generation")
    assert len({entry.get("taskUUID") for entry in generations}) <= 1


def test_many_tasks_share_one_post_and_one_poll(hook: RunwareHook, runware: EmulatorHandle) -> None:
    tasks = [
        {"taskType": "imageInference", "taskUUID": str(uuid.uuid4()), "deliveryMethod": "async", **request()}
        for _ in range(5)
    ]
    result = hook.submit(tasks)
    assert len(result.accepted) == 5
    state = hook.wait_for_tasks({t["taskUUID"]: 1 for t in tasks}, timeout=30, poll_interval=0.5)  # type: ignore[misc]
    assert len(state.results()) == 5
    (submit_post,) = {entry["post"] for entry in runware.tasks_of_type("imageInference")}
    polls = Counter(entry["post"] for entry in runware.tasks_of_type("getResponse"))
    assert submit_post not in polls
    assert max(polls.values()) == 5, "every poll asks about all pending tasks in one POST"


def test_async_twins_poll_without_blocking(hook: RunwareHook, runware: EmulatorHandle) -> None:
    task_uuid = str(uuid.uuid4())
    hook.generate_images(request(taskUUID=task_uuid), wait=False)

    async def poll_until_done() -> PollState:
        state = PollState.expecting({task_uuid: 1})
        try:
            for _ in range(100):
                await hook.apoll(state)
                if state.done:
                    break
                await asyncio.sleep(0.1)
        finally:
            await hook.aclose()
        return state

    state = asyncio.run(poll_until_done())
    assert state.done
    assert len(state.results()) == 1
