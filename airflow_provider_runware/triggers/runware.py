"""RunwareTaskTrigger: waits for Runware tasks in the triggerer, without holding a worker slot.

Triggers do not poll on their own: every trigger of one event loop and connection registers with a
shared poller (``shared_poller``) that holds one HTTP client and batches every due task UUID into few
getResponse POSTs. What each poll means is decided by :mod:`airflow_provider_runware.run.polling`, the
same function the blocking wait uses. The deadline is absolute wall-clock time, so a trigger re-created
after a triggerer restart keeps the original deadline instead of starting a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_runware.exceptions import RunwareError

if TYPE_CHECKING:
    from airflow_provider_runware.api.schemas import PollState
    from airflow_provider_runware.run.polling import PollStep

EVENT_STATUSES = frozenset({"success", "partial", "error", "timeout"})
DEADLINE_GRACE_SECONDS = 5.0


class RunwareTaskTrigger(BaseTrigger):
    """Poll getResponse for ``task_uuids`` until each has ``number_results`` terminal images.

    Emits exactly one event: ``{"status": success|partial|error|timeout, "message", "results",
    "errors", "pending", "task_uuids", "failure"}``. ``errors`` holds only Runware's per-task answers;
    ``failure`` is the error that ended the wait early (authentication, payment), if any. Transient
    failures while polling never end the wait before ``end_time``. No secrets are held: only the
    connection id.

    :param end_time: Wall-clock deadline (epoch seconds) of the images, not of this trigger.
    :param not_before: No event is emitted before this wall-clock time. A task resumed moments after
        it deferred can be failed by Airflow itself (apache/airflow#72716), so the operator sets it to
        its deferral time plus a safety margin.
    """

    def __init__(
        self,
        task_uuids: list[str],
        end_time: float,
        number_results: int = 1,
        runware_conn_id: str = "runware_default",
        poll_interval: float = 10.0,
        not_before: float = 0.0,
        submitted_at: float | None = None,
    ) -> None:
        super().__init__()
        self.task_uuids = list(task_uuids)
        self.end_time = float(end_time)
        self.number_results = int(number_results)
        self.runware_conn_id = runware_conn_id
        self.poll_interval = float(poll_interval)
        self.not_before = float(not_before)
        self.submitted_at = float(submitted_at) if submitted_at is not None else time.time()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "task_uuids": self.task_uuids,
                "end_time": self.end_time,
                "number_results": self.number_results,
                "runware_conn_id": self.runware_conn_id,
                "poll_interval": self.poll_interval,
                "not_before": self.not_before,
                "submitted_at": self.submitted_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_runware.run.polling import ProgressLog, decide
        from airflow_provider_runware.triggers.shared_poller import SharedPoller

        progress = ProgressLog(self.log.info, self.log.warning, time.time())
        async with SharedPoller.watching(
            self.runware_conn_id,
            dict.fromkeys(self.task_uuids, self.number_results),
            poll_interval=self.poll_interval,
            submitted_at=self.submitted_at,
            end_time=self.end_time,
        ) as watch:
            while True:
                # The poller looks once more at the deadline itself; the grace lets that look land.
                remaining = max(0.0, self.end_time - time.time()) + DEADLINE_GRACE_SECONDS
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
                # that arrives as the event is set, and a cleared task's trigger would poll on.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await watch.updated.wait()
                watch.updated.clear()
                now = time.time()
                step = decide(watch.state, watch.error, now, self.end_time)
                progress.step(watch.state, step, now, self.end_time)
                if step.final:
                    await asyncio.sleep(max(0.0, self.not_before - time.time()))
                    yield TriggerEvent(self._event_for(watch.state, step))
                    return

    def _event_for(self, state: PollState, step: PollStep) -> dict[str, Any]:
        from airflow_provider_runware.run.polling import WaitOutcome

        results = state.result_dicts()
        errors = state.error_dicts()
        pending = state.pending
        failure = None
        if step.outcome is WaitOutcome.TIMED_OUT:
            status = "timeout"
            message = f"Timed out waiting for Runware tasks: {', '.join(pending)}"
        elif step.outcome is WaitOutcome.FAILED and step.error is not None:
            status, failure = "error", step.error.to_dict()
            message = f"Waiting for Runware ended: {step.error}"
        elif errors:
            status = "partial" if results else "error"
            message = f"{len(errors)} of {len(results) + len(errors)} Runware images failed"
        else:
            status = "success"
            message = f"{len(results)} Runware images finished"
        return {
            "status": status,
            "message": message,
            "results": results,
            "errors": errors,
            "pending": pending,
            "task_uuids": self.task_uuids,
            "failure": failure,
        }


def validate_event(event: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """An event crosses the triggerer/worker boundary: anything unexpected must fail loudly."""
    if not isinstance(event, Mapping) or event.get("status") not in EVENT_STATUSES:
        raise RunwareError(f"Unexpected event from RunwareTaskTrigger: {event!r}")
    return event
