"""Submission of imageInference tasks: validation, account checks, conflicts, sync and async delivery.

Validation goes through the same catalog function the client uses, so the emulator can never accept
what the provider rejects (or the reverse).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from airflow_provider_runware.catalog import DOCS_URL, Violation, get_model_spec, validate_image_inference
from airflow_provider_runware.emulator.generation import price_per_image, run_generation
from airflow_provider_runware.emulator.responses import ApiError, Outcome, api_error, failure
from airflow_provider_runware.emulator.state import EmulatorState, TaskRecord

TASK_TYPE = "imageInference"


def parameter_docs(parameter: str) -> str:
    return f"{DOCS_URL}#request-{parameter.lower().replace('.', '-')}"


def validation_error(violation: Violation, task_uuid: Any) -> ApiError:
    return api_error(
        400,
        violation.code,
        violation.message(),
        parameter=violation.parameter,
        task_type=TASK_TYPE,
        task_uuid=task_uuid,
        documentation=parameter_docs(violation.parameter),
    )


def _conflict(state: EmulatorState, existing: TaskRecord) -> Outcome:
    """The reused taskUUID is named in ``context`` and, unless the ``conflict_shape`` mode says
    ``context_only``, at the top of the error too."""
    context_only = state.modes.conflict_shape == "context_only"
    return failure(
        400,
        "conflictTaskUUID",
        f"Task UUID {existing.task_uuid} was already used by another task; every task needs a new UUID v4.",
        parameter="taskUUID",
        task_type=TASK_TYPE,
        task_uuid=None if context_only else existing.task_uuid,
        documentation=parameter_docs("taskUUID"),
        context={
            "taskType": TASK_TYPE,
            "taskUUID": existing.task_uuid,
            "deliveryMethod": existing.delivery_method,
        },
    )


def _deactivated(state: EmulatorState, task: Mapping[str, Any]) -> Outcome | None:
    """A retired model: past its catalog deactivation date (by the emulator's ``today``), or scripted
    with a ``deactivate_model`` fault. The answer's code and status are modes (see ``modes``)."""
    model = task["model"]
    fault = state.faults.take("deactivate_model", lambda spec: spec.get("model") == model)
    lifecycle = get_model_spec(model).lifecycle
    if fault is None and not lifecycle.retired(state.modes.current_date()):
        return None
    fault = fault or {}
    hint = f"; use {lifecycle.replacement} instead" if lifecycle.replacement else ""
    return failure(
        int(fault.get("status") or state.modes.retired_status),
        fault.get("code") or state.modes.retired_code,
        f"Model {model} has been deactivated and can no longer be used{hint}.",
        parameter="model",
        task_type=TASK_TYPE,
        task_uuid=task["taskUUID"],
        documentation=parameter_docs("model"),
    )


def _unaffordable(state: EmulatorState, task: Mapping[str, Any]) -> Outcome | None:
    price = price_per_image(task["model"], task["width"], task["height"])
    estimate = price * int(task.get("numberResults", 1))
    if state.faults.take("insufficient_credits") is None and state.balance >= estimate:
        return None
    return failure(
        402,
        "insufficientCredits",
        f"Insufficient credits: balance ${max(state.balance, 0):.4f}, this task needs ${estimate:.4f}. "
        "Top up your account.",
        task_type=TASK_TYPE,
        task_uuid=task["taskUUID"],
    )


def _refusal(state: EmulatorState, task: Mapping[str, Any]) -> Outcome | None:
    """Why this task is not accepted, checked in the order a real API would: shape, then account."""
    violations = validate_image_inference(task)
    if violations:
        return Outcome(errors=[validation_error(v, task.get("taskUUID")) for v in violations])
    existing = state.tasks.get(task["taskUUID"])
    if existing is not None:
        return _conflict(state, existing)
    return _deactivated(state, task) or _unaffordable(state, task)


def _register(state: EmulatorState, task: Mapping[str, Any], public_root: str) -> TaskRecord:
    record = TaskRecord(
        task_uuid=task["taskUUID"],
        request=dict(task),
        expected=int(task.get("numberResults", 1)),
        public_root=public_root,
        created_at=state.now(),
        effects=state.chaos.claim(task["taskUUID"]) if state.chaos is not None else None,
    )
    state.tasks[record.task_uuid] = record
    state.usage["tasks"] += 1
    state.spawn(run_generation(state, record))
    return record


def results_of(record: TaskRecord) -> Outcome:
    """Everything a finished (or timed-out) sync request reports: images in data, failures in errors."""
    errors = [
        ApiError(status, body) for status, body in zip(record.error_statuses, record.errors, strict=True)
    ]
    return Outcome(data=list(record.results), errors=errors)


def _acknowledgement(state: EmulatorState, record: TaskRecord) -> Outcome:
    shape = state.faults.take("ack_shape")
    if shape is not None and shape.get("shape") == "empty":
        return Outcome()
    return Outcome(data=[{"taskType": TASK_TYPE, "taskUUID": record.task_uuid}])


async def _sync_answer(state: EmulatorState, record: TaskRecord) -> Outcome:
    timeout = state.faults.take("sync_timeout")
    if timeout is None:
        await record.finished.wait()
        return results_of(record)
    await asyncio.sleep(float(timeout.get("seconds", state.settings.sync_timeout_seconds)))
    return failure(
        504,
        "timeoutProvider",
        "The provider did not answer within the synchronous window; the task keeps running: "
        "poll it with getResponse.",
        task_type=TASK_TYPE,
        task_uuid=record.task_uuid,
    )


async def handle_image_inference(state: EmulatorState, task: Mapping[str, Any], public_root: str) -> Outcome:
    refusal = _refusal(state, task)
    if refusal is not None:
        return refusal
    record = _register(state, task, public_root)
    if record.delivery_method == "async":
        return _acknowledgement(state, record)
    return await _sync_answer(state, record)
