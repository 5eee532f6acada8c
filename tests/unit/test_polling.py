"""The one decision both waits (blocking and trigger) take after every poll."""

from __future__ import annotations

import pytest

from airflow_provider_runware.api.schemas import ApiResponse, PollState
from airflow_provider_runware.exceptions import (
    RunwareAuthenticationError,
    RunwareError,
    RunwareNotFoundError,
    RunwarePaymentError,
    RunwareTransientError,
    RunwareValidationError,
)
from airflow_provider_runware.run.polling import WaitOutcome, decide

TASK = "6f1c2b8e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"


def running() -> PollState:
    return PollState.expecting({TASK: 1})


def finished() -> PollState:
    state = running()
    state.merge(ApiResponse(data=[{"taskUUID": TASK, "imageUUID": "i", "status": "success"}]))
    return state


@pytest.mark.parametrize(
    "error",
    [
        RunwareTransientError("503", http_status=503, task_uuid=TASK),
        RunwareTransientError("dropped"),
        RunwareValidationError("a 400 about the request"),
        RunwareNotFoundError("a proxy's 404"),
        RunwareError("unreadable"),
    ],
)
def test_errors_that_can_heal_never_end_a_wait_before_its_deadline(error: RunwareError) -> None:
    step = decide(running(), error, now=10.0, deadline=100.0)
    assert step.outcome is WaitOutcome.RUNNING
    assert step.error is error


@pytest.mark.parametrize("error", [RunwareAuthenticationError("key"), RunwarePaymentError("broke")])
def test_errors_waiting_cannot_heal_end_it_at_once(error: RunwareError) -> None:
    assert decide(running(), error, now=10.0, deadline=100.0).outcome is WaitOutcome.FAILED


def test_done_wins_over_the_deadline_and_the_deadline_over_running() -> None:
    assert decide(finished(), None, now=200.0, deadline=100.0).outcome is WaitOutcome.DONE
    assert decide(running(), None, now=100.0, deadline=100.0).outcome is WaitOutcome.TIMED_OUT
    assert decide(running(), None, now=99.0, deadline=100.0).outcome is WaitOutcome.RUNNING


@pytest.mark.parametrize(
    "body",
    [
        {"errors": [{"code": "serviceUnavailable", "message": "busy", "taskUUID": TASK}]},
        {"errors": [{"message": "no code, no status", "taskUUID": TASK}]},
        {"errors": [{"code": "invalidApiKey", "message": "key", "taskUUID": TASK}]},
    ],
)
def test_an_error_about_the_request_is_never_a_failed_image(body: dict[str, object]) -> None:
    state = running()
    state.merge(ApiResponse.model_validate(body))
    assert state.errors() == []
    assert state.pending == [TASK]


@pytest.mark.parametrize(
    "error",
    [
        {"code": "inferenceError", "message": "GPU", "taskUUID": TASK},
        {"code": "somethingNew", "message": "x", "taskUUID": TASK, "status": "error"},
        {"code": "taskNotFound", "message": "gone", "taskUUID": TASK},
    ],
)
def test_runwares_answer_about_the_task_ends_it(error: dict[str, object]) -> None:
    state = running()
    state.merge(ApiResponse.model_validate({"errors": [error]}))
    assert state.done
    assert [e.task_uuid for e in state.errors()] == [TASK]
