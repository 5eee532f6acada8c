"""One poller per event loop and connection, shared by every waiting RunwareTaskTrigger.

A triggerer runs all its triggers in one event loop. If each trigger built its own HTTP client and
polled its own task UUIDs, a thousand waiting tasks would hold a thousand clients (about 1 MB and an
SSL context each) and send a thousand getResponse POSTs per poll interval. Here they register what
they wait for with one :class:`SharedPoller`, which holds one ``httpx.AsyncClient`` and asks about
every due task in as few POSTs as the API's per-request limit allows, then hands each trigger its
own share of the answer:

- Runware's answer about a task reaches only the watches that wait for that task (each watch keeps
  its own cumulative :class:`PollState`; merging ignores UUIDs it does not hold);
- a failed poll (transport, 429, 5xx) reaches every watch that was in it, and each trigger decides
  with the shared poll decision what it means for its wait;
- the last watch to leave (event emitted, trigger cancelled, triggerer shutting down) stops the loop
  and closes the client. A restarted triggerer rebuilds all of this from the triggers' kwargs.

Each watch keeps its own schedule (dense while its images are young, up to its ``poll_interval``
later); a tick asks about every watch due before the next tick could come, and how soon that is
grows with the crowd (:func:`tick_gap`), so 10,000 waiting images cost about 100 POSTs per 10 s, in
one triggerer or split between several.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from airflow_provider_runware.api.retry import FIRST_POLL_AGE, MIN_POLL_GAP, poll_delay
from airflow_provider_runware.api.schemas import PollState
from airflow_provider_runware.exceptions import RunwareError
from airflow_provider_runware.hooks.runware import MAX_TASKS_PER_REQUEST, RunwareHook

# A tick that fits in one POST may come every MIN_POLL_GAP after the previous one ended (dense polling
# of a few young images is cheap). A crowd that needs several POSTs per tick waits, after a tick ends,
# SECONDS_PER_POST per POST it will send, at most CROWD_GAP (the operator's default poll_interval: each
# waiting task is still asked about every CROWD_GAP seconds and a sweep), and never less than its POSTs
# at CROWD_POSTS_PER_SECOND: 1,000 waiting tasks cost 10 POSTs every 5 s, 2,000 to 10,000 one POST per
# 100 tasks every 10 s. Past 2,000 tasks the rate is proportional to the tasks a triggerer holds, so
# triggerers that split a crowd send together what one holding all of it would (two holding 5,000 each:
# 100 POSTs per 10 s; with a 5 s cap it was 200, benchmarks/crowd_two_triggerers.py). Measuring the gap
# from the end of a tick means no 10 s window holds more than two ticks' POSTs, however slow they are.
SECONDS_PER_POST = 0.5
CROWD_GAP = 10.0
CROWD_POSTS_PER_SECOND = 10.0


# POSTs of one sweep on the wire at once. One after another, a sweep of 10,000 images (100 POSTs) took
# 5-10 s on a loaded machine, and a batch's event can wait one sweep and one gap after its image; the
# number of POSTs per sweep, and so per 10 s, is the same either way.
SWEEP_CONCURRENCY = 4


def tick_gap(task_count: int) -> float:
    """Least time from the end of a tick to the start of the next one, for ``task_count`` tasks."""
    posts = math.ceil(task_count / MAX_TASKS_PER_REQUEST)
    if posts <= 1:
        return MIN_POLL_GAP
    return max(posts / CROWD_POSTS_PER_SECOND, min(CROWD_GAP, posts * SECONDS_PER_POST))


@dataclass(eq=False)
class Watch:
    """One trigger's interest in some task UUIDs, and what the poller has learnt about them."""

    state: PollState
    poll_interval: float
    submitted_at: float
    end_time: float
    due: float = 0.0
    error: RunwareError | None = None
    updated: asyncio.Event = field(default_factory=asyncio.Event)

    def schedule_next(self, now: float, polled: bool) -> None:
        """Next poll by the image's age, one last look at the deadline itself, none after it."""
        if polled and now >= self.end_time:
            self.due = math.inf
            return
        delay = poll_delay(now - self.submitted_at, self.poll_interval)
        earliest = self.submitted_at + FIRST_POLL_AGE
        self.due = min(max(now + delay, earliest), max(self.end_time, now))


class SharedPoller:
    """Polls getResponse for every watch registered on one event loop and connection."""

    _instances: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, SharedPoller]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, runware_conn_id: str) -> None:
        self.runware_conn_id = runware_conn_id
        self.hook = RunwareHook(runware_conn_id=runware_conn_id)
        self.watches: set[Watch] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_tick = 0.0

    @classmethod
    def for_connection(cls, runware_conn_id: str) -> SharedPoller:
        loop = asyncio.get_running_loop()
        pollers = cls._instances.setdefault(loop, {})
        if runware_conn_id not in pollers:
            pollers[runware_conn_id] = cls(runware_conn_id)
        return pollers[runware_conn_id]

    @classmethod
    def active(cls) -> list[SharedPoller]:
        """Pollers of the running loop (for tests and progress logs)."""
        return list(cls._instances.get(asyncio.get_running_loop(), {}).values())

    @classmethod
    @contextlib.asynccontextmanager
    async def watching(
        cls,
        runware_conn_id: str,
        expected: dict[str, int],
        *,
        poll_interval: float,
        submitted_at: float,
        end_time: float,
    ) -> AsyncIterator[Watch]:
        """Register a watch for the duration of the block; leaving it (for any reason) unregisters."""
        poller = cls.for_connection(runware_conn_id)
        watch = Watch(
            state=PollState.expecting(expected),
            poll_interval=poll_interval,
            submitted_at=submitted_at,
            end_time=end_time,
        )
        watch.schedule_next(time.time(), polled=False)
        poller._add(watch)
        try:
            yield watch
        finally:
            await poller._remove(watch)

    def _add(self, watch: Watch) -> None:
        self.watches.add(watch)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()

    async def _remove(self, watch: Watch) -> None:
        self.watches.discard(watch)
        if self.watches:
            return
        pollers = self._instances.get(asyncio.get_running_loop(), {})
        if pollers.get(self.runware_conn_id) is self:
            del pollers[self.runware_conn_id]
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.hook.aclose()

    async def _run(self) -> None:
        while self.watches:
            now = time.time()
            earliest = min(watch.due for watch in self.watches)
            if math.isfinite(earliest):
                earliest = max(earliest, self._next_tick)
            if earliest > now:
                self._wake.clear()
                timeout = None if math.isinf(earliest) else earliest - now
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
                continue
            # Every watch due before the next tick could come is asked about now: sooner than it
            # wished by less than a tick gap, rather than later by up to one.
            waiting = sum(watch.state.pending_count for watch in self.watches if math.isfinite(watch.due))
            due = [watch for watch in self.watches if watch.due <= now + tick_gap(waiting)]
            polled = await self._poll(due)
            self._next_tick = time.time() + tick_gap(polled)

    async def _poll(self, due: Sequence[Watch]) -> int:
        """Ask about every pending task of ``due``, one POST per chunk of at most the API's limit,
        ``SWEEP_CONCURRENCY`` POSTs at a time, and hand each watch its share as soon as its chunk is
        answered (a 100-row batch is one POST of its own): the first batches' events do not wait for
        the whole sweep. Returns how many tasks were asked about."""
        in_flight = asyncio.Semaphore(SWEEP_CONCURRENCY)

        async def poll(chunk: Sequence[Watch]) -> int:
            async with in_flight:
                return await self._poll_chunk(chunk)

        return sum(await asyncio.gather(*(poll(chunk) for chunk in _chunks(due))))

    async def _poll_chunk(self, chunk: Sequence[Watch]) -> int:
        """One POST for ``chunk``. Its answer is dropped on return, not kept for the rest of the
        sweep: an object alive across awaits tends to outlive young collections and to count towards
        the next full one, which stops the whole loop."""
        task_uuids = sorted({uuid for watch in chunk for uuid in watch.state.pending})
        error: RunwareError | None = None
        try:
            response = await self.hook.aget_response(task_uuids) if task_uuids else None
        except RunwareError as exc:
            response, error = None, exc
        except Exception as exc:  # a surprise must not end every trigger's wait: report it, poll on
            response, error = None, RunwareError(f"Polling Runware failed unexpectedly: {exc!r}")
        now = time.time()
        # One watch (a batch's POST of its own) merges the answer as it is (merging ignores UUIDs it
        # does not hold); several share it out through an index, so none scans the others' items.
        index = response.by_task() if response is not None and len(chunk) > 1 else {}
        for watch in chunk:
            if response is not None:
                watch.state.merge(response.for_tasks(index, watch.state.pending) if index else response)
            watch.error = error
            watch.schedule_next(now, polled=True)
            watch.updated.set()
        return len(task_uuids)


def _chunks(due: Sequence[Watch]) -> list[list[Watch]]:
    """Watches grouped so that each group's pending tasks fit one getResponse POST; a watch waiting
    for more than the limit alone is a group of its own (the hook splits its POST further).

    In the order they fell due: a watch asked about late in one sweep is due later, so it comes late
    in the next one too, and the time between two looks at it is one sweep and one gap. (Ordered by
    size, a watch could be first in one sweep and last in the next: two sweeps and a gap, 23 s for
    5,000 images on a loaded machine.)"""
    chunks: list[list[Watch]] = []
    current: list[Watch] = []
    size = 0
    for watch in sorted(due, key=lambda w: w.due):
        pending = watch.state.pending_count
        if current and size + pending > MAX_TASKS_PER_REQUEST:
            chunks.append(current)
            current, size = [], 0
        current.append(watch)
        size += pending
    if current:
        chunks.append(current)
    return chunks
