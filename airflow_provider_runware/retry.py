"""Retry and polling schedules.

Runware sheds load with 429/503/504 and sometimes says how long to wait (``Retry-After``); everything
else transient gets exponential backoff with jitter so a fleet of mapped tasks does not retry in step.
Retries are bounded both in count and in total time, so a broken endpoint fails a task rather than
hanging it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tenacity import (
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from airflow_provider_runware.exceptions import RunwareError, RunwareTransientError

MAX_RETRY_AFTER_SECONDS = 120.0


class wait_retry_after_or(wait_base):
    """Wait what the server asked for (``Retry-After``), else fall back to another strategy."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RunwareTransientError) and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), MAX_RETRY_AFTER_SECONDS)
        return float(self.fallback(retry_state))


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, RunwareError) and error.retryable


def retry_policy(
    *, max_retries: int, max_retry_seconds: float, warn: Callable[..., Any], backoff_max: float = 30.0
) -> dict[str, Any]:
    """Keyword arguments shared by the sync and async retrying loops of the hook."""

    def log_before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        warn(
            "Runware request failed (attempt %d of %d): %s; retrying in %.1fs",
            state.attempt_number,
            max_retries + 1,
            error,
            wait,
        )

    return {
        "retry": retry_if_exception(is_retryable),
        "stop": stop_after_attempt(max_retries + 1) | stop_after_delay(max_retry_seconds),
        "wait": wait_retry_after_or(wait_random_exponential(multiplier=0.5, max=backoff_max)),
        "before_sleep": log_before_sleep,
        "reraise": True,
    }


def poll_delays(cap: float, start: float = 1.0, factor: float = 1.5) -> Iterator[float]:
    """Delays between getResponse polls: from about a second up to ``cap`` (Runware advises 1-2 s)."""
    delay = min(start, cap)
    while True:
        yield delay
        delay = min(delay * factor, cap)
