"""Which processes the campaign started, and whether any of them outlived it.

Airflow's components fork (scheduler workers, task supervisors and runners, the triggerer's runner),
so knowing the processes the harness spawned is not enough: every few seconds the tracker records all
their descendants, and at the end any of them still alive, or any process still running with the
campaign's AIRFLOW_HOME or PostgreSQL data directory, is a leftover.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

DEAD_OR_HIDDEN = (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess)


@dataclass(frozen=True)
class SeenProcess:
    """A process identity that survives pid reuse: pid plus start time."""

    pid: int
    started: float
    command: str

    def alive(self) -> psutil.Process | None:
        try:
            process = psutil.Process(self.pid)
            if process.create_time() != self.started or process.status() == psutil.STATUS_ZOMBIE:
                return None
        except DEAD_OR_HIDDEN:
            return None
        return process


def _describe(process: psutil.Process) -> SeenProcess | None:
    try:
        command = " ".join(process.cmdline())[:200]
        return SeenProcess(process.pid, process.create_time(), command)
    except DEAD_OR_HIDDEN:
        return None


class ProcessTracker:
    """Roots are the processes the harness spawned; ``markers`` (AIRFLOW_HOME, the data directory) tell
    its processes apart from anyone else's on a shared machine."""

    def __init__(self, markers: Sequence[str]) -> None:
        self.markers = [marker for marker in markers if marker]
        self._roots: list[int] = []
        self._seen: dict[tuple[int, float], SeenProcess] = {}
        self._lock = threading.Lock()

    def add_root(self, pid: int) -> None:
        with self._lock:
            self._roots.append(pid)
        self.snapshot()

    def snapshot(self) -> None:
        """Record every root and all of its descendants alive right now."""
        with self._lock:
            roots = list(self._roots)
        for pid in roots:
            try:
                root = psutil.Process(pid)
                family = [root, *root.children(recursive=True)]
            except DEAD_OR_HIDDEN:
                continue
            for process in family:
                seen = _describe(process)
                if seen is not None:
                    with self._lock:
                        self._seen[(seen.pid, seen.started)] = seen

    def is_descendant(self, pid: int, root: int) -> bool:
        try:
            return any(child.pid == pid for child in psutil.Process(root).children(recursive=True))
        except DEAD_OR_HIDDEN:
            return False

    @property
    def seen_count(self) -> int:
        return len(self._seen)

    def _marked(self, process: psutil.Process) -> bool:
        try:
            text = " ".join(process.cmdline())
            environment = process.environ()
        except DEAD_OR_HIDDEN:
            return False
        values = [text, environment.get("AIRFLOW_HOME", "")]
        return any(marker in value for marker in self.markers for value in values)

    def leftovers(self) -> list[SeenProcess]:
        """Processes of the campaign still running: seen descendants, or anything carrying a marker."""
        alive = {seen.pid: seen for seen in self._seen.values() if seen.alive() is not None}
        me = psutil.Process()
        harness = {me.pid, *(parent.pid for parent in me.parents())}
        for process in psutil.process_iter():
            if process.pid not in alive and process.pid not in harness and self._marked(process):
                seen = _describe(process)
                if seen is not None:
                    alive[seen.pid] = seen
        return sorted(alive.values(), key=lambda seen: seen.pid)

    def kill(self, leftovers: Sequence[SeenProcess]) -> None:
        """Clean up after a failed shutdown: these were all started by the campaign."""
        for seen in leftovers:
            process = seen.alive()
            if process is not None:
                with contextlib.suppress(*DEAD_OR_HIDDEN):
                    process.kill()
