"""Retry and polling schedules.

Runware sheds load with 429/503/504 and sometimes says how long to wait (``Retry-After``); everything
else transient gets exponential backoff with jitter so a fleet of mapped tasks does not retry in step.
Retries are bounded both in count and in total time, so a broken endpoint fails a task rather than
hanging it.
"""

from __future__ import annotations

from collections.abc import Callable
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


# Polls land at most this fraction of an image's age after it finished, never closer together than
# MIN_POLL_GAP and never further apart than the caller's poll_interval.
POLL_LAG_FRACTION = 0.08
MIN_POLL_GAP = 0.15
# Runware advises a first poll after 1-2 s; no model it serves answers sooner.
FIRST_POLL_AGE = 1.5


def poll_delay(age: float, cap: float) -> float:
    """Delay before the next getResponse poll of images submitted ``age`` seconds ago.

    Growing with age keeps the wait after an image finishes to a small fraction of its generation
    time (a 2 s image is seen within about 0.15 s, a 12 s one within about 1 s), while images that
    have run for long are polled at the ``cap``. Cheap once polls are shared across triggers.
    """
    return max(MIN_POLL_GAP, min(cap, POLL_LAG_FRACTION * max(age, 0.0)))
