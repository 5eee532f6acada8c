"""P7: 10,000 images in flight in one triggerer, as 100 batch tasks of 100 rows each, deferred.

100 ``RunwareTaskTrigger``s of 100 task UUIDs each (what a batch operator with ``requests=`` of 100 rows
defers with) wait in this process's event loop, as in one triggerer. Their 10,000 images are submitted
first, 100 per POST, each batch held in the emulator's queue for a different time (``--hold`` seconds
for the first batch, up to ``--spread`` more for the last), so every image is still waiting for the
first windows and then they finish in a stream while the triggers keep polling the rest. Measured:

- extra RSS: peak RSS while the triggers wait - RSS just before they were built (psutil);
- getResponse POSTs per consecutive whole 10 s window (the operator's default poll_interval) from the
  triggers' start, counted in the emulator's log;
- event-loop lag: a 50 ms ticker's lateness, worst per 10 s window, the triggers' start-up included
  (it also runs 5 s before, without triggers: the lag a busy machine alone causes, printed beside it);
- wake-up delay: for each trigger, the time of its event minus the time the emulator logged the last of
  its 100 images as generated (the moment a perfect client could have known the batch was done);
- garbage collections while the triggers wait (``gc.callbacks``): count and longest pause per generation,
  and the objects the collector tracks at the start and the end (a full collection scans them all).

``--load N`` runs N CPU-spinning processes beside it, as other work on a shared 2-core machine.

Run: ``.venv/bin/python benchmarks/crowd_triggers.py [--batches N] [--rows N] [--load N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from typing import Any

import psutil
from benchlib import (
    MB,
    QUIET,
    GcWatch,
    LoopWatch,
    Row,
    airflow_sandbox,
    arguments,
    cpu_burners,
    emulator,
    image_task,
    load_average,
    make_trigger,
    posts_per_window,
    report,
    warm_up,
)

BATCHES = 100
ROWS = 100
HOLD = 45.0
SPREAD = 45.0
QUICK_SPREAD = 15.0
MAX_WAIT = 300.0


def submit_batches(handle: Any, batches: int, rows: int, hold: float, spread: float) -> list[dict[str, Any]]:
    """One POST per batch; batch ``i`` waits ``hold + spread * i / batches`` s in the emulator's queue."""
    from airflow_provider_runware.hooks.runware import RunwareHook

    hook = RunwareHook()
    submitted = []
    try:
        for index in range(batches):
            handle.fault(kind="queue_delay", seconds=hold + spread * index / batches)
            tasks = [image_task(f"P7 batch {index} row {row}") for row in range(rows)]
            started = time.time()
            hook.submit(tasks).raise_for_errors()
            submitted.append({"uuids": [task["taskUUID"] for task in tasks], "submitted_at": started})
    finally:
        hook.close()
    return submitted


async def wait_and_watch(triggers: list[Any]) -> dict[str, Any]:
    loop_watch = LoopWatch()
    gc_watch = GcWatch()
    events: list[tuple[float, dict[str, Any]]] = []

    async def event_of(trigger: Any) -> None:
        async for event in trigger.run():
            events.append((time.time(), dict(event.payload)))
            return

    # Counting the tracked objects walks them all: done before the ticker starts, so it is no lag.
    gc_watch.start()
    await loop_watch.start()  # after QUIET s without triggers: the lag a busy machine alone causes
    loads = [load_average()]
    try:
        async with asyncio.timeout(MAX_WAIT):
            await asyncio.gather(*(event_of(trigger) for trigger in triggers))
    finally:
        loop_watch.stop()
        gc_watch.stop()
    loads.append(load_average())
    return {"loop_watch": loop_watch, "gc_watch": gc_watch, "events": events, "load": loads}


def one_run(handle: Any, batches: int, rows: int, hold: float, spread: float) -> dict[str, Any]:
    warm_up(handle)
    handle.reset()
    submitted = submit_batches(handle, batches, rows, hold, spread)
    gc.collect()
    baseline = psutil.Process().memory_info().rss
    triggers = [
        make_trigger(batch["uuids"], submitted_at=batch["submitted_at"], wait_seconds=hold + spread + 600)
        for batch in submitted
    ]
    watched = asyncio.run(wait_and_watch(triggers))
    statuses = [payload["status"] for _, payload in watched["events"]]
    if statuses != ["success"] * batches:
        raise RuntimeError(f"not every batch succeeded: {statuses}")
    generated = {
        e["taskUUID"]: e["at"] for e in handle.requests("generation") if e.get("status") == "success"
    }
    wake_ups = [at - max(generated[u] for u in payload["task_uuids"]) for at, payload in watched["events"]]
    loop_watch: LoopWatch = watched["loop_watch"]
    figures = loop_watch.figures(baseline)
    uuids = {u for batch in submitted for u in batch["uuids"]}
    polls = [
        e
        for e in handle.requests("api", "getResponse")
        if e["taskUUID"] in uuids and e["at"] >= figures["started"]
    ]
    return {
        "images": batches * rows,
        "baseline_rss_mb": baseline / MB,
        **figures,
        "poll_posts_per_window": posts_per_window(polls, uuids, figures["started"], figures["ended"]),
        "poll_posts": len({e["post"] for e in polls}),
        "wake_up_seconds": wake_ups,
        "gc": watched["gc_watch"].summary(since=figures["started"]),
        "load_average": watched["load"],
    }


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batches", type=int, default=BATCHES, help=f"batch tasks ({BATCHES})")
    parser.add_argument("--rows", type=int, default=ROWS, help=f"rows (images) per batch ({ROWS})")
    parser.add_argument("--hold", type=float, default=None, help=f"queue time of the first batch ({HOLD})")
    parser.add_argument(
        "--spread", type=float, default=None, help=f"more for the last ({SPREAD}; quick {QUICK_SPREAD})"
    )
    parser.add_argument(
        "--load", type=int, default=0, help="CPU-spinning processes beside it, as on a shared machine (0)"
    )


def main() -> None:
    args = arguments(__doc__ or "", default_reps=1, extra=options)
    hold = args.hold or (30.0 if args.quick else HOLD)
    if args.spread is None:
        args.spread = QUICK_SPREAD if args.quick else SPREAD
    airflow_sandbox()
    with emulator() as handle, cpu_burners(args.load):
        runs = [one_run(handle, args.batches, args.rows, hold, args.spread) for _ in range(args.reps)]
    images = args.batches * args.rows
    rows = [
        Row(
            "P7",
            f"{images:,} waiting images ({args.batches} batch triggers of {args.rows}), one event loop: "
            "extra RSS (peak)",
            300.0,
            [run["extra_rss_mb"] for run in runs],
            unit="MB",
            judged="max",
        ),
        Row(
            "P7",
            f"{images:,} waiting images: getResponse POSTs per 10 s window",
            120.0,
            [count for run in runs for count in run["poll_posts_per_window"]],
            unit="POSTs",
            judged="max",
            note="every consecutive whole 10 s window from the triggers' start until the last event",
        ),
        Row(
            "P7",
            f"{images:,} waiting images: event-loop lag, worst per 10 s window",
            0.25,
            [lag for run in runs for lag in run["max_lag_per_window"]],
            unit="s",
            judged="max",
            note="50 ms ticker, lateness of each wake-up, triggers' start-up included",
        ),
        Row(
            "P7",
            f"{images:,} waiting images: success event after the emulator generated a batch's last image",
            20.0,
            [delay for run in runs for delay in run["wake_up_seconds"]],
            unit="s",
            judged="max",
            note="one value per batch trigger",
        ),
    ]
    report(args, rows, {"runs": runs})
    for run in runs:
        full = run["gc"]["generations"]["2"]
        print(
            f"     baseline RSS {run['baseline_rss_mb']:.0f} MB; {run['poll_posts']} getResponse POSTs in "
            f"{run['watched_seconds']:.0f} s; median lag {run['median_lag'] * 1000:.0f} ms, worst "
            f"{run['max_lag']:.2f} s (worst {run['quiet_max_lag'] * 1000:.0f} ms in {QUIET:.0f} s without "
            f"triggers); median wake-up {statistics.median(run['wake_up_seconds']):.1f} s; load average "
            f"{run['load_average'][0]:.1f}-{run['load_average'][1]:.1f} ({args.load} CPU burners)"
        )
        print(
            f"     garbage collections: {full['count']} full (gen 2), longest {full['max_seconds']:.2f} s; "
            + "; ".join(
                f"gen {g}: {run['gc']['generations'][g]['count']} x, longest "
                f"{run['gc']['generations'][g]['max_seconds'] * 1000:.0f} ms"
                for g in ("0", "1")
            )
            + f"; objects tracked {run['gc']['tracked_at_start']:,} at the triggers' start, "
            f"{run['gc']['tracked_at_end']:,} at the end"
        )
        print(
            f"     stalls over 0.1 s (s after start, lag): {run['stalls']}; gen 2 pauses (s after start, "
            f"length): {full['pauses']}"
        )


if __name__ == "__main__":
    main()
