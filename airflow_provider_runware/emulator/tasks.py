"""One handler per taskType; each task of a POST is answered independently, as Runware does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from airflow_provider_runware.emulator.inference import IMAGE_INFERENCE
from airflow_provider_runware.emulator.responses import (
    ACCOUNT_DOCS,
    POLLING_DOCS,
    ApiError,
    Outcome,
    api_error,
    failure,
)
from airflow_provider_runware.emulator.state import EmulatorState, TaskRecord
from airflow_provider_runware.emulator.submission import TaskKind, results_of
from airflow_provider_runware.emulator.text_tasks import CAPTION, IMAGE_CAPTION, PROMPT_ENHANCE
from airflow_provider_runware.emulator.tools import REMOVE_BACKGROUND, UPSCALE
from airflow_provider_runware.emulator.video import VIDEO_INFERENCE

ORGANIZATION_UUID = "0f5b6c52-6d4e-4f0e-9a55-3c1c1f0e7a11"
ORGANIZATION_NAME = "Runware Emulator"
START = "2024-01-01T00:00:00Z"

Handler = Callable[[EmulatorState, Mapping[str, Any], str], Awaitable[Outcome]]


def mask_key(key: str) -> str:
    """Show just enough of a key to recognise it, as account pages do."""
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:4]}{'*' * (len(key) - 8)}{key[-4:]}"


def _not_found(state: EmulatorState, task_type: str, task_uuid: Any) -> Outcome:
    """Unknown or forgotten task UUID; ``not_found`` faults play the other shapes clients report."""
    shape = state.faults.take("not_found") or {}
    if shape.get("shape") == "empty":
        return Outcome()
    return failure(
        int(shape.get("status", 404)),
        shape.get("code") or "taskNotFound",
        f"No task with taskUUID {task_uuid!r} was found: it was never submitted, or it has expired.",
        parameter="taskUUID",
        task_type=task_type,
        task_uuid=task_uuid,
        documentation=POLLING_DOCS,
    )


def _task_uuid_problem(task: Mapping[str, Any]) -> Outcome | None:
    task_uuid = task.get("taskUUID")
    if isinstance(task_uuid, str) and task_uuid:
        return None
    code = "missingTaskUUID" if task_uuid is None else "invalidTaskUUID"
    return failure(
        400,
        code,
        f"taskUUID={task_uuid!r} is invalid: must be the UUID of a submitted task",
        parameter="taskUUID",
        task_type=task.get("taskType"),
        task_uuid=task_uuid,
        documentation=POLLING_DOCS,
    )


def _nested(error: ApiError) -> dict[str, Any]:
    """A failed task as runware-sdk 1.8.0 reads it from getResponse ``data``: the error object nested
    under ``error``, beside the task's own taskType, taskUUID and ``status: "error"``."""
    body = error.body
    return {
        "taskType": body.get("taskType"),
        "taskUUID": body.get("taskUUID"),
        "status": "error",
        "error": {key: value for key, value in body.items() if key not in ("taskType", "status")},
    }


def progress_of(state: EmulatorState, record: TaskRecord) -> Outcome:
    """Cumulative state: finished images, failed ones, and one in-progress item while any remain.

    Failures come in the shape the ``error_shape`` mode asks for: nested in ``data`` (default) or
    flat in ``errors``."""
    outcome = results_of(record)
    outcome.data = [{**item, "status": "success"} for item in outcome.data]
    if state.modes.error_shape == "nested":
        outcome.data += [_nested(error) for error in outcome.errors]
        outcome.errors = []
    if not record.done:
        legacy = state.faults.take("legacy_pending") is not None
        status = "pending" if legacy else "processing"
        outcome.data.append({"taskType": record.task_type, "taskUUID": record.task_uuid, "status": status})
    return outcome


async def get_response(state: EmulatorState, task: Mapping[str, Any], _root: str) -> Outcome:
    problem = _task_uuid_problem(task)
    if problem is not None:
        return problem
    record = state.tasks.get(task["taskUUID"])
    # "amnesia": Runware answers as if it had forgotten every task (results expired, or lost).
    if record is None or state.faults.take("amnesia") is not None:
        return _not_found(state, "getResponse", task["taskUUID"])
    return progress_of(state, record)


async def get_task_details(state: EmulatorState, task: Mapping[str, Any], _root: str) -> Outcome:
    problem = _task_uuid_problem(task)
    if problem is not None:
        return problem
    record = state.tasks.get(task["taskUUID"])
    if record is None:
        return _not_found(state, "getTaskDetails", task["taskUUID"])
    # runware-sdk 1.8.0 types these as request: list (the task array as sent) and response: object
    # (the answer body, data and errors).
    response: dict[str, Any] = {"data": list(record.results)}
    if record.errors:
        response["errors"] = list(record.errors)
    details = {
        "taskType": "getTaskDetails",
        "taskUUID": record.task_uuid,
        "status": record.status,
        "createdAt": record.created_at,
        "request": [{k: v for k, v in record.request.items() if k != "apiKey"}],
        "response": response,
    }
    return Outcome(data=[details])


async def account_management(state: EmulatorState, task: Mapping[str, Any], _root: str) -> Outcome:
    if task.get("operation") != "getDetails":
        return failure(
            400,
            "unsupportedOperation",
            f"operation={task.get('operation')!r} is invalid: must be getDetails",
            parameter="operation",
            task_type="accountManagement",
            task_uuid=task.get("taskUUID"),
            documentation=ACCOUNT_DOCS,
        )
    key = state.settings.api_key or "emulator-any-key"
    details = {
        "taskType": "accountManagement",
        "taskUUID": task.get("taskUUID"),
        "operation": "getDetails",
        "organizationUUID": ORGANIZATION_UUID,
        "organizationName": ORGANIZATION_NAME,
        "AIRSource": "emulator",
        "balance": _balance(state),
        "team": [
            {"name": "Emulator", "email": "owner@example.invalid", "roles": ["Owner"], "joinedAt": START}
        ],
        "apiKeys": [{"name": "default", "apiKey": mask_key(key), "enabled": True}],
        "usage": dict(state.usage),
    }
    return Outcome(data=[details])


def _balance(state: EmulatorState) -> Any:
    """The balance in the ``balance_shape`` mode: an object (runware-sdk 1.8.0's type; the key names
    are an assumption) or the plain number Runware's docs show."""
    if state.modes.balance_shape == "number":
        return state.balance
    return {"amount": state.balance, "currency": "USD"}


async def ping(_state: EmulatorState, _task: Mapping[str, Any], _root: str) -> Outcome:
    return Outcome(data=[{"taskType": "ping", "pong": True}])


# The task types that produce results (images, videos, texts): one submission path, one background job
# (see ``submission``).
KINDS: dict[str, TaskKind] = {
    kind.task_type: kind
    for kind in (
        IMAGE_INFERENCE,
        REMOVE_BACKGROUND,
        UPSCALE,
        VIDEO_INFERENCE,
        IMAGE_CAPTION,
        CAPTION,
        PROMPT_ENHANCE,
    )
}
GENERATING_TASK_TYPES = frozenset(KINDS)

HANDLERS: dict[str, Handler] = {
    **{task_type: kind.handle for task_type, kind in KINDS.items()},
    "getResponse": get_response,
    "getTaskDetails": get_task_details,
    "accountManagement": account_management,
    "ping": ping,
}


def _unsupported(task: Any, index: int) -> ApiError:
    if not isinstance(task, Mapping):
        return api_error(400, "invalidRequestBody", f"Task #{index} is not a JSON object: {task!r}")
    task_type = task.get("taskType")
    if task_type is None:
        return api_error(
            400,
            "missingTaskType",
            "Every task needs a taskType",
            parameter="taskType",
            task_uuid=task.get("taskUUID"),
        )
    known = ", ".join(sorted(HANDLERS))
    return api_error(
        400,
        "unsupportedTaskType",
        f"taskType={task_type!r} is not supported by this server (supported: {known})",
        parameter="taskType",
        task_type=str(task_type),
        task_uuid=task.get("taskUUID"),
    )


async def handle_task(state: EmulatorState, task: Any, index: int, public_root: str) -> Outcome:
    """Answer one task of the array (authentication tasks are consumed earlier)."""
    task_type = task.get("taskType") if isinstance(task, Mapping) else None
    handler = HANDLERS.get(task_type) if isinstance(task_type, str) else None
    if handler is None:
        return Outcome(errors=[_unsupported(task, index)])
    return await handler(state, task, public_root)
