"""Shared by every benchmark: a throwaway Airflow home, the emulator, POST counting, result rows.

Benchmarks run as plain scripts (``.venv/bin/python benchmarks/<name>.py``), each in its own process so
that memory and event-loop figures are not polluted by another benchmark. Each prints its rows and, with
``--json PATH``, writes them for ``benchmarks/run.py`` (``make bench``), which prints the one table.

Rules every script follows: ratios are measured inside one run; requests are counted from the emulator's
own log (``GET /_emulator/requests``), never from the client; everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The tests' server helpers (free port, start/stop, the emulator handle, Airflow's services) are reused.
for _helpers in (REPO / "tests", REPO / "tests" / "integration"):
    if str(_helpers) not in sys.path:
        sys.path.insert(0, str(_helpers))

from emulator_handle import BEFORE_DALLE2_RETIREMENT, EmulatorHandle, running_emulator  # noqa: E402

API_KEY = "bench-runware-key"
MODEL = "openai:2@2"
# The emulator's default: each one-image task renders in this long once its queue delay has passed.
EMULATOR_RENDER_SECONDS = 0.3
SDK_PYTHON = REPO / ".venv-sdk" / "bin" / "python"
FERNET_KEY = "n1O-SuTTvN3xIYVUKlJuCn3D_mvI8tUZYUYzD0ekBfg="


# ----- environment ------------------------------------------------------------------------------


def airflow_sandbox() -> Path:
    """A throwaway AIRFLOW_HOME for this process, set before anything imports Airflow."""
    home = Path(tempfile.mkdtemp(prefix="runware-bench-airflow-"))
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__FERNET_KEY": FERNET_KEY,
        }
    )
    return home


@contextlib.contextmanager
def emulator(*args: str) -> Iterator[EmulatorHandle]:
    """The bundled emulator as a subprocess on a free loopback port, and the ``runware_default``
    connection of this process pointing at it."""
    # The benchmarks ask for the seed model, DALL·E 2: the emulator plays a day before its retirement.
    with running_emulator(API_KEY, "--today", BEFORE_DALLE2_RETIREMENT, *args) as handle:
        os.environ["AIRFLOW_CONN_RUNWARE_DEFAULT"] = handle.connection()
        yield handle


def set_generation_seconds(handle: EmulatorHandle, seconds: float) -> None:
    """Make every image take ``seconds`` from submission to ready (a queue delay plus the render)."""
    handle.fault(kind="queue_delay", seconds=max(seconds - EMULATOR_RENDER_SECONDS, 0.0))


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import psutil

    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# ----- requests ---------------------------------------------------------------------------------


def image_task(prompt: str = "a paper lantern at dusk, benchmark", **overrides: Any) -> dict[str, Any]:
    """One async one-image imageInference task as the operator's planner builds it."""
    from airflow_provider_runware.api.schemas import ImageInferenceRequest

    task = {
        "taskType": "imageInference",
        "taskUUID": str(uuid.uuid4()),
        "model": MODEL,
        "positivePrompt": prompt,
        "width": 256,
        "height": 256,
        "numberResults": 1,
        "deliveryMethod": "async",
        "includeCost": True,
        **overrides,
    }
    return ImageInferenceRequest.from_wire(task).to_wire()


def make_trigger(
    task_uuids: Sequence[str],
    *,
    submitted_at: float,
    wait_seconds: float = 600.0,
    poll_interval: float = 10.0,
) -> Any:
    """A RunwareTaskTrigger as the operator builds it, except ``not_before=0``: these benchmarks time
    Runware's side and the trigger's, not the hold that absorbs Airflow's deferral race."""
    from airflow_provider_runware.triggers.runware import RunwareTaskTrigger

    return RunwareTaskTrigger(
        task_uuids=list(task_uuids),
        end_time=time.time() + wait_seconds,
        runware_conn_id="runware_default",
        poll_interval=poll_interval,
        not_before=0.0,
        submitted_at=submitted_at,
    )


async def first_event(trigger: Any) -> tuple[float, dict[str, Any]]:
    """Run ``trigger.run()`` to its first event, as the triggerer does; return (wall time, payload)."""
    generator = trigger.run()
    try:
        event = await generator.__anext__()
    finally:
        await generator.aclose()
    return time.time(), dict(event.payload)


def _check(outcomes: list[tuple[float, dict[str, Any]]]) -> list[tuple[float, dict[str, Any]]]:
    """A benchmark of images that did not arrive would measure nothing: anything but success raises."""
    failed = [payload for _, payload in outcomes if payload.get("status") != "success"]
    if failed:
        raise RuntimeError(f"{len(failed)} triggers did not succeed, e.g. {failed[0].get('message')}")
    return outcomes


async def events_of(triggers: Sequence[Any]) -> list[tuple[float, dict[str, Any]]]:
    """Run every trigger concurrently in this event loop (one triggerer) until each has its event."""
    return _check(list(await asyncio.gather(*(first_event(trigger) for trigger in triggers))))


@dataclass
class MappedRun:
    uuids: list[str]
    started: float
    outcomes: list[tuple[float, dict[str, Any]]]

    @property
    def last_event(self) -> float:
        return max(at for at, _ in self.outcomes)


async def mapped_one_image_tasks(count: int, prompt: str) -> MappedRun:
    """What ``count`` mapped one-image deferrable tasks do, minus Airflow: each submits its image with
    its own ``RunwareHook.submit`` call (one POST; sequentially, in a worker thread) and at once starts
    waiting in a ``RunwareTaskTrigger`` (as the operator builds it, ``not_before=0``) in this event loop."""
    from airflow_provider_runware.hooks.runware import RunwareHook

    hook = RunwareHook()
    waits = []
    started = time.time()
    try:
        for index in range(count):
            task = image_task(f"{prompt} #{index}")
            (await asyncio.to_thread(hook.submit, [task])).raise_for_errors()
            trigger = make_trigger([task["taskUUID"]], submitted_at=time.time())
            waits.append((task["taskUUID"], asyncio.create_task(first_event(trigger))))
        outcomes = _check(list(await asyncio.gather(*(wait for _, wait in waits))))
    finally:
        hook.close()
    return MappedRun([task_uuid for task_uuid, _ in waits], started, outcomes)


def posts(
    log: Iterable[Mapping[str, Any]],
    task_types: Iterable[str] = ("imageInference", "getResponse"),
    task_uuids: Iterable[str] | None = None,
) -> set[int]:
    """Distinct POST numbers in the emulator's log that carried any of ``task_types`` (for
    ``task_uuids`` only, if given). One POST with 100 tasks counts once."""
    wanted_types = set(task_types)
    wanted_uuids = set(task_uuids) if task_uuids is not None else None
    return {
        int(entry["post"])
        for entry in log
        if entry.get("kind") == "api"
        and entry.get("taskType") in wanted_types
        and (wanted_uuids is None or entry.get("taskUUID") in wanted_uuids)
    }


# ----- results ----------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table: a figure, its goal and every repetition's value.

    ``judged`` says which statistic is held against the goal: ``median`` for timing ratios (noise on
    a shared machine moves single runs), ``max`` where the worst case is the promise (counts, memory,
    lag). A row that cannot be measured yet has ``available=False`` and a ``reason``.
    """

    id: str
    metric: str
    goal: float | None
    values: list[float] = field(default_factory=list)
    unit: str = ""
    judged: str = "median"
    note: str = ""
    available: bool = True
    reason: str = ""

    def stats(self) -> dict[str, float] | None:
        if not self.values:
            return None
        return {
            "min": min(self.values),
            "median": statistics.median(self.values),
            "max": max(self.values),
        }

    def meets(self) -> bool | None:
        stats = self.stats()
        if not self.available or stats is None or self.goal is None:
            return None
        return stats[self.judged] <= self.goal

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "stats": self.stats(), "meets": self.meets()}


def fmt(value: float, unit: str = "") -> str:
    """Counts and megabytes as integers, seconds to 10 ms, ratios to three decimals below 2."""
    if unit in ("MB", "POSTs") or abs(value) >= 100:
        return f"{value:.0f}"
    if unit == "s" or abs(value) >= 2:
        return f"{value:.2f}"
    return f"{value:.3f}"


def fmt_goal(row: Row) -> str:
    return f"≤ {row.goal:g}{' ' + row.unit if row.unit else ''}" if row.goal is not None else "-"


def describe(row: Row) -> str:
    stats = row.stats()
    if not row.available or stats is None:
        return f"{row.id:<4} {row.metric}: not available ({row.reason})"
    spread = " / ".join(fmt(stats[k], row.unit) for k in ("min", "median", "max"))
    verdict = {True: "meets", False: "MISSES", None: "-"}[row.meets()]
    return (
        f"{row.id:<4} {row.metric.strip()}: min/median/max {spread}{' ' + row.unit if row.unit else ''} "
        f"(n={len(row.values)}; goal {fmt_goal(row)} on {row.judged}: {verdict})"
    )


def arguments(
    description: str, default_reps: int, extra: Callable[[argparse.ArgumentParser], Any] | None = None
) -> argparse.Namespace:
    """``--reps``, ``--quick`` and ``--json`` for every benchmark, plus its own options (``extra``)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawTextHelpFormatter)
    if extra is not None:
        extra(parser)
    parser.add_argument("--reps", type=int, default=None, help=f"repetitions (default {default_reps})")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and smaller sizes")
    parser.add_argument("--json", type=Path, default=None, help="write rows and raw data here")
    args = parser.parse_args()
    if args.reps is None:
        args.reps = max(1, default_reps // 2) if args.quick else default_reps
    return args


def report(args: argparse.Namespace, rows: list[Row], raw: Mapping[str, Any]) -> None:
    """Print the rows; write them (and the raw measurements) as JSON when asked."""
    for row in rows:
        print(describe(row), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": [r.to_json() for r in rows], "raw": raw}, indent=1))


# ----- watching one event loop (P4, P7) ---------------------------------------------------------

TICK = 0.05
WINDOW = 10.0
QUIET = 5.0
STALL = 0.1
MB = 1024 * 1024


def windows(start: float, end: float, whole: bool) -> list[tuple[float, float]]:
    """Consecutive 10 s windows from ``start``: only whole ones (counting POSTs), or covering up to
    ``end`` with the last one partial (so no lag sample is left out)."""
    count = (end - start) / WINDOW
    count = max(1, int(count) if whole else math.ceil(count))
    return [(start + i * WINDOW, start + (i + 1) * WINDOW) for i in range(count)]


@dataclass
class GcPause:
    at: float
    generation: int
    seconds: float
    collected: int


class GcWatch:
    """Every garbage collection while it is on (``gc.callbacks``): when, which generation, how long,
    how many objects it freed; and how many objects the collector tracks when it stops. A stall the
    interpreter causes, whatever the code in the loop does, so loop lag can be told apart from it."""

    def __init__(self) -> None:
        self.pauses: list[GcPause] = []
        self.tracked_at_start = 0
        self.tracked_at_end = 0
        self._began = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            seconds = time.perf_counter() - self._began
            self.pauses.append(GcPause(time.time(), info["generation"], seconds, info["collected"]))

    def start(self) -> None:
        self.tracked_at_start = len(gc.get_objects())
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        """Call once the loop is no longer measured (counting walks every tracked object)."""
        self.tracked_at_end = len(gc.get_objects())
        gc.callbacks.remove(self._callback)

    def summary(self, since: float = 0.0) -> dict[str, Any]:
        """Per generation: how many collections, the longest, their total time, objects freed, and
        (seconds since ``since``, duration) of each one longer than half a stall."""
        generations: dict[str, Any] = {}
        for generation in (0, 1, 2):
            pauses = [p for p in self.pauses if p.generation == generation and p.at >= since]
            generations[str(generation)] = {
                "count": len(pauses),
                "max_seconds": max((p.seconds for p in pauses), default=0.0),
                "total_seconds": sum(p.seconds for p in pauses),
                "collected": sum(p.collected for p in pauses),
                "pauses": [
                    (round(p.at - since, 2), round(p.seconds, 3)) for p in pauses if p.seconds > STALL / 2
                ],
            }
        return {
            "generations": generations,
            "tracked_at_start": self.tracked_at_start,
            "tracked_at_end": self.tracked_at_end,
        }


class LoopWatch:
    """A 50 ms ticker in the running event loop: how late each wake-up is (loop lag) and this
    process's RSS at each. :meth:`start` runs it ``QUIET`` seconds without anything else first (the lag
    a busy machine alone causes) and returns when the measured part starts; :meth:`stop` ends it."""

    def __init__(self) -> None:
        self.lags: list[tuple[float, float]] = []
        self.rss: list[tuple[float, int]] = []
        self.started = 0.0
        self.ended = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        import psutil

        process = psutil.Process()
        while True:
            before = time.monotonic()
            await asyncio.sleep(TICK)
            self.lags.append((time.time(), time.monotonic() - before - TICK))
            self.rss.append((time.time(), process.memory_info().rss))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(QUIET)
        self.started = time.time()

    def stop(self) -> None:
        self.ended = time.time()
        if self._task is not None:
            self._task.cancel()

    def measured_lags(self) -> list[float]:
        return [lag for at, lag in self.lags if at >= self.started]

    def lag_per_window(self) -> list[float]:
        """Worst lag in each 10 s window from the start, the last one partial."""
        return [
            max((lag for at, lag in self.lags if lo <= at < hi), default=0.0)
            for lo, hi in windows(self.started, self.ended, whole=False)
        ]

    def figures(self, baseline_rss: int) -> dict[str, Any]:
        waiting_rss = [value for at, value in self.rss if at >= self.started]
        return {
            "started": self.started,
            "ended": self.ended,
            "watched_seconds": self.ended - self.started,
            "extra_rss_mb": (max(waiting_rss) - baseline_rss) / MB,
            "extra_rss_at_end_mb": (waiting_rss[-1] - baseline_rss) / MB,
            "max_lag_per_window": self.lag_per_window(),
            "max_lag": max(self.measured_lags()),
            "median_lag": statistics.median(self.measured_lags()),
            "quiet_max_lag": max(lag for at, lag in self.lags if at < self.started),
            # Every wake-up later than STALL: (seconds since the start, lateness), to set beside the
            # garbage collections' times.
            "stalls": [(round(at - self.started, 2), round(lag, 3)) for at, lag in self.lags if lag > STALL],
        }


def posts_per_window(
    log: Iterable[Mapping[str, Any]], task_uuids: Iterable[str], start: float, end: float
) -> list[int]:
    """getResponse POSTs about ``task_uuids`` in each whole 10 s window from ``start`` to ``end``."""
    polls = [entry for entry in log if entry.get("taskType") == "getResponse"]
    wanted = set(task_uuids)
    return [
        len(posts([e for e in polls if lo <= e["at"] < hi], ["getResponse"], wanted))
        for lo, hi in windows(start, end, whole=True)
    ]


def warm_up(handle: EmulatorHandle) -> None:
    """One trigger end to end first, so imports and the connection lookup are not counted as the
    measured triggers' memory."""
    from airflow_provider_runware.hooks.runware import RunwareHook

    handle.reset()
    hook = RunwareHook()
    try:
        task = image_task("warm-up image")
        started = time.time()
        hook.submit([task]).raise_for_errors()
    finally:
        hook.close()
    asyncio.run(events_of([make_trigger([task["taskUUID"]], submitted_at=started, wait_seconds=60)]))


@contextlib.contextmanager
def cpu_burners(count: int) -> Iterator[list[int]]:
    """``count`` processes spinning on a core each, as other work on a shared machine: a benchmark
    run with and without them shows what load does to its figures. Yields their PIDs."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
        for _ in range(count)
    ]
    try:
        yield [burner.pid for burner in burners]
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def load_average() -> float:
    """The 1-minute load average now (the machine is shared: figures are read beside it)."""
    return os.getloadavg()[0]
