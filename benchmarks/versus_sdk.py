"""P5: the same 50 images through the provider and through Runware's official SDK, same emulator.

Every image takes 2 s at the emulator. Each repetition runs, in alternating order, against a freshly
reset emulator:

- **SDK**: ``runware-sdk`` 1.8.0 in its own virtualenv (``benchmarks/sdk_images.py``): 50 concurrent
  ``client.run`` calls, the SDK's own submit-and-poll.
- **provider, mapped**: what 50 mapped one-image deferrable tasks do: 50 ``RunwareHook.submit`` calls
  (one POST each), each followed at once by its own ``RunwareTaskTrigger``, all waiting in one event
  loop (one triggerer).
- **provider, one task**: what one task with 50 images does: one ``RunwareHook.submit`` of all 50, then
  one trigger for the 50 task UUIDs.

Wall time: from creating the client (hook) to the last image (event), imports excluded on both sides.
Requests: every POST the emulator logged during that run. Ratios are provider / SDK of the same
repetition. Triggers use ``not_before=0`` (no Airflow scheduling).

Run: ``.venv/bin/python benchmarks/versus_sdk.py [--reps N] [--json PATH]`` (needs ``make install``
for ``.venv-sdk``).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from benchlib import (
    SDK_PYTHON,
    Row,
    airflow_sandbox,
    arguments,
    emulator,
    events_of,
    image_task,
    make_trigger,
    mapped_one_image_tasks,
    posts,
    report,
    set_generation_seconds,
)

IMAGES = 50
GENERATION_SECONDS = 2.0
SDK_SCRIPT = "sdk_images.py"


def all_posts(handle: Any) -> int:
    """Every POST of this run, whatever it carried (the emulator was reset just before)."""
    log = handle.requests("api")
    return len(posts(log, task_types={entry.get("taskType") for entry in log}))


def fresh(handle: Any) -> None:
    handle.reset()
    set_generation_seconds(handle, GENERATION_SECONDS)


def sdk_run(handle: Any) -> dict[str, Any]:
    fresh(handle)
    script = Path(__file__).resolve().parent / SDK_SCRIPT
    completed = subprocess.run(
        [str(SDK_PYTHON), str(script), handle.base_url, handle.api_key, str(IMAGES), "P5 image"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the SDK run failed: {completed.stderr[-2000:]}")
    result = json.loads(completed.stdout)
    return {"wall": result["wall"], "posts": all_posts(handle)}


def provider_mapped(handle: Any) -> dict[str, Any]:
    fresh(handle)
    run = asyncio.run(mapped_one_image_tasks(IMAGES, "P5 image"))
    return {"wall": run.last_event - run.started, "posts": all_posts(handle)}


def provider_one_task(handle: Any) -> dict[str, Any]:
    from airflow_provider_runware.hooks.runware import RunwareHook

    fresh(handle)
    started = time.time()
    hook = RunwareHook()
    try:
        tasks = [image_task(f"P5 image #{index}") for index in range(IMAGES)]
        hook.submit(tasks).raise_for_errors()
    finally:
        hook.close()
    trigger = make_trigger([task["taskUUID"] for task in tasks], submitted_at=started)
    [(event_at, payload)] = asyncio.run(events_of([trigger]))
    assert len(payload["results"]) == IMAGES, payload["message"]
    return {"wall": event_at - started, "posts": all_posts(handle)}


def main() -> None:
    args = arguments(__doc__ or "", default_reps=3)
    if not SDK_PYTHON.exists():
        raise SystemExit(f"{SDK_PYTHON} is missing: run `make install` first")
    airflow_sandbox()
    runs = []
    with emulator() as handle:
        provider_one_task(handle)  # warm-up: imports and the connection lookup are not timed
        for rep in range(args.reps):
            order = [sdk_run, provider_mapped, provider_one_task]
            if rep % 2:
                order.reverse()
            runs.append({run.__name__: run(handle) for run in order})
    rows = []
    for variant, label in (
        ("provider_mapped", "50 mapped one-image tasks"),
        ("provider_one_task", "one task"),
    ):
        rows += [
            Row(
                "P5",
                f"50 images, provider ({label}) / runware-sdk 1.8.0: wall time",
                1.0,
                [run[variant]["wall"] / run["sdk_run"]["wall"] for run in runs],
            ),
            Row(
                "P5",
                f"50 images, provider ({label}) / runware-sdk 1.8.0: requests",
                0.4,
                [run[variant]["posts"] / run["sdk_run"]["posts"] for run in runs],
                judged="max",
            ),
        ]
    report(args, rows, {"runs": runs, "images": IMAGES, "generation_seconds": GENERATION_SECONDS})
    for run in runs:
        print(
            "     " + "; ".join(f"{name}: {r['wall']:.2f} s, {r['posts']} POSTs" for name, r in run.items())
        )


if __name__ == "__main__":
    main()
