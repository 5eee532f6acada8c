"""Faults the harness schedules while the campaign runs, on top of the emulator's random ones.

A background thread watches the metadata DB and fires each of these once, one at a time:
- **worker kill**: once a blocking-mode task instance is ``running`` and the emulator has accepted its
  images (so it is waiting, not submitting), its task process (the pid Airflow records in
  ``task_instance.pid``, checked to be a descendant of this harness's scheduler) gets SIGKILL, as when a
  worker node dies;
- **triggerer restart**: once several task instances are ``deferred``, the triggerer's whole process
  group gets SIGKILL and a new triggerer starts a few seconds later, which must pick up the triggers;
- **API outages**: while tasks wait, the emulator refuses every request for longer than the client's
  retries last, first by dropping connections, then with HTTP 503 bodies that name a taskUUID. Random
  faults are independent per request; real incidents are not, and only an outage exhausts retries.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from airflow_services import AirflowServices
from chaos_plan import Instance, Plan
from chaos_processes import ProcessTracker
from emulator_handle import EmulatorHandle

WATCH_INTERVAL = 0.5
TRIGGERER_OUTAGE_SECONDS = 3.0
DEFERRED_BEFORE_RESTART = 3
# If the run never has that many deferred at once, a restart with fewer still tests recovery.
RESTART_ANYWAY_AFTER = 90.0
# Longer than the hook's retries last (6 attempts, exponential backoff of at most ~15 s in all).
OUTAGE_SECONDS = 15.0
OUTAGE_GAP_SECONDS = 8.0
# Outages start while triggers poll (and workers wait): that is where a lost answer can lose an image.
DEFERRED_BEFORE_OUTAGE = 2
OUTAGES: tuple[dict[str, Any], ...] = (
    {"kind": "drop_connection", "count": 1_000_000},
    {"kind": "http_status", "status": 503, "count": 1_000_000},  # the body names the POST's first task
)


def upload_key(task: dict[str, Any]) -> str | None:
    """Bucket-relative object key of a logged imageInference task's uploadEndpoint (path-style URL)."""
    endpoint = task.get("uploadEndpoint")
    if not isinstance(endpoint, str):
        return None
    _, _, key = unquote(urlsplit(endpoint).path).lstrip("/").partition("/")
    return key


class LiveInstance(NamedTuple):
    """A task instance of the run as the metadata DB shows it right now."""

    task_id: str
    map_index: int
    pid: int | None
    try_number: int
    state: str

    @property
    def key(self) -> tuple[str, int]:
        return self.task_id, self.map_index

    @property
    def label(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


@dataclass
class ProcessFaults:
    """Fires up to ``worker_kills`` worker kills, ``triggerer_restarts`` triggerer restarts and
    ``outages`` API outages, recording each as an event."""

    services: AirflowServices
    emulator: EmulatorHandle
    plan: Plan
    run_id: str
    tracker: ProcessTracker
    on_restart: Callable[[int], None]
    worker_kills: int = 1
    triggerer_restarts: int = 1
    outages: int = len(OUTAGES)
    events: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: float = 0.0
    _last_outage_end: float = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._watch, name="chaos-faults", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def count(self, kind: str) -> int:
        return sum(event["kind"] == kind for event in self.events)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self.tracker.snapshot()
                self._next_fault()
            except Exception as error:  # the campaign goes on; the report says what went wrong
                self.errors.append(f"{type(error).__name__}: {error}")
            self._stop.wait(WATCH_INTERVAL)

    def _next_fault(self) -> None:
        if self.count("worker_killed") < self.worker_kills and self._kill_a_waiting_worker():
            return
        if self.count("triggerer_restarted") < self.triggerer_restarts and self._restart_triggerer():
            return
        if self.count("api_outage") < self.outages:
            self._outage_if_waiting()

    def _elapsed(self) -> float:
        return round(time.monotonic() - self._started, 1)

    def _pause(self, seconds: float) -> None:
        """Sleep, still recording new processes (and stopping early if the campaign ends)."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.tracker.snapshot()
            self._stop.wait(min(WATCH_INTERVAL, max(deadline - time.monotonic(), 0)))

    def _instances(self, *states: str) -> list[LiveInstance]:
        rows = self.services.query(
            "SELECT task_id, map_index, pid, try_number, state FROM task_instance "
            "WHERE dag_id = :dag_id AND run_id = :run_id",
            dag_id=self.plan.dag_id,
            run_id=self.run_id,
        )
        return [
            LiveInstance(task_id, int(map_index), pid, int(tries or 0), state)
            for task_id, map_index, pid, tries, state in rows
            if state in states
        ]

    # ----- worker kill ----------------------------------------------------------------------------

    def _accepted_prefixes(self) -> set[str]:
        """Object prefixes of task instances whose images the emulator has accepted."""
        accepted = set()
        for entry in self.emulator.requests("api", task_type="imageInference"):
            key = upload_key(entry.get("task") or {})
            if key and entry.get("status") == 200:
                accepted.add(key.rpartition("/")[0] + "/")
        return accepted

    def _kill_a_waiting_worker(self) -> bool:
        blocking: dict[tuple[str, int], Instance] = {i.key: i for i in self.plan.with_mode("blocking")}
        running = [
            (blocking[live.key], live.pid, live.try_number)
            for live in self._instances("running")
            if live.key in blocking and live.pid
        ]
        if not running:
            return False
        accepted = self._accepted_prefixes()
        scheduler = self.services.processes["scheduler"].process.pid
        for instance, pid, try_number in running:
            if self.plan.object_prefix(self.run_id, instance) not in accepted:
                continue
            if not self.tracker.is_descendant(int(pid), scheduler):
                self.errors.append(f"{instance.label}: pid {pid} is not this harness's worker; not killed")
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
                self.events.append(
                    {
                        "kind": "worker_killed",
                        "task": instance.label,
                        "pid": pid,
                        "try_number": try_number,
                        "at": self._elapsed(),
                    }
                )
                return True
        return False

    # ----- triggerer restart ----------------------------------------------------------------------

    def _restart_triggerer(self) -> bool:
        deferred = [live.label for live in self._instances("deferred")]
        enough = len(deferred) >= DEFERRED_BEFORE_RESTART
        if not deferred or not (enough or self._elapsed() > RESTART_ANYWAY_AFTER):
            return False
        self.tracker.snapshot()
        killed_at = self._elapsed()
        self.services.kill_component("triggerer")
        self._pause(TRIGGERER_OUTAGE_SECONDS)
        restarted = self.services.start_component("triggerer")
        self.on_restart(restarted.process.pid)
        self.events.append(
            {
                "kind": "triggerer_restarted",
                "deferred": sorted(deferred),
                "killed_at": killed_at,
                "at": self._elapsed(),
            }
        )
        return True

    # ----- API outages ----------------------------------------------------------------------------

    def _outage_if_waiting(self) -> None:
        if self._last_outage_end and time.monotonic() - self._last_outage_end < OUTAGE_GAP_SECONDS:
            return
        waiting = self._instances("deferred", "running")
        if sum(live.state == "deferred" for live in waiting) < DEFERRED_BEFORE_OUTAGE:
            return
        spec = OUTAGES[self.count("api_outage") % len(OUTAGES)]
        started_at = self._elapsed()
        fault = self.emulator.fault(**spec)
        try:
            self._pause(OUTAGE_SECONDS)
        finally:
            remaining = next((f["remaining"] for f in self.emulator.faults() if f["id"] == fault["id"]), 0)
            self.emulator.clear_faults()
        self._last_outage_end = time.monotonic()
        name = "drop" if spec["kind"] == "drop_connection" else f"http_{spec['status']}"
        self.events.append(
            {
                "kind": "api_outage",
                "fault": name,
                "refused_posts": spec["count"] - remaining,
                "seconds": OUTAGE_SECONDS,
                "waiting": sorted(f"{live.label} ({live.state})" for live in waiting),
                "started_at": started_at,
                "at": self._elapsed(),
            }
        )
