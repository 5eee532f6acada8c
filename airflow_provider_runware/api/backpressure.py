"""Back-pressure shared by every request on one Runware connection, instead of per request.

When Runware sheds load (HTTP 429 or 503) it is the *account* that is overloaded, not the one request
that happened to get the answer. If each task instance backed off on its own, a storm would make every
task spend its own retry budget and the fleet would keep knocking in step. Here an overload answer to a
submission sets a "cool down until" time for the whole connection, and every request on that
connection waits it out before it is sent:

- **within a process** (the tasks of one worker process, every trigger of one triggerer) the time is
  held in memory, shared by every hook of the connection;
- **across processes** (Celery workers, other machines of one deployment) a task process also keeps it
  in the Airflow Variable ``runware_cooldown_<conn_id>`` (epoch seconds), which every task process
  reads before its requests (at most once a second). Workers reach Variables through the task SDK,
  nothing else is needed.

The Variable is advisory and race-tolerant by construction: each process only ever moves its own
cool-down *later* (the maximum of what it knows and what it reads), so a lost update (two writers at
once, last one wins) can only shorten one cool-down by the difference between the two, and the next
overload answer sets it again. A process that cannot reach Variables keeps the in-process cool-down.

How long: an exponential delay that grows with *waves* of overload answers to submissions (answers to
requests sent before the current cool-down began are the same wave and do not grow it), at most
``MAX_COOL_DOWN``, reset by the first success; the server's ``Retry-After`` when it asks for longer.
Waiting out a cool-down does not spend a submission's retry count; its time budget
(``max_retry_seconds``) still bounds it, so a storm that never ends fails tasks, by name, after that
budget. Polls wait out the cool-down and pass on a ``Retry-After``, but otherwise back off on their
own schedule and keep counting (see :func:`~airflow_provider_runware.api.retry.retry_policy`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field

OVERLOAD_STATUSES = frozenset({429, 503})
FIRST_COOL_DOWN = 1.0
MAX_COOL_DOWN = 5.0
VARIABLE_PREFIX = "runware_cooldown_"
# A task process reads the shared Variable at most this often (a blocking wait polls every fraction of
# a second early on: one Execution API call per poll would load the api-server for nothing).
REFRESH_SECONDS = 1.0

log = logging.getLogger(__name__)


@dataclass
class CoolDown:
    """One connection's "cool down until" in this process (thread-safe; async code only reads it)."""

    key: str
    until: float = 0.0
    waves: int = 0
    wave_started: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def remaining(self, now: float | None = None) -> float:
        return max(0.0, self.until - (time.time() if now is None else now))

    def overloaded(
        self, sent_at: float, retry_after: float | None, max_wait: float, grow: bool = True
    ) -> float:
        """Record an overload answer to a request sent at ``sent_at``; return the new "until".

        ``grow=False`` (a poll's answer) only honours ``Retry-After``: polls back off on their own
        schedule, and a storm of them must not stretch the waits of every submission.
        """
        now = time.time()
        with self._lock:
            if not grow:
                self.until = max(self.until, now + min(max(retry_after or 0.0, 0.0), max_wait))
                return self.until
            if sent_at >= self.wave_started:  # a new wave: the last cool-down did not end the storm
                self.waves += 1
                self.wave_started = now
            ceiling = min(MAX_COOL_DOWN, FIRST_COOL_DOWN * 2 ** (self.waves - 1), max_wait)
            backoff = random.uniform(ceiling / 2, ceiling)
            # Retry-After is honoured, but a storm that goes on backs off however little it asks for.
            wait = backoff if retry_after is None else max(min(retry_after, max_wait), ceiling / 2)
            self.until = max(self.until, now + wait)
            return self.until

    def relieved(self) -> None:
        """A request went through: the next overload answer starts from the first delay again."""
        with self._lock:
            self.waves = 0

    def learn(self, until: float) -> None:
        """Another process's cool-down, read from the shared Variable: only ever moves later."""
        with self._lock:
            self.until = max(self.until, until)


_COOL_DOWNS: dict[str, CoolDown] = {}
_REGISTRY_LOCK = threading.Lock()


def cool_down_for(conn_id: str, base_url: str) -> CoolDown:
    """The one :class:`CoolDown` of this process for a connection (and the endpoint it points at)."""
    key = f"{conn_id}\n{base_url}"
    with _REGISTRY_LOCK:
        if key not in _COOL_DOWNS:
            _COOL_DOWNS[key] = CoolDown(key=conn_id)
        return _COOL_DOWNS[key]


def variable_key(conn_id: str) -> str:
    return f"{VARIABLE_PREFIX}{conn_id}"[:250]


def in_task_process() -> bool:
    """True inside a task run by Airflow's task SDK, the only place Variables are reachable from a
    worker (the benchmark scripts and a triggerer's event loop keep the in-process cool-down only)."""
    try:
        from airflow.sdk.execution_time import task_runner
    except ImportError:
        return False
    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


class SharedCoolDown:
    """The cross-process side: read the Variable before a submission, write it after an overload."""

    def __init__(self, cool_down: CoolDown) -> None:
        self.cool_down = cool_down
        self.key = variable_key(cool_down.key)
        self.enabled = in_task_process()
        self.written = 0.0
        self.read_at = -REFRESH_SECONDS

    def refresh(self) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.read_at < REFRESH_SECONDS:
            return
        self.read_at = now
        from airflow.sdk import Variable

        try:
            raw = Variable.get(self.key, default=None)
        except Exception as error:  # the Variable is advisory: no Variable, in-process cool-down only
            self._give_up("read", error)
            return
        try:
            until = float(raw) if raw is not None else 0.0
        except ValueError:
            until = 0.0
        self.cool_down.learn(until)

    def publish(self, until: float) -> None:
        if not self.enabled or until <= self.written:
            return
        from airflow.sdk import Variable

        try:
            Variable.set(
                self.key,
                f"{until:.3f}",
                description="Runware overload cool-down of this connection (epoch seconds), shared by "
                "every worker: requests wait until then (airflow-provider-runware)",
            )
        except Exception as error:
            self._give_up("write", error)
            return
        self.written = until

    def _give_up(self, what: str, error: Exception) -> None:
        self.enabled = False
        log.warning(
            "Could not %s Variable %s (%s); Runware back-pressure is shared within this process only",
            what,
            self.key,
            type(error).__name__,
        )
