"""Response parsing and cumulative polling state, on the body shapes Runware documents."""

from __future__ import annotations

import json
import uuid

import pytest

from airflow_provider_runware.api.schemas import ApiResponse, PollState
from airflow_provider_runware.exceptions import (
    RunwareAuthenticationError,
    RunwareGenerationError,
    RunwareNotFoundError,
    RunwarePaymentError,
    RunwareTransientError,
    RunwareUploadError,
    RunwareValidationError,
)
from airflow_provider_runware.hooks.runware import read_response, summarize_submission

TASK = str(uuid.uuid4())


def body(**payload: object) -> bytes:
    return json.dumps(payload).encode()


def image(task: str = TASK, image_uuid: str | None = None, **extra: object) -> dict[str, object]:
    return {
        "taskType": "imageInference",
        "taskUUID": task,
        "imageUUID": image_uuid or str(uuid.uuid4()),
        "imageURL": "http://127.0.0.1/images/x.jpg",
        **extra,
    }


def test_mixed_body_keeps_data_and_errors() -> None:
    raw = body(data=[image()], errors=[{"code": "invalidWidth", "parameter": "width", "taskUUID": "t2"}])
    parsed = read_response(200, {}, raw)
    assert len(parsed.data) == 1
    assert parsed.errors[0].code == "invalidWidth"
    assert parsed.errors[0].parameter == "width"


def test_legacy_single_error_object_is_accepted() -> None:
    parsed = ApiResponse.parse(
        body(error={"code": "invalidModel", "message": "bad", "parameter": "model"}), 400
    )
    assert parsed.errors[0].code == "invalidModel"


def test_list_parameter_survives() -> None:
    parsed = ApiResponse.parse(body(errors=[{"code": "invalidWidth", "parameter": ["width", "height"]}]), 400)
    assert parsed.errors[0].parameter == ["width", "height"]


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "invalidApiKey", RunwareAuthenticationError),
        (402, "insufficientCredits", RunwarePaymentError),
        (403, "forbidden", RunwareAuthenticationError),
        (429, "rateLimitExceeded", RunwareTransientError),
        (503, "serviceUnavailable", RunwareTransientError),
        (504, "timeoutProvider", RunwareTransientError),
        (500, "internalServerError", RunwareTransientError),
    ],
)
def test_account_wide_failures_raise_typed_errors(status: int, code: str, expected: type) -> None:
    raw = body(errors=[{"code": code, "message": "m", "documentation": "https://docs", "taskUUID": TASK}])
    with pytest.raises(expected) as caught:
        read_response(status, {}, raw)
    assert caught.value.code == code
    assert caught.value.http_status == status
    assert caught.value.retryable is (expected is RunwareTransientError)
    assert TASK in str(caught.value)


def test_fatal_errors_fail_without_airflow_retries() -> None:
    from airflow_provider_runware.compat import AirflowFailException

    for error_class in (
        RunwareAuthenticationError,
        RunwarePaymentError,
        RunwareValidationError,
        RunwareUploadError,
    ):
        assert issubclass(error_class, AirflowFailException)
    assert not issubclass(RunwareTransientError, AirflowFailException)
    assert not issubclass(RunwareGenerationError, AirflowFailException)


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("0.5", 0.5), ("soon", None)])
def test_retry_after_is_kept(header: str, expected: float | None) -> None:
    with pytest.raises(RunwareTransientError) as caught:
        read_response(429, {"retry-after": header}, body(errors=[{"code": "rateLimitExceeded"}]))
    assert caught.value.retry_after == expected


def test_unreadable_success_body_is_transient() -> None:
    with pytest.raises(RunwareTransientError):
        read_response(200, {}, b"<html>oops")


def test_4xx_without_details_is_not_retried() -> None:
    with pytest.raises(RunwareNotFoundError):
        read_response(404, {}, b"not json")


def test_conflict_means_already_submitted() -> None:
    other = str(uuid.uuid4())
    response = ApiResponse.parse(
        body(
            data=[{"taskType": "imageInference", "taskUUID": TASK}],
            errors=[
                {"code": "conflictTaskUUID", "taskUUID": other, "context": {"taskType": "imageInference"}},
                {"code": "invalidPositivePrompt", "taskUUID": "bad", "parameter": "positivePrompt"},
            ],
        ),
        200,
    )
    result = summarize_submission(response)
    assert result.accepted == [TASK]
    assert result.already_submitted == [other]
    assert result.submitted == [TASK, other]
    with pytest.raises(RunwareValidationError, match="positivePrompt"):
        result.raise_for_errors()


def test_poll_state_is_cumulative_and_deduplicated_by_image_uuid() -> None:
    state = PollState.expecting({TASK: 2})
    first = image(image_uuid="11111111-1111-4111-8111-111111111111", status="success")
    state.merge(
        ApiResponse(data=[first, {"taskType": "imageInference", "taskUUID": TASK, "status": "processing"}])
    )
    assert state.pending == [TASK]
    state.merge(ApiResponse(data=[first]))
    assert state.pending == [TASK]
    assert len(state.results()) == 1
    second = image(image_uuid="22222222-2222-4222-8222-222222222222", status="success")
    state.merge(ApiResponse(data=[first, second]))
    assert state.done
    assert {i.image_uuid for i in state.results()} == {first["imageUUID"], second["imageUUID"]}


@pytest.mark.parametrize("status", ["processing", "pending", "queued"])
def test_any_non_terminal_status_keeps_waiting(status: str) -> None:
    state = PollState.expecting({TASK: 1})
    state.merge(ApiResponse(data=[{"taskType": "imageInference", "taskUUID": TASK, "status": status}]))
    assert not state.done


def test_generation_error_counts_as_one_terminal_image() -> None:
    state = PollState.expecting({TASK: 2})
    failed = {"taskUUID": TASK, "status": "error", "code": "inferenceError", "message": "boom"}
    state.merge(ApiResponse.parse(body(errors=[failed]), 200))
    assert not state.done
    state.merge(ApiResponse.parse(body(data=[image(status="success")], errors=[failed]), 200))
    assert state.done
    assert len(state.errors()) == 1


def test_not_found_ends_a_task_at_once() -> None:
    state = PollState.expecting({TASK: 3})
    state.merge(ApiResponse.parse(body(errors=[{"taskUUID": TASK, "code": "taskNotFound"}]), 400))
    assert state.done


def test_unrelated_items_are_ignored() -> None:
    state = PollState.expecting({TASK: 1})
    state.merge(ApiResponse(data=[image(task=str(uuid.uuid4()), status="success")]))
    assert not state.done


def test_identical_failures_count_separately_but_repeated_polls_do_not_add_up() -> None:
    state = PollState.expecting({TASK: 3})
    failed = {"taskUUID": TASK, "status": "error", "code": "inferenceError", "message": "boom"}
    poll = ApiResponse.parse(body(errors=[failed, failed]), 200)
    state.merge(poll)
    state.merge(poll)
    assert len(state.errors()) == 2
    assert not state.done
    state.merge(ApiResponse.parse(body(data=[image(status="success")], errors=[failed, failed]), 200))
    assert state.done


def test_error_items_inside_data_are_errors() -> None:
    state = PollState.expecting({TASK: 1})
    state.merge(ApiResponse(data=[{"taskUUID": TASK, "status": "error", "code": "inferenceError"}]))
    state.merge(ApiResponse(data=[{"taskUUID": TASK, "status": "error", "code": "inferenceError"}]))
    assert state.done
    assert len(state.errors()) == 1
