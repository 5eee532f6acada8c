"""Submitting a task that makes images, whatever its taskType: refusal checks in the order a real API
applies them (request shape, reused taskUUID, retired model, balance), then registration, and the sync
answer or the async acknowledgement.

Each task type describes itself once as a :class:`TaskKind` (its validation, its price estimate, how it
produces an image); this module is the one path all of them take, so conflicts, faults, chaos,
webhooks, uploads and getResponse behave identically for imageInference, removeBackground and upscale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_runware.emulator.generation import Production, run_generation
from airflow_provider_runware.emulator.responses import ApiError, Outcome, failure
from airflow_provider_runware.emulator.state import EmulatorState, TaskRecord


def _never_retired(_state: EmulatorState, _task: Mapping[str, Any]) -> Outcome | None:
    return None


def _number_results(task: Mapping[str, Any]) -> int:
    return int(task.get("numberResults", 1))


@dataclass(frozen=True)
class TaskKind:
    """One task type that produces results (images, videos or texts).

    ``refuse`` lists what is wrong with the request itself (synchronous 400s, each with ``parameter`` and
    ``taskUUID``); ``estimate`` is the most the task can cost (checked against the balance);
    ``docs(parameter)`` is the documentation URL for a parameter of this task type."""

    task_type: str
    production: Production
    refuse: Callable[[EmulatorState, Mapping[str, Any]], list[ApiError]]
    estimate: Callable[[Mapping[str, Any]], float]
    docs: Callable[[str], str]
    retired: Callable[[EmulatorState, Mapping[str, Any]], Outcome | None] = _never_retired
    expected: Callable[[Mapping[str, Any]], int] = _number_results
    # The deliveryMethod of a request that names none: Runware answers video asynchronously.
    default_delivery: str = "sync"

    async def handle(self, state: EmulatorState, task: Mapping[str, Any], public_root: str) -> Outcome:
        """Answer one submitted task: refused, or accepted and answered sync or async."""
        refusal = self._refusal(state, task)
        if refusal is not None:
            return refusal
        record = self._register(state, task, public_root)
        if record.delivery_method == "async":
            return _acknowledgement(state, record)
        return await _sync_answer(state, record)

    def _refusal(self, state: EmulatorState, task: Mapping[str, Any]) -> Outcome | None:
        errors = self.refuse(state, task)
        if errors:
            return Outcome(errors=errors)
        existing = state.tasks.get(task["taskUUID"])
        if existing is not None:
            return self._conflict(state, existing)
        return self.retired(state, task) or self._unaffordable(state, task)

    def _conflict(self, state: EmulatorState, existing: TaskRecord) -> Outcome:
        """The reused taskUUID is named in ``context`` and, unless the ``conflict_shape`` mode says
        ``context_only``, at the top of the error too."""
        context_only = state.modes.conflict_shape == "context_only"
        return failure(
            400,
            "conflictTaskUUID",
            f"Task UUID {existing.task_uuid} was already used by another task; "
            "every task needs a new UUID v4.",
            parameter="taskUUID",
            task_type=self.task_type,
            task_uuid=None if context_only else existing.task_uuid,
            documentation=self.docs("taskUUID"),
            context={
                "taskType": existing.task_type,
                "taskUUID": existing.task_uuid,
                "deliveryMethod": existing.delivery_method,
            },
        )

    def _unaffordable(self, state: EmulatorState, task: Mapping[str, Any]) -> Outcome | None:
        estimate = self.estimate(task)
        if state.faults.take("insufficient_credits") is None and state.balance >= estimate:
            return None
        return failure(
            402,
            "insufficientCredits",
            f"Insufficient credits: balance ${max(state.balance, 0):.4f}, this task needs ${estimate:.4f}. "
            "Top up your account.",
            task_type=self.task_type,
            task_uuid=task["taskUUID"],
        )

    def _register(self, state: EmulatorState, task: Mapping[str, Any], public_root: str) -> TaskRecord:
        record = TaskRecord(
            task_uuid=task["taskUUID"],
            request=dict(task),
            expected=self.expected(task),
            public_root=public_root,
            created_at=state.now(),
            effects=state.chaos.claim(task["taskUUID"]) if state.chaos is not None else None,
            default_delivery=self.default_delivery,
        )
        state.tasks[record.task_uuid] = record
        state.usage["tasks"] += 1
        state.spawn(run_generation(state, record, self.production))
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
    return Outcome(data=[{"taskType": record.task_type, "taskUUID": record.task_uuid}])


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
        task_type=record.task_type,
        task_uuid=record.task_uuid,
    )
