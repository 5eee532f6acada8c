"""What systemd or Kubernetes does for a deployment: start again every Airflow component that exits.

The distributed campaign needs one because Airflow's scheduler, dag-processor and triggerers exit when
the metadata DB goes away (and exit again if started while it is still away), and a SIGKILLed Celery
worker stays dead. The supervisor polls each component the services started; one that exited is
started again after a back-off that grows while it keeps exiting at once (like a crash loop back-off),
and every restart is recorded with the fault the harness was injecting, or had injected last, when the
component exited: its likely cause, though a component that exits again after an outage counts under a
fault injected in between. A component the campaign kills for good (a triggerer "with no restart") is
``abandon``-ed first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_services import AirflowServices

POLL_SECONDS = 0.5
FIRST_BACKOFF = 2.0
MAX_BACKOFF = 8.0
# A component that ran at least this long before exiting starts again with the first back-off.
HEALTHY_AFTER = 30.0


@dataclass
class Supervisor:
    services: AirflowServices
    on_start: Callable[[int], None]
    current_fault: Callable[[], str]
    # Seconds since the campaign's faults started: restarts and faults share one clock.
    elapsed: Callable[[], float]
    restarts: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _abandoned: set[str] = field(default_factory=set)
    _started_at: dict[str, float] = field(default_factory=dict)
    _backoff: dict[str, float] = field(default_factory=dict)
    _exited_at: dict[str, float] = field(default_factory=dict)
    _exited_after: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        now = time.monotonic()
        self._started_at = {name: now for name in self.services.processes}
        self._thread = threading.Thread(target=self._watch, name="chaos-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop restarting (before the services are shut down at the end of the campaign)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def abandon(self, name: str) -> None:
        """Never restart ``name`` again: call before killing a component that must stay dead."""
        with self._lock:
            self._abandoned.add(name)

    def uptime(self, name: str) -> float:
        """Seconds since ``name`` was last started; 0 while it is down."""
        with self._lock:
            if name in self._exited_at or self.services.processes[name].process.poll() is not None:
                return 0.0
            return time.monotonic() - self._started_at.get(name, time.monotonic())

    def restarted(self) -> dict[str, int]:
        """How many times each component was started again."""
        counts: dict[str, int] = {}
        for restart in self.restarts:
            counts[restart["component"]] = counts.get(restart["component"], 0) + 1
        return dict(sorted(counts.items()))

    def _watch(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self._check_all()
            except Exception as error:  # the campaign goes on; the report says what went wrong
                self.errors.append(f"{type(error).__name__}: {error}")

    def _check_all(self) -> None:
        for name, spawned in list(self.services.processes.items()):
            with self._lock:
                if name in self._abandoned or self._stop.is_set():
                    continue
                code = spawned.process.poll()
                if code is None:
                    continue
                self._restart_when_due(name, code)

    def _restart_when_due(self, name: str, code: int) -> None:
        now = time.monotonic()
        if name not in self._exited_at:
            self._exited_at[name] = now
            self._exited_after[name] = self.current_fault()
            ran = now - self._started_at.get(name, now)
            previous = self._backoff.get(name, 0.0)
            self._backoff[name] = (
                FIRST_BACKOFF if ran >= HEALTHY_AFTER or not previous else min(previous * 2, MAX_BACKOFF)
            )
        if now - self._exited_at[name] < self._backoff[name]:
            return
        spawned = self.services.start_component(name)
        self.on_start(spawned.process.pid)
        del self._exited_at[name]
        self._started_at[name] = time.monotonic()
        self.restarts.append(
            {
                "component": name,
                "exit_code": code,
                "after_fault": self._exited_after.pop(name),
                "at": self.elapsed(),
            }
        )
