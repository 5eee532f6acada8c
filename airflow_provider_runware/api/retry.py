"""Retry and polling schedules.

Runware sheds load with 429/503/504 and sometimes says how long to wait (``Retry-After``); everything
else transient gets exponential backoff with jitter so a fleet of mapped tasks does not retry in step.
Retries are bounded both in count and in total time, so a broken endpoint fails a task rather than
hanging it. With a connection-wide cool-down (:mod:`.backpressure`), overload answers (429/503) wait out
the connection's cool-down instead and do not count against the retry count: only the time budget
bounds them.
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
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from airflow_provider_runware.api.backpressure import OVERLOAD_STATUSES, CoolDown
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


def is_overload(error: BaseException | None) -> bool:
    """Runware shedding load for the account (429/503): the connection cools down, not the request."""
    return isinstance(error, RunwareTransientError) and error.http_status in OVERLOAD_STATUSES


class wait_cool_down_or(wait_base):
    """After an overload answer, wait out the connection's cool-down; otherwise another strategy."""

    def __init__(self, cool_down: CoolDown, fallback: wait_base) -> None:
        self.cool_down = cool_down
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        if outcome is not None and is_overload(outcome.exception()):
            return self.cool_down.remaining()
        return float(self.fallback(retry_state))


class wait_at_least_cool_down(wait_base):
    """Another strategy's wait, but never less than what is left of the connection's cool-down."""

    def __init__(self, cool_down: CoolDown, fallback: wait_base) -> None:
        self.cool_down = cool_down
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        return max(float(self.fallback(retry_state)), self.cool_down.remaining())


class stop_after_own_attempts(stop_base):
    """Stop after ``attempts`` failures that were not overload answers (those are the connection's)."""

    def __init__(self, attempts: int) -> None:
        self.attempts = attempts
        self.failures = 0

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is None or not is_overload(outcome.exception()):
            self.failures += 1
        return self.failures >= self.attempts


FREE_OVERLOAD_NOTE = " (a submission's overload answers do not count against max_retries)"


def retry_policy(
    *,
    max_retries: int,
    max_retry_seconds: float,
    warn: Callable[..., Any],
    backoff_max: float = 30.0,
    cool_down: CoolDown | None = None,
    overload_is_free: bool = False,
) -> dict[str, Any]:
    """Keyword arguments shared by the sync and async retrying loops of the hook (a fresh set per
    request: the attempt counter is the request's own).

    With a ``cool_down`` and ``overload_is_free`` (submissions: a task that cannot submit fails), an
    overload answer waits out the connection's cool-down and does not count against
    ``max_retries``. Anything else (polls) backs off on its own schedule, never sooner than the
    cool-down ends, and keeps counting: a failed poll costs nothing, its caller polls again later,
    and a long storm must not hold a worker's short wait or the triggerer's sweep.
    """

    def log_before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        if cool_down is not None and is_overload(error):
            warn(
                "Runware is shedding load: %s; every request on connection %r waits %.1fs%s",
                error,
                cool_down.key,
                wait,
                FREE_OVERLOAD_NOTE if overload_is_free else "",
            )
            return
        warn(
            "Runware request failed (attempt %d of %d): %s; retrying in %.1fs",
            state.attempt_number,
            max_retries + 1,
            error,
            wait,
        )

    own_wait = wait_retry_after_or(wait_random_exponential(multiplier=0.5, max=backoff_max))
    stop: stop_base
    wait: wait_base
    if cool_down is None:
        stop, wait = stop_after_attempt(max_retries + 1), own_wait
    else:
        attempts = max_retries + 1
        if overload_is_free:
            stop, wait = stop_after_own_attempts(attempts), wait_cool_down_or(cool_down, own_wait)
        else:
            stop, wait = stop_after_attempt(attempts), wait_at_least_cool_down(cool_down, own_wait)
    return {
        "retry": retry_if_exception(is_retryable),
        "stop": stop | stop_after_delay(max_retry_seconds),
        "wait": wait,
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
