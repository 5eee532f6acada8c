"""RunwareHook against the emulator playing Runware's other shapes and answers: retired models past
their date, per-task errors nested or flat, conflicts named only in their context, balances as an
object or a number. Each answer ends in the error class runware-sdk 1.8.0's grouping implies."""

from __future__ import annotations

import uuid

import pytest
from emulator_handle import EmulatorHandle
from test_hook import hook as hook
from test_hook import request

from airflow_provider_runware.exceptions import (
    AirflowFailException,
    ErrorCategory,
    RunwareContentSafetyError,
    RunwareGenerationError,
    RunwareModelDeactivatedError,
    RunwareNotFoundError,
    RunwareTransientError,
)
from airflow_provider_runware.hooks.runware import RunwareHook


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("modelDisabled", 400),
        ("modelDeactivated", 400),
        ("unknownModel", 404),
        ("invalidModel", 400),
        ("modelNotFound", 404),
        ("notFound", 404),
        ("modelUnavailable", 503),
    ],
)
def test_a_retired_model_fails_once_naming_the_replacement(
    hook: RunwareHook, runware: EmulatorHandle, code: str, status: int
) -> None:
    """Whatever Runware answers for DALL·E 2 after 2026-05-12: one fatal error, no retry, a way out."""
    runware.config(today="2026-06-01", retired_code=code, retired_status=status)
    with pytest.raises(RunwareModelDeactivatedError) as caught:
        hook.generate_images(request(), timeout=10, poll_interval=0.2)

    error = caught.value
    assert isinstance(error, AirflowFailException), "Airflow must not spend retries on it"
    assert error.code == code
    assert error.category is ErrorCategory.MODEL_RETIRED
    assert "migrate to openai:gpt-image@2" in str(error)
    assert "retired since 2026-05-12" in str(error)
    assert len(runware.tasks_of_type("imageInference")) == 1, "submitted once, never retried"


def test_an_unknown_model_answer_for_a_live_model_is_not_called_retired(
    hook: RunwareHook, runware: EmulatorHandle
) -> None:
    runware.fault(kind="deactivate_model", model="google:2@3", code="unknownModel", status=404)
    with pytest.raises(RunwareNotFoundError) as caught:
        hook.generate_images(request(model="google:2@3", width=1024, height=1024))
    assert not isinstance(caught.value, RunwareModelDeactivatedError)
    assert "migrate" not in str(caught.value)


@pytest.mark.parametrize("shape", ["nested", "flat"])
@pytest.mark.parametrize(
    ("code", "error_class", "category"),
    [
        ("providerContentPolicyViolation", RunwareContentSafetyError, ErrorCategory.SAFETY),
        ("promptBlocked", RunwareContentSafetyError, ErrorCategory.SAFETY),
        ("invalidProviderContent", RunwareContentSafetyError, ErrorCategory.SAFETY),
        ("modelUnavailable", RunwareTransientError, ErrorCategory.TRANSIENT),
        ("noAvailableServer", RunwareTransientError, ErrorCategory.TRANSIENT),
        ("inferenceError", RunwareGenerationError, ErrorCategory.GENERATION),
    ],
)
def test_per_task_errors_keep_every_field_and_their_class_in_both_shapes(
    hook: RunwareHook,
    runware: EmulatorHandle,
    shape: str,
    code: str,
    error_class: type[Exception],
    category: ErrorCategory,
) -> None:
    runware.config(error_shape=shape)
    runware.fault(kind="fail_generation", code=code, message="the provider said no")
    task_uuid = str(uuid.uuid4())
    with pytest.raises(error_class) as caught:
        hook.generate_images(request(taskUUID=task_uuid), timeout=30, poll_interval=0.2)

    error = caught.value
    assert (error.code, error.message, error.task_uuid) == (code, "the provider said no", task_uuid)  # type: ignore[attr-defined]
    assert error.documentation.startswith("https://runware.ai/docs")  # type: ignore[attr-defined]
    assert error.category is category  # type: ignore[attr-defined]
    assert isinstance(error, AirflowFailException) is (category is ErrorCategory.SAFETY)


def test_a_conflict_named_only_in_its_context_is_already_submitted(
    hook: RunwareHook, runware: EmulatorHandle
) -> None:
    runware.config(conflict_shape="context_only")
    task = {
        "taskType": "imageInference",
        "taskUUID": str(uuid.uuid4()),
        "deliveryMethod": "async",
        **request(),
    }
    assert hook.submit([task]).accepted == [task["taskUUID"]]

    again = hook.submit([task])
    assert again.already_submitted == [task["taskUUID"]]
    assert again.errors == []
    assert len(runware.requests("generation")) <= 1


@pytest.mark.parametrize("shape", ["object", "number"])
def test_test_connection_reads_the_balance_in_either_shape(
    hook: RunwareHook, runware: EmulatorHandle, shape: str
) -> None:
    runware.config(balance_shape=shape)
    ok, message = hook.test_connection()
    assert ok, message
    assert message.endswith("balance $100.00")
