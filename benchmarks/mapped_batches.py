"""P6: 500 images as 5 mapped tasks of 100 rows versus 500 mapped one-image tasks, through real Airflow.

Starts the Airflow services as separate processes on loopback (api-server, scheduler with the
LocalExecutor and parallelism 16, triggerer, dag-processor; ``tests/airflow_services.py``)
with the emulator (images take 2 s), and runs ``benchmarks/dags/runware_bench_p6.py``'s two DAGs one
after the other on the same services:

- ``runware_bench_p6_rows``: the operator's batch form, ``.expand(requests=[chunk1, ..., chunk5])``;
- ``runware_bench_p6_single``: ``.partial(...).expand(positive_prompt=[500 prompts])``.

Wall time is the DAG run's own, from queued to finished (Airflow's metadata DB). CPU time is read with
psutil before and after each run: the scheduler's process plus the triggerer's (with its trigger-runner
child), and every Airflow process together (executor workers and task runs are children of the
scheduler; the api-server serves the tasks' execution API). Ratios are rows / single (lower
is better). Every image must be generated exactly once, or nothing is reported.

Run: ``.venv/bin/python benchmarks/mapped_batches.py [--quick] [--images N] [--chunks C] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from benchlib import (
    REPO,
    Row,
    airflow_sandbox,
    arguments,
    emulator,
    report,
    set_generation_seconds,
)

DAG_FILE = REPO / "benchmarks" / "dags" / "runware_bench_p6.py"
ROWS_DAG, SINGLE_DAG = "runware_bench_p6_rows", "runware_bench_p6_single"
GENERATION_SECONDS = 2.0
PARALLELISM = 16


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(this process, this process and every descendant): user + system seconds. Children that already
    exited are in their parent's ``children_*`` times once reaped."""
    root = psutil.Process(pid)
    own = tree = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total = times.user + times.system
        own = total if process.pid == pid else own
        tree += total + times.children_user + times.children_system
    return own, tree


def cpu_snapshot(services: Any) -> dict[str, tuple[float, float]]:
    return {name: cpu_seconds(spawned.process.pid) for name, spawned in services.processes.items()}


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace(" ", "T"))


def run_dag(services: Any, handle: Any, dag_id: str, images: int) -> dict[str, Any]:
    handle.reset()
    set_generation_seconds(handle, GENERATION_SECONDS)
    before = cpu_snapshot(services)
    state = services.trigger_and_wait(dag_id, {}, timeout=3600.0)
    after = cpu_snapshot(services)
    [(queued, started, ended)] = services.query(
        "SELECT queued_at, start_date, end_date FROM dag_run WHERE dag_id = ?", dag_id
    )
    states = services.query(
        "SELECT state, COUNT(*) FROM task_instance WHERE dag_id = ? GROUP BY state", dag_id
    )
    generated = len(handle.requests("generation"))
    if state != "success" or generated != images:
        raise RuntimeError(f"{dag_id}: run {state}, task states {states}, {generated} of {images} images")
    cpu = {name: (after[name][0] - before[name][0], after[name][1] - before[name][1]) for name in before}
    return {
        "wall": (_when(ended) - _when(queued)).total_seconds(),
        "run_seconds": (_when(ended) - _when(started)).total_seconds(),
        "task_states": dict(states),
        "images": generated,
        "cpu_own": {name: own for name, (own, _) in cpu.items()},
        "cpu_tree": {name: tree for name, (_, tree) in cpu.items()},
        # The scheduler's own process (its executor workers run the tasks: they are in all_services_cpu)
        # and the triggerer with its trigger-runner child process.
        "scheduling_cpu": cpu["scheduler"][0] + cpu["triggerer"][1],
        "all_services_cpu": sum(tree for _, tree in cpu.values()),
    }


def measure(images: int, chunks: int, dags: list[str]) -> dict[str, Any]:
    from airflow_services import airflow_services

    runs: dict[str, Any] = {}
    with emulator() as handle, tempfile.TemporaryDirectory(prefix="runware-bench-p6-") as tmp:
        env = {
            "AIRFLOW_CONN_RUNWARE_DEFAULT": handle.connection(),
            "RUNWARE_BENCH_P6_IMAGES": str(images),
            "RUNWARE_BENCH_P6_CHUNKS": str(chunks),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__FERNET_KEY": "n1O-SuTTvN3xIYVUKlJuCn3D_mvI8tUZYUYzD0ekBfg=",
            # Airflow's own default per-DAG limit (max_active_tasks_per_dag); the tests' harness uses 4.
            "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
        }
        started = time.monotonic()
        with airflow_services(Path(tmp) / "airflow", [DAG_FILE], env) as services:
            runs["services_up_seconds"] = time.monotonic() - started
            for dag_id in dags:
                runs[dag_id] = run_dag(services, handle, dag_id, images)
    return runs


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=int, default=None, help="images in all (500; quick 100)")
    parser.add_argument("--chunks", type=int, default=5, help="mapped chunks of rows (5)")


def main() -> None:
    args = arguments(__doc__ or "", default_reps=1, extra=options)
    images = args.images or (100 if args.quick else 500)
    airflow_sandbox()
    label = (
        f"{images} images: {args.chunks} mapped tasks of {-(-images // args.chunks)} rows / {images} mapped"
    )
    wall = Row("P6", f"{label} one-image tasks: wall time", 0.2, note="goal: chunked at least 5x faster")
    cpu = Row(
        "P6",
        "  same: scheduler + triggerer CPU time",
        None,
        note="no goal set in issue 9; scheduler process, triggerer with its trigger-runner child",
    )
    cpu_all = Row(
        "P6",
        "  same: CPU time of every Airflow process (executor workers, task runs, api-server too)",
        None,
        note="no goal set in issue 9",
    )
    rows = [wall, cpu, cpu_all]
    raw: dict[str, Any] = {"images": images, "chunks": args.chunks, "generation_seconds": GENERATION_SECONDS}
    raw["runs"] = [measure(images, args.chunks, [ROWS_DAG, SINGLE_DAG]) for _ in range(args.reps)]
    for run in raw["runs"]:
        wall.values.append(run[ROWS_DAG]["wall"] / run[SINGLE_DAG]["wall"])
        cpu.values.append(run[ROWS_DAG]["scheduling_cpu"] / run[SINGLE_DAG]["scheduling_cpu"])
        cpu_all.values.append(run[ROWS_DAG]["all_services_cpu"] / run[SINGLE_DAG]["all_services_cpu"])
    report(args, rows, raw)
    for run in raw.get("runs", []):
        for dag_id in (ROWS_DAG, SINGLE_DAG):
            if dag_id in run:
                measured = run[dag_id]
                print(
                    f"     {dag_id}: {measured['wall']:.1f} s wall, scheduler+triggerer "
                    f"{measured['scheduling_cpu']:.1f} CPU-s, "
                    f"all Airflow processes {measured['all_services_cpu']:.1f} CPU-s"
                )


if __name__ == "__main__":
    main()
