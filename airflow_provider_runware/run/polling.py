"""What a poll of getResponse means, decided in one place for both ways of waiting.

The blocking wait (in a worker) and the trigger (in the triggerer) each drive the same step function:
they poll, hand the outcome (new state, or the error the poll raised) to :func:`decide`, and act on
the answer. Keeping the decision pure and shared is what stops the two paths from drifting apart, as
they once did when an outage ended a deferred wait but not a blocking one.

The rules:
- a poll error that can heal (429, 5xx, timeouts, dropped connections, unreadable bodies, or any error
  about the request rather than the account) never ends a wait before its deadline;
- an error that cannot heal by waiting (the key was refused, the account cannot pay) ends it at once;
- the wait is done when every task has all its images terminal, and times out at an absolute
  wall-clock deadline that belongs to the images, not to this try.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from airflow_provider_runware.api.schemas import PollState
from airflow_provider_runware.exceptions import ErrorCategory, RunwareError

# Errors no amount of waiting fixes: everything else seen while polling is retried until the deadline.
WAIT_ENDING_CATEGORIES = frozenset({ErrorCategory.AUTHENTICATION, ErrorCategory.PAYMENT})
PROGRESS_LOG_SECONDS = 30.0


class WaitOutcome(StrEnum):
    RUNNING = "running"
    DONE = "done"
    TIMED_OUT = "timeout"
    FAILED = "failed"


@dataclass(frozen=True)
class PollStep:
    outcome: WaitOutcome
    error: RunwareError | None = None

    @property
    def final(self) -> bool:
        return self.outcome is not WaitOutcome.RUNNING


def decide(state: PollState, error: RunwareError | None, now: float, deadline: float) -> PollStep:
    """The meaning of one poll: ``error`` is what the poll raised (None when it answered)."""
    if error is not None and error.category in WAIT_ENDING_CATEGORIES:
        return PollStep(WaitOutcome.FAILED, error)
    if state.done:
        return PollStep(WaitOutcome.DONE)
    if now >= deadline:
        return PollStep(WaitOutcome.TIMED_OUT, error)
    return PollStep(WaitOutcome.RUNNING, error)


class ProgressLog:
    """Says how a wait is going, at most every ``PROGRESS_LOG_SECONDS``, from state already at hand
    (no extra requests); a failed poll is always logged, with how the wait carries on."""

    def __init__(self, log: Callable[..., Any], warn: Callable[..., Any], started: float) -> None:
        self._log = log
        self._warn = warn
        self._started = started
        self._last = started

    def step(self, state: PollState, step: PollStep, now: float, deadline: float) -> None:
        if step.error is not None and not step.final:
            self._warn(
                "Polling Runware failed (%s); the images are unaffected, polling again until the deadline "
                "in %.0fs",
                step.error,
                max(0.0, deadline - now),
            )
        if step.final or now - self._last < PROGRESS_LOG_SECONDS:
            return
        self._last = now
        finished = state.result_count
        failed = state.error_count
        self._log(
            "Waiting for Runware: %d images finished, %d failed, %d tasks still running after %.0fs",
            finished,
            failed,
            len(state.pending),
            now - self._started,
        )


def format_deadline(epoch: float | None) -> str:
    """A wall-clock deadline as UTC ISO time, for logs that several tries must agree on."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="seconds") if epoch else "none"
