"""The distributed campaign's scheduled faults, on top of the emulator's random ones.

A background thread watches the metadata DB and the emulator's request log and fires each of these
once, one at a time, at the moment it is meant to hit:
They fire in this order (a fault whose moment does not come for 30 s lets the next ones go first):
- **worker killed while submitting**: the emulator holds the first imageInference POST at its door
  (``hold`` fault: it never reaches Runware); its task instance's Celery worker is SIGKILLed (the whole
  node: pool, task supervisors, tasks) while the POST is held, so the ledger says "submitting" for
  images Runware never saw. The supervisor starts the worker again.
- **DB outage while tasks submit**: PostgreSQL stops for 15 s while task instances are about to submit
  (running on a live worker with none of their images accepted by Runware yet, or queued), so ledger
  writes fail between deciding and POSTing.
- **worker killed while waiting**: once a blocking task instance waits for images Runware accepted,
  its Celery worker is SIGKILLed; the scheduler notices through the (shortened) task heartbeat timeout.
- **supervisor frozen** (two tries at once): a waiting blocking task's supervisor is stopped (SIGSTOP)
  for longer than the task heartbeat timeout while the task itself keeps polling; the scheduler fails
  the try and starts the next one elsewhere; thawed, the old supervisor learns it must stop.
- **DB outage while tasks wait**: PostgreSQL stops for 15 s while tasks are deferred, or blocking
  and polling for accepted images.
- **triggerer killed, no restart**: with tasks deferred, the triggerer holding most of their triggers
  gets SIGKILL and stays dead; the other one must take its triggers over.
- **Redis restarted**: the broker stops and starts again empty (no persistence) while tasks are queued
  or running.
A forced redelivery needs no trigger: the Celery broker's ``visibility_timeout`` is shorter than a
blocking task's wait, so Redis hands a still-running task's message to a worker again; the campaign
counts those redeliveries from the workers' logs afterwards (:mod:`chaos_distributed_evidence`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil
from chaos_plan import Instance
from chaos_postgres import PostgresServer
from chaos_process_faults import ProcessFaults, upload_key
from chaos_processes import DEAD_OR_HIDDEN
from chaos_redis import RedisServer
from chaos_supervisor import Supervisor

DB_OUTAGE_SECONDS = 15.0
REDIS_DOWN_SECONDS = 3.0
# Long enough for the watcher to find and kill the held POST's worker; shorter than the client's timeout.
HOLD_SECONDS = 15.0
# Faults are spaced so that each one's effects can be told apart in the logs.
GAP_SECONDS = 4.0
LIVE_STATES = ("queued", "running", "deferred", "success", "failed", "up_for_retry", "scheduled")
# Longer than the task heartbeat timeout (30 s) plus the scheduler's check and the retry delay.
FREEZE_SECONDS = 50.0
# How long the next fault in order may wait for its moment before later ones may fire first.
HEAD_PATIENCE_SECONDS = 30.0
DEFERRED_BEFORE_TRIGGERER_KILL = 1
WAITING_BEFORE_DB_OUTAGE = 1
TRIGGERERS = ("triggerer-1", "triggerer-2")
TRIGGERERS_SETTLED_SECONDS = 10.0
# In the order they usually become possible; each fires once.
FAULT_KINDS = (
    "worker_killed_submitting",
    "db_outage_submitting",
    "worker_killed_waiting",
    "supervisor_frozen",
    "db_outage_waiting",
    "triggerer_killed",
    "redis_restarted",
)


@dataclass
class DistributedFaults(ProcessFaults):
    """Fires each of :data:`FAULT_KINDS` once, recording each as an event (``kind`` is the fault)."""

    postgres: PostgresServer | None = None
    redis: RedisServer | None = None
    supervisor: Supervisor | None = None
    worker_kills: int = 0
    triggerer_restarts: int = 0
    outages: int = 0
    _current: str = "none"
    _last_fault_end: float = 0.0
    _hold_armed: bool = False
    _frozen: list[tuple[psutil.Process, psutil.Process, Instance, int]] = field(default_factory=list)
    _head: str = ""
    _head_since: float = 0.0

    def stop(self) -> None:
        super().stop()
        self._thaw()  # nothing stays frozen past the campaign

    def elapsed(self) -> float:
        """Seconds since the watcher started (the clock of every fault and restart event)."""
        return self._elapsed()

    def current_fault(self) -> str:
        """The fault being injected now, else the last one injected (what a restart follows)."""
        return self._current

    def missing(self) -> list[str]:
        return [kind for kind in FAULT_KINDS if not self.count(kind)]

    def _watch(self) -> None:
        from sqlalchemy.exc import DBAPIError

        while not self._stop.is_set():
            try:
                self.tracker.snapshot()
                self._next_fault()
            except DBAPIError:
                pass  # the metadata DB is down or restarting: look again on the next tick
            except Exception as error:  # the campaign goes on; the report says what went wrong
                self.errors.append(f"{type(error).__name__}: {error}")
            self._stop.wait(0.5)

    def _next_fault(self) -> None:
        if not self._hold_armed:
            self.emulator.fault(kind="hold", task_type="imageInference", seconds=HOLD_SECONDS, count=1)
            self._hold_armed = True
        if self._last_fault_end and time.monotonic() - self._last_fault_end < GAP_SECONDS:
            return
        steps = {
            "worker_killed_submitting": self._kill_held_submitter,
            "db_outage_submitting": self._outage_while_submitting,
            "worker_killed_waiting": self._kill_waiting_worker,
            "supervisor_frozen": self._freeze_a_supervisor,
            "triggerer_killed": self._kill_triggerer,
            "redis_restarted": self._restart_redis,
            "db_outage_waiting": self._outage_while_waiting,
        }
        missing = self.missing()
        if not missing:
            return
        if missing[0] != self._head:
            self._head, self._head_since = missing[0], time.monotonic()
        # In order; the next ones may go first only once the head has waited too long for its moment.
        overdue = time.monotonic() - self._head_since > HEAD_PATIENCE_SECONDS
        for kind in missing if overdue else missing[:1]:
            if steps[kind]():
                self._last_fault_end = time.monotonic()
                return

    def _record(self, kind: str, **details: Any) -> None:
        self._current = kind
        self.events.append({"kind": kind, **details, "at": self._elapsed()})

    # ----- workers --------------------------------------------------------------------------------

    def _kill_node(self, name: str) -> None:
        """SIGKILL a component and every process under it, as when its machine dies: a task process
        runs in its own process group (Airflow's supervisor makes one), so a group kill would miss it."""
        root = self.services.processes[name].process
        family = []
        with contextlib.suppress(*DEAD_OR_HIDDEN):
            top = psutil.Process(root.pid)
            family = [top, *top.children(recursive=True)]
        for process in family:
            with contextlib.suppress(*DEAD_OR_HIDDEN):
                process.send_signal(signal.SIGKILL)
        root.wait(timeout=30)

    def _worker_of(self, pid: int) -> str | None:
        for name, spawned in self.services.processes.items():
            if name.startswith("worker") and self.tracker.is_descendant(pid, spawned.process.pid):
                return name
        return None

    def _instance_of_prefix(self, prefix: str) -> Instance | None:
        for instance in self.plan.with_mode("deferrable", "blocking", "submit"):
            if self.plan.object_prefix(self.run_id, instance) == prefix:
                return instance
        return None

    def _kill_worker_running(self, instance: Instance, kind: str, **details: Any) -> bool:
        live = next((live for live in self._instances("running") if live.key == instance.key), None)
        if live is None or not live.pid:
            return False
        worker = self._worker_of(int(live.pid))
        if worker is None:
            return False  # its process is not (yet) seen under a worker of this harness
        self._current = kind
        self.tracker.snapshot()
        self._kill_node(worker)
        self._record(kind, task=instance.label, worker=worker, try_number=live.try_number, **details)
        return True

    def _kill_held_submitter(self) -> bool:
        held = [
            entry
            for entry in self.emulator.requests("api", task_type="imageInference")
            if entry.get("fault") == "hold"
        ]
        for entry in held:
            key = upload_key(entry.get("task") or {})
            instance = self._instance_of_prefix(key.rpartition("/")[0] + "/") if key else None
            if instance is not None and self._kill_worker_running(
                instance, "worker_killed_submitting", held_task_uuid=entry.get("taskUUID")
            ):
                return True
        return False

    def _kill_waiting_worker(self) -> bool:
        accepted = self._accepted_prefixes()
        for instance in self.plan.with_mode("blocking"):
            if self.plan.object_prefix(self.run_id, instance) in accepted and self._kill_worker_running(
                instance, "worker_killed_waiting"
            ):
                return True
        return False

    def _freeze_a_supervisor(self) -> bool:
        """SIGSTOP the task supervisor (the Celery pool process) of a blocking task that waits, for longer
        than the task heartbeat timeout, then SIGCONT it: its task keeps polling Runware while no
        heartbeat arrives, so the scheduler fails the try and starts the next one, and the two tries of
        one task instance run at once until the thawed supervisor learns it must stop."""
        accepted = self._accepted_prefixes()
        for instance in self.plan.with_mode("blocking"):
            if self.plan.object_prefix(self.run_id, instance) not in accepted:
                continue
            live = next((live for live in self._instances("running") if live.key == instance.key), None)
            if live is None or not live.pid or self._worker_of(int(live.pid)) is None:
                continue
            with contextlib.suppress(*DEAD_OR_HIDDEN):
                task = psutil.Process(int(live.pid))
                supervisor = task.parent()
                if supervisor is None or self._worker_of(supervisor.pid) is None:
                    continue
                supervisor.suspend()
                self._frozen.append((supervisor, task, instance, live.try_number))
                self._current = "supervisor_frozen"
                timer = threading.Timer(FREEZE_SECONDS, self._thaw)
                timer.daemon = True
                timer.start()
                self._record(
                    "supervisor_frozen",
                    task=instance.label,
                    worker=self._worker_of(supervisor.pid),
                    try_number=live.try_number,
                    seconds=FREEZE_SECONDS,
                )
                return True
        return False

    def _thaw(self) -> None:
        """SIGCONT every frozen supervisor, first noting whether its task was still alive while a later
        try of the same task instance had started: two tries at once, seen directly."""
        while self._frozen:
            supervisor, task, instance, try_number = self._frozen.pop()
            later = None
            with contextlib.suppress(Exception):  # the DB may be away (an outage): then unknown
                later = next(
                    (live.try_number for live in self._instances(*LIVE_STATES) if live.key == instance.key),
                    None,
                )
            alive = task.is_running() and task.status() != psutil.STATUS_ZOMBIE
            with contextlib.suppress(*DEAD_OR_HIDDEN):
                supervisor.resume()
            self.events.append(
                {
                    "kind": "supervisor_thawed",
                    "task": instance.label,
                    "frozen_try": try_number,
                    "try_now": later,
                    "frozen_try_alive": alive,
                    "two_tries_at_once": bool(alive and later is not None and later > try_number),
                    "at": self._elapsed(),
                }
            )

    # ----- triggerer ------------------------------------------------------------------------------

    def _triggers_held(self) -> dict[str, int]:
        """Live triggerer component -> triggers it holds (``job.hostname`` is the component's name)."""
        rows = self.services.query(
            "SELECT job.hostname, count(*) FROM trigger JOIN job ON trigger.triggerer_id = job.id "
            "GROUP BY job.hostname"
        )
        return {str(name): int(count) for name, count in rows if name in TRIGGERERS}

    def _kill_triggerer(self) -> bool:
        """SIGKILL the triggerer holding most triggers, once both have been up a while (a triggerer
        just started again after an outage holds nothing yet)."""
        assert self.supervisor is not None
        if min(self.supervisor.uptime(name) for name in TRIGGERERS) < TRIGGERERS_SETTLED_SECONDS:
            return False
        held = self._triggers_held()
        if sum(held.values()) < DEFERRED_BEFORE_TRIGGERER_KILL:
            return False
        victim = max(held, key=lambda name: held[name])
        deferred = [live.label for live in self._instances("deferred")]
        self._current = "triggerer_killed"
        self.supervisor.abandon(victim)
        self.tracker.snapshot()
        self._kill_node(victim)
        self._record("triggerer_killed", triggerer=victim, triggers_held=held, deferred=sorted(deferred))
        return True

    # ----- Redis ----------------------------------------------------------------------------------

    def _restart_redis(self) -> bool:
        busy = self._instances("queued", "running")
        if not busy:
            return False
        assert self.redis is not None
        self._current = "redis_restarted"
        started_at = self._elapsed()
        self.redis.stop()
        self._pause(REDIS_DOWN_SECONDS)
        self.redis.start()
        self.on_restart(self.redis.pid)
        self._record(
            "redis_restarted",
            busy=sorted(f"{live.label} ({live.state})" for live in busy),
            started_at=started_at,
        )
        return True

    # ----- PostgreSQL -----------------------------------------------------------------------------

    def _outage_while_submitting(self) -> bool:
        """Once task instances are about to submit: running on a live worker with none of their images
        accepted yet, or queued (they start while the database is away)."""
        accepted = self._accepted_prefixes()
        submitting = {i.key: i for i in self.plan.with_mode("deferrable", "blocking", "submit")}
        about_to = [
            f"{live.label} ({live.state})"
            for live in self._instances("running", "queued")
            if live.key in submitting
            and self.plan.object_prefix(self.run_id, submitting[live.key]) not in accepted
            and (live.state == "queued" or (live.pid and self._worker_of(int(live.pid))))
        ]
        return bool(about_to) and self._db_outage("db_outage_submitting", about_to)

    def _outage_while_waiting(self) -> bool:
        """Once task instances wait: deferred, or blocking ones polling for images Runware accepted."""
        accepted = self._accepted_prefixes()
        blocking = {i.key: i for i in self.plan.with_mode("blocking")}
        waiting = [
            f"{live.label} ({live.state})"
            for live in self._instances("deferred", "running")
            if live.state == "deferred"
            or (live.key in blocking and self.plan.object_prefix(self.run_id, blocking[live.key]) in accepted)
        ]
        if len(waiting) < WAITING_BEFORE_DB_OUTAGE:
            return False
        return self._db_outage("db_outage_waiting", waiting)

    def _db_outage(self, kind: str, hit: list[str]) -> bool:
        assert self.postgres is not None
        self._current = kind
        started_at = self._elapsed()
        self.postgres.stop()
        try:
            self._pause(DB_OUTAGE_SECONDS)
        finally:
            self.postgres.start()
            self.on_restart(self.postgres.pid)
        self._record(kind, hit=sorted(hit), seconds=DB_OUTAGE_SECONDS, started_at=started_at)
        return True
