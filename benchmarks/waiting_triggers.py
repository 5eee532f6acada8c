"""P4: 1,000 triggers waiting in one event loop: extra memory, getResponse POSTs per 10 s, loop lag.

1,000 one-image tasks are submitted (their images are held in the emulator's queue for far longer than
the measurement), then 1,000 ``RunwareTaskTrigger``s, built as the operator builds them, start at once
in this process's event loop, as in one triggerer. For ``--seconds`` (30) they wait while:

- RSS of this process is sampled (psutil); extra memory = peak RSS while waiting - RSS just before the
  triggers were built (imports, the connection and one earlier trigger run are already paid for);
- a ticker task sleeps 50 ms at a time and records how late it wakes (event-loop lag), from the moment
  the triggers start, so their start-up counts (it also runs 5 s before, without triggers: the lag a
  busy machine alone causes, reported beside it);
- the emulator logs every getResponse POST; they are counted per consecutive whole 10 s window (the
  operator's default poll_interval) from the start.

If the loop stalls (more than a second), watching goes on until it has run freely for two windows
(at most 120 s in all), so a frozen loop that could not poll does not look frugal.

Run: ``.venv/bin/python benchmarks/waiting_triggers.py [--seconds S] [--triggers N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from typing import Any

import psutil
from benchlib import (
    MB,
    QUIET,
    WINDOW,
    LoopWatch,
    Row,
    airflow_sandbox,
    arguments,
    emulator,
    image_task,
    make_trigger,
    posts_per_window,
    report,
    warm_up,
)

TRIGGERS = 1000
MAX_WATCH = 120.0


def submit_all(count: int) -> tuple[list[str], float]:
    from airflow_provider_runware.hooks.runware import RunwareHook

    hook = RunwareHook()
    try:
        tasks = [image_task(f"P4 waiting image #{index}") for index in range(count)]
        started = time.time()
        hook.submit(tasks).raise_for_errors()  # batches of 100: submission is not what P4 measures
    finally:
        hook.close()
    return [task["taskUUID"] for task in tasks], started


async def wait_and_watch(triggers: list[Any], seconds: float) -> dict[str, Any]:
    loop_watch = LoopWatch()
    await loop_watch.start()
    started = loop_watch.started
    waiting = [asyncio.create_task(_event(trigger)) for trigger in triggers]
    await asyncio.sleep(max(0.0, started + seconds - time.time()))
    # A loop that was blocked for most of the time cannot have polled: watch on until it has run freely
    # for two poll intervals, so the POST count is not flattered by a frozen loop (bounded).
    while time.time() < min(started + MAX_WATCH, last_block(loop_watch.lags) + 2 * WINDOW):
        await asyncio.sleep(0.5)
    loop_watch.stop()
    finished_early = [task.result() for task in waiting if task.done() and not task.cancelled()]
    for task in waiting:
        task.cancel()
    cancel_started = time.monotonic()
    await asyncio.gather(*waiting, return_exceptions=True)
    return {
        "loop_watch": loop_watch,
        "finished_early": finished_early,
        "cancel_seconds": time.monotonic() - cancel_started,
    }


def last_block(lags: list[tuple[float, float]]) -> float:
    """When the loop last woke from a stall longer than a second (0 if it never stalled)."""
    return max((at for at, lag in lags if lag > 1.0), default=0.0)


async def _event(trigger: Any) -> dict[str, Any]:
    async for event in trigger.run():
        return dict(event.payload)
    return {}


def one_run(handle: Any, count: int, seconds: float) -> dict[str, Any]:
    warm_up(handle)
    handle.reset()
    # Far longer than the measurement: every image is still queued when the triggers are cancelled.
    handle.fault(kind="queue_delay", seconds=seconds + 600)
    uuids, submitted = submit_all(count)
    gc.collect()
    baseline = psutil.Process().memory_info().rss
    triggers = [
        make_trigger([task_uuid], submitted_at=submitted, wait_seconds=seconds + 600, poll_interval=WINDOW)
        for task_uuid in uuids
    ]
    watched = asyncio.run(wait_and_watch(triggers, seconds))
    figures = watched["loop_watch"].figures(baseline)
    return {
        "triggers": count,
        "seconds": seconds,
        "baseline_rss_mb": baseline / MB,
        **figures,
        "poll_posts_per_window": posts_per_window(
            handle.requests("api"), uuids, figures["started"], figures["ended"]
        ),
        "finished_early": len(watched["finished_early"]),
        "cancel_seconds": watched["cancel_seconds"],
    }


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=None, help="how long they wait (30; quick 20)")
    parser.add_argument("--triggers", type=int, default=TRIGGERS, help=f"how many ({TRIGGERS})")


def main() -> None:
    args = arguments(__doc__ or "", default_reps=1, extra=options)
    seconds = args.seconds or (20.0 if args.quick else 30.0)
    airflow_sandbox()
    with emulator() as handle:
        runs = [one_run(handle, args.triggers, seconds) for _ in range(args.reps)]
    if any(run["finished_early"] for run in runs):
        raise RuntimeError("some triggers fired while their images were still queued: nothing measured")
    n = args.triggers
    rows = [
        Row(
            "P4",
            f"{n} waiting triggers, one event loop: extra RSS (peak while waiting)",
            150.0,
            [run["extra_rss_mb"] for run in runs],
            unit="MB",
            judged="max",
        ),
        Row(
            "P4",
            f"{n} waiting triggers: getResponse POSTs per 10 s window",
            20.0,
            [count for run in runs for count in run["poll_posts_per_window"]],
            unit="POSTs",
            judged="max",
            note="every consecutive 10 s window from the triggers' start",
        ),
        Row(
            "P4",
            f"{n} waiting triggers: event-loop lag, worst per 10 s window",
            0.25,
            [lag for run in runs for lag in run["max_lag_per_window"]],
            unit="s",
            judged="max",
            note="50 ms ticker, lateness of each wake-up, triggers' start-up included",
        ),
    ]
    report(args, rows, {"runs": runs})
    for run in runs:
        print(
            f"     baseline RSS {run['baseline_rss_mb']:.0f} MB; extra at the end "
            f"{run['extra_rss_at_end_mb']:.0f} MB; median lag {run['median_lag'] * 1000:.0f} ms (worst "
            f"{run['quiet_max_lag'] * 1000:.0f} ms in {QUIET:.0f} s without triggers); "
            f"cancelling them all took {run['cancel_seconds']:.2f} s"
        )


if __name__ == "__main__":
    main()
