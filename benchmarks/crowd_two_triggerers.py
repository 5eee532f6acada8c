"""P7b: the 10,000 images of P7 split between two triggerers, each a process with its own event loop.

The same 100 batches of 100 one-image tasks as P7 (``crowd_triggers.py``), submitted the same way and
held in the emulator's queue for ``--hold`` s plus up to ``--spread`` s, are waited for by ``--triggerers``
(2) processes, each running its share of the ``RunwareTaskTrigger``s in one asyncio event loop as one
triggerer does, with its own shared poller. Not ``airflow triggerer`` itself: Airflow assigns triggers
to whichever triggerer asks first, so the split here is even (batch ``i`` goes to process ``i % N``), and
no scheduler or API server competes for the CPU. Measured:

- per triggerer: triggers and images held, peak extra RSS (as P7), worst ticker lag per 10 s window,
  getResponse POSTs about its own images, garbage collections;
- together: getResponse POSTs per whole 10 s window (two pollers do not know of each other, so this is
  what Runware sees from one connection), and each batch's success event minus the emulator's log time
  of its last generated image.

Run: ``.venv/bin/python benchmarks/crowd_two_triggerers.py [--triggerers N] [--load N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from benchlib import (
    MB,
    Row,
    airflow_sandbox,
    arguments,
    cpu_burners,
    emulator,
    events_of,
    image_task,
    make_trigger,
    posts_per_window,
    report,
)
from crowd_triggers import (
    BATCHES,
    HOLD,
    MAX_WAIT,
    QUICK_SPREAD,
    ROWS,
    SPREAD,
    submit_batches,
    wait_and_watch,
)

TRIGGERERS = 2
CHILD = "--triggerer-share"


def triggerer(share_path: Path, out_path: Path) -> None:
    """One triggerer's process: wait for its warm-up image (imports, connection, HTTP client paid
    for), then for its share of the batches, and write what it saw."""
    share = json.loads(share_path.read_text())
    warm = share["warm_up"]
    asyncio.run(events_of([make_trigger([warm["uuid"]], submitted_at=warm["submitted_at"], wait_seconds=60)]))
    gc.collect()
    baseline = psutil.Process().memory_info().rss
    batches = share["batches"]
    wait_seconds = share["hold"] + share["spread"] + 600
    triggers = [
        make_trigger(batch["uuids"], submitted_at=batch["submitted_at"], wait_seconds=wait_seconds)
        for batch in batches
    ]
    watched = asyncio.run(wait_and_watch(triggers))
    out_path.write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "triggers": len(batches),
                "images": sum(len(batch["uuids"]) for batch in batches),
                "baseline_rss_mb": baseline / MB,
                **watched["loop_watch"].figures(baseline),
                "events": [
                    (at, payload["status"], payload["task_uuids"]) for at, payload in watched["events"]
                ],
                "gc": watched["gc_watch"].summary(since=watched["loop_watch"].started),
            }
        )
    )


def submit_warm_ups(count: int) -> list[dict[str, Any]]:
    """One image per triggerer, not held: each process waits for its own before measuring."""
    from airflow_provider_runware.hooks.runware import RunwareHook

    hook = RunwareHook()
    try:
        tasks = [image_task(f"P7b warm-up {index}") for index in range(count)]
        submitted_at = time.time()
        hook.submit(tasks).raise_for_errors()
    finally:
        hook.close()
    return [{"uuid": task["taskUUID"], "submitted_at": submitted_at} for task in tasks]


def one_run(handle: Any, args: argparse.Namespace, hold: float) -> dict[str, Any]:
    handle.reset()
    warm_ups = submit_warm_ups(args.triggerers)
    submitted = submit_batches(handle, args.batches, args.rows, hold, args.spread)
    with tempfile.TemporaryDirectory(prefix="runware-p7b-") as tmp:
        processes = []
        for index in range(args.triggerers):
            share = {
                "warm_up": warm_ups[index],
                "batches": submitted[index :: args.triggerers],
                "hold": hold,
                "spread": args.spread,
            }
            share_path, out_path = Path(tmp) / f"share-{index}.json", Path(tmp) / f"out-{index}.json"
            share_path.write_text(json.dumps(share))
            command = [sys.executable, __file__, CHILD, str(share_path), str(out_path)]
            processes.append((subprocess.Popen(command, stdout=subprocess.DEVNULL), out_path))
        for process, _ in processes:
            if process.wait(timeout=MAX_WAIT + 120) != 0:
                raise RuntimeError(f"triggerer process {process.pid} exited with {process.returncode}")
        shares = [json.loads(out_path.read_text()) for _, out_path in processes]
    statuses = [status for share in shares for _, status, _ in share["events"]]
    if statuses != ["success"] * args.batches:
        raise RuntimeError(f"not every batch succeeded: {statuses}")
    generated = {
        e["taskUUID"]: e["at"] for e in handle.requests("generation") if e.get("status") == "success"
    }
    wake_ups = [at - max(generated[u] for u in uuids) for share in shares for at, _, uuids in share["events"]]
    started = min(share["started"] for share in shares)
    ended = max(share["ended"] for share in shares)
    polls = [e for e in handle.requests("api", "getResponse") if e["at"] >= started]
    for index, share in enumerate(shares):
        own = {u for batch in submitted[index :: args.triggerers] for u in batch["uuids"]}
        share["poll_posts"] = len({e["post"] for e in polls if e["taskUUID"] in own})
        share["poll_posts_per_window"] = posts_per_window(polls, own, share["started"], share["ended"])
    uuids = {u for batch in submitted for u in batch["uuids"]}
    return {
        "images": args.batches * args.rows,
        "started": started,
        "ended": ended,
        "triggerers": shares,
        "poll_posts_per_window": posts_per_window(polls, uuids, started, ended),
        "wake_up_seconds": wake_ups,
        "load_average": os.getloadavg()[0],
    }


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--triggerers", type=int, default=TRIGGERERS, help=f"processes ({TRIGGERERS})")
    parser.add_argument("--batches", type=int, default=BATCHES, help=f"batch tasks ({BATCHES})")
    parser.add_argument("--rows", type=int, default=ROWS, help=f"rows (images) per batch ({ROWS})")
    parser.add_argument("--hold", type=float, default=None, help=f"queue time of the first batch ({HOLD})")
    parser.add_argument(
        "--spread", type=float, default=None, help=f"more for the last ({SPREAD}; quick {QUICK_SPREAD})"
    )
    parser.add_argument("--load", type=int, default=0, help="CPU-spinning processes beside it (0)")


def main() -> None:
    if sys.argv[1:2] == [CHILD]:
        triggerer(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    args = arguments(__doc__ or "", default_reps=1, extra=options)
    hold = args.hold or (30.0 if args.quick else HOLD)
    if args.spread is None:
        args.spread = QUICK_SPREAD if args.quick else SPREAD
    airflow_sandbox()
    with emulator() as handle, cpu_burners(args.load):
        runs = [one_run(handle, args, hold) for _ in range(args.reps)]
    images, n = args.batches * args.rows, args.triggerers
    shares = [share for run in runs for share in run["triggerers"]]
    rows = [
        Row(
            "P7b",
            f"{images:,} waiting images split between {n} triggerers (processes): extra RSS (peak), "
            "each triggerer",
            300.0,
            [share["extra_rss_mb"] for share in shares],
            unit="MB",
            judged="max",
        ),
        Row(
            "P7b",
            f"{images:,} images, {n} triggerers: getResponse POSTs per 10 s window, all triggerers together",
            120.0,
            [count for run in runs for count in run["poll_posts_per_window"]],
            unit="POSTs",
            judged="max",
            note="one shared poller per triggerer; each does not know of the other",
        ),
        Row(
            "P7b",
            f"{images:,} images, {n} triggerers: event-loop lag, worst per 10 s window, each triggerer",
            0.25,
            [lag for share in shares for lag in share["max_lag_per_window"]],
            unit="s",
            judged="max",
        ),
        Row(
            "P7b",
            f"{images:,} images, {n} triggerers: success event after the emulator generated a batch's "
            "last image",
            20.0,
            [delay for run in runs for delay in run["wake_up_seconds"]],
            unit="s",
            judged="max",
        ),
    ]
    report(args, rows, {"runs": runs})
    for run in runs:
        for index, share in enumerate(run["triggerers"]):
            full = share["gc"]["generations"]["2"]
            print(
                f"     triggerer {index + 1}: {share['triggers']} triggers, {share['images']:,} images; "
                f"extra RSS {share['extra_rss_mb']:.0f} MB, {share['poll_posts']} getResponse POSTs (per 10 s"
                f" {share['poll_posts_per_window']}); worst lag {share['max_lag']:.2f} s (median "
                f"{share['median_lag'] * 1000:.0f} ms); {full['count']} full garbage collections, longest "
                f"{full['max_seconds']:.2f} s"
            )
        print(
            f"     together: getResponse POSTs per 10 s {run['poll_posts_per_window']}; median wake-up "
            f"{statistics.median(run['wake_up_seconds']):.1f} s; load average {run['load_average']:.1f} "
            f"({args.load} CPU burners)"
        )


if __name__ == "__main__":
    main()
