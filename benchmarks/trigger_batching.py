"""P2b: requests per image when 20 one-image deferred tasks wait in one triggerer.

Twenty one-image tasks are submitted through ``RunwareHook.submit``, one call (one POST) each, as twenty
mapped task instances do, and each starts waiting at once in its own ``RunwareTaskTrigger`` (built as
the operator builds it); all twenty run concurrently in ONE asyncio event loop (one triggerer) until
each has yielded its event. Every image
takes 2 s at the emulator. The emulator's log counts the imageInference and getResponse POSTs that
carried these task UUIDs; a POST that asks about 20 tasks counts once.

The trigger's ``not_before`` is 0 here: the operator's deferral-race margin and its worker-side polls
before deferring are not included (Airflow's scheduling is not what this measures).

Run: ``.venv/bin/python benchmarks/trigger_batching.py [--reps N] [--json PATH]``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from benchlib import (
    Row,
    airflow_sandbox,
    arguments,
    emulator,
    mapped_one_image_tasks,
    posts,
    report,
    set_generation_seconds,
)

TASKS = 20
GENERATION_SECONDS = 2.0


def one_run(handle: Any) -> dict[str, Any]:
    handle.reset()
    set_generation_seconds(handle, GENERATION_SECONDS)
    run = asyncio.run(mapped_one_image_tasks(TASKS, "P2b one-image mapped task"))
    log = handle.requests("api")
    submits = posts(log, ["imageInference"], run.uuids)
    polls = posts(log, ["getResponse"], run.uuids)
    return {
        "posts_per_image": len(submits | polls) / TASKS,
        "submit_posts": len(submits),
        "poll_posts": len(polls),
        "seconds_to_last_event": run.last_event - run.started,
    }


def main() -> None:
    args = arguments(__doc__ or "", default_reps=3)
    airflow_sandbox()
    with emulator() as handle:
        runs = [one_run(handle) for _ in range(args.reps)]
    rows = [
        Row(
            "P2b",
            f"POSTs per image, {TASKS} one-image triggers in one loop ({GENERATION_SECONDS:.0f} s images)",
            1.3,
            [run["posts_per_image"] for run in runs],
            judged="max",
            note="imageInference + getResponse POSTs from the emulator log, divided by 20 images",
        )
    ]
    report(args, rows, {"runs": runs, "tasks": TASKS, "generation_seconds": GENERATION_SECONDS})
    for run in runs:
        print(
            f"     {run['submit_posts']} submit + {run['poll_posts']} getResponse POSTs; last event after "
            f"{run['seconds_to_last_event']:.2f} s"
        )


if __name__ == "__main__":
    main()
