"""P3: how soon a deferred wait notices a finished image: wall time / generation time, one image.

One image is submitted through ``RunwareHook.submit`` and one ``RunwareTaskTrigger`` (``not_before=0``)
runs until its event. Wall time runs from just before the submit POST to the event; generation time is
what the emulator itself logged from accepting the task to finishing the image (2 s or 12 s, scripted
with a queue delay). A ratio of 1.0 would mean the event arrives the instant the image is ready.
Airflow's own scheduling (deferral, resuming the task) is not included.

Run: ``.venv/bin/python benchmarks/wake_up_latency.py [--reps N] [--json PATH]``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchlib import (
    Row,
    airflow_sandbox,
    arguments,
    emulator,
    events_of,
    image_task,
    make_trigger,
    report,
    set_generation_seconds,
)

GENERATION_SECONDS = (2.0, 12.0)


def one_run(handle: Any, generation_seconds: float) -> dict[str, Any]:
    from airflow_provider_runware.hooks.runware import RunwareHook

    handle.reset()
    set_generation_seconds(handle, generation_seconds)
    task = image_task("P3 one image, deferrable")
    hook = RunwareHook()
    try:
        started = time.time()
        hook.submit([task]).raise_for_errors()
    finally:
        hook.close()
    trigger = make_trigger([task["taskUUID"]], submitted_at=started)
    [(event_at, _)] = asyncio.run(events_of([trigger]))
    log = handle.requests()
    [accepted] = [e for e in log if e["kind"] == "api" and e.get("taskType") == "imageInference"]
    [generated] = [e for e in log if e["kind"] == "generation"]
    generation = generated["at"] - accepted["at"]
    wall = event_at - started
    return {"wall": wall, "generation": generation, "ratio": wall / generation, "nominal": generation_seconds}


def main() -> None:
    args = arguments(__doc__ or "", default_reps=3)
    airflow_sandbox()
    runs: dict[float, list[dict[str, Any]]] = {seconds: [] for seconds in GENERATION_SECONDS}
    with emulator() as handle:
        for _ in range(args.reps):
            for seconds in GENERATION_SECONDS:
                runs[seconds].append(one_run(handle, seconds))
    rows = [
        Row(
            "P3",
            f"wall / generation time, one image, submit to trigger event ({seconds:.0f} s image)",
            1.1,
            [run["ratio"] for run in measured],
            note="generation time as the emulator logged it; not_before=0",
        )
        for seconds, measured in runs.items()
    ]
    report(args, rows, {"runs": {str(k): v for k, v in runs.items()}})
    for seconds, measured in runs.items():
        walls = ", ".join(f"{run['wall']:.2f}" for run in measured)
        print(f"     {seconds:.0f} s image: event after {walls} s")


if __name__ == "__main__":
    main()
