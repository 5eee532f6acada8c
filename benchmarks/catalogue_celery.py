"""P8: the catalogue example end to end on CeleryExecutor with two workers vs a plain runware-sdk script.

Both sides generate and keep one image per catalogue row (``example_dags/data/catalogue.csv``) against
one emulator, every image taking ``--generation-seconds`` (30 s: long enough that the figure is the
orchestration's overhead on top of Runware's own time, not the machine's cost of starting tasks, and
about what a large image on a busy model takes). Order: the SDK script first, then the DAG, the
emulator reset between them.

- **Airflow**: ``example_dags/runware_catalogue_batches.py`` as shipped, triggered with ``rows``,
  ``chunk_size``, 256x256 DALL·E 2 and an S3 bucket (moto), on the distributed chaos campaign's
  deployment (``tests/chaos``: PostgreSQL, Redis, two ``airflow celery worker``s, two triggerers,
  api-server, scheduler, dag-processor). ``default_pool`` has ``--slots`` slots *including deferred
  tasks*, so at most ``slots`` chunk task instances (``slots x chunk_size`` images) are in flight.
  Wall time is the DAG run's own, queued to finished (metadata DB).
- **SDK**: ``benchmarks/sdk_catalogue.py`` in ``.venv-sdk``: one ``client.run`` per row behind an
  ``asyncio.Semaphore(slots x chunk_size)`` (the same number of images in flight), each image then
  downloaded and written to disk. Wall time from creating the client to the last image written.

Requests: every POST the emulator logged during each side's run. Every row must be generated exactly
once on each side, or nothing is reported.

Run: ``.venv/bin/python benchmarks/catalogue_celery.py [--quick] [--rows N] [--json PATH]``
(needs ``make install``, ``make postgres-server`` and ``make redis-server``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from benchlib import REPO, SDK_PYTHON, Row, airflow_sandbox, arguments, emulator, posts, report

# The distributed campaign's deployment is reused as it is: its helpers live with the chaos tests.
if str(REPO / "tests" / "chaos") not in sys.path:
    sys.path.insert(0, str(REPO / "tests" / "chaos"))

DAG_FILE = REPO / "example_dags" / "runware_catalogue_batches.py"
CATALOGUE = REPO / "example_dags" / "data" / "catalogue.csv"
DAG_ID = "runware_catalogue_batches"
SDK_SCRIPT = Path(__file__).resolve().parent / "sdk_catalogue.py"
BUCKET = "runware-bench-p8"
AWS_SECRET = "bench-aws-secret"
SIZE = 256
WORKER_CONCURRENCY = 4


def all_posts(handle: Any) -> int:
    """Every POST of this run, whatever it carried (the emulator was reset just before)."""
    log = handle.requests("api")
    return len(posts(log, task_types={entry.get("taskType") for entry in log}))


def generated_once(handle: Any, rows: int, side: str) -> None:
    generated = handle.requests("generation")
    if len(generated) != rows:
        raise RuntimeError(f"{side}: {len(generated)} images generated for {rows} rows")


def sdk_run(handle: Any, rows: int, in_flight: int, workdir: Path) -> dict[str, Any]:
    handle.reset()
    out_dir = workdir / "sdk-images"
    out_dir.mkdir()
    arguments_ = [handle.base_url, handle.api_key, str(CATALOGUE), str(rows), str(in_flight)]
    completed = subprocess.run(
        [str(SDK_PYTHON), str(SDK_SCRIPT), *arguments_, str(SIZE), str(SIZE), str(out_dir)],
        capture_output=True,
        text=True,
        timeout=7200,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the SDK run failed: {completed.stderr[-2000:]}")
    result = json.loads(completed.stdout)
    generated_once(handle, rows, "SDK")
    stored = len(list(out_dir.iterdir()))
    if stored != rows:
        raise RuntimeError(f"SDK: {stored} images written for {rows} rows")
    return {"wall": result["wall"], "posts": all_posts(handle), "stored": stored}


@contextmanager
def celery_deployment(handle: Any, workdir: Path, slots: int) -> Iterator[tuple[Any, Any]]:
    """PostgreSQL, Redis, moto and Airflow on CeleryExecutor (the distributed campaign's components)."""
    import boto3
    from airflow_services import airflow_services
    from chaos_distributed import distributed_components
    from chaos_postgres import running_postgres
    from chaos_redis import running_redis
    from servers import serving

    logs = workdir / "servers"
    logs.mkdir()
    moto = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p"]
    with (
        running_postgres(logs / "postgres.log") as postgres,
        running_redis(logs / "redis.log") as redis,
        serving("moto server", lambda port: [*moto, str(port)], logs / "moto.log", health="/moto-api/") as s3,
    ):
        client = boto3.client(
            "s3",
            endpoint_url=s3,
            region_name="us-east-1",
            aws_access_key_id="bench-access-key",
            aws_secret_access_key=AWS_SECRET,
        )
        client.create_bucket(Bucket=BUCKET)
        aws = {
            "conn_type": "aws",
            "login": "bench-access-key",
            "password": AWS_SECRET,
            "extra": {"endpoint_url": s3, "region_name": "us-east-1"},
        }
        env = {
            "AIRFLOW_CONN_RUNWARE_DEFAULT": handle.connection(),
            "AIRFLOW_CONN_AWS_BENCH": json.dumps(aws),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "32",
            "AIRFLOW__CELERY__BROKER_URL": redis.url,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{postgres.url}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
        }
        components = distributed_components(WORKER_CONCURRENCY)
        with airflow_services(
            workdir / "airflow-home", [DAG_FILE], env, database_url=postgres.url, components=components
        ) as services:
            # The DAG reads its catalogue next to its file; the dag-processor does not need it.
            shutil.copytree(CATALOGUE.parent, services.home / "dags" / "data", dirs_exist_ok=True)
            pool = services.airflow(
                "pools", "set", "default_pool", str(slots), "P8: chunks in flight", "--include-deferred"
            )
            if pool.returncode != 0:
                raise RuntimeError(f"could not size default_pool: {pool.stderr[-2000:]}")
            yield services, client


def _when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace(" ", "T"))


def airflow_run(services: Any, s3: Any, handle: Any, rows: int, chunk_size: int) -> dict[str, Any]:
    handle.reset()
    conf = {
        "rows": rows,
        "chunk_size": chunk_size,
        "model": "openai:2@2",
        "width": SIZE,
        "height": SIZE,
        "output_location": f"s3://{BUCKET}/catalogue/",
        "storage_conn_id": "aws_bench",
    }
    state = services.trigger_and_wait(DAG_ID, conf, timeout=7200.0)
    [(queued, ended)] = services.query(
        "SELECT queued_at, end_date FROM dag_run WHERE dag_id = :dag_id", dag_id=DAG_ID
    )
    if state != "success":
        raise RuntimeError(f"the catalogue DAG run ended {state}; see {services.home}")
    generated_once(handle, rows, "Airflow")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    stored = sum(len(page.get("Contents", [])) for page in pages)
    if stored != rows:
        raise RuntimeError(f"Airflow: {stored} objects stored for {rows} rows")
    wall = (_when(ended) - _when(queued)).total_seconds()
    # Where the overhead goes: each task instance's queued, start and end times, seconds from the run's.
    tasks = services.query(
        "SELECT task_id, map_index, queued_dttm, start_date, end_date, try_number FROM task_instance"
        " WHERE dag_id = :dag_id ORDER BY task_id, map_index",
        dag_id=DAG_ID,
    )
    timeline = [
        {
            "task": f"{task_id}[{map_index}]",
            "try": tries,
            **{
                name: round((_when(at) - _when(queued)).total_seconds(), 1)
                for name, at in (("queued", queued_at), ("start", start), ("end", end))
                if at is not None
            },
        }
        for task_id, map_index, queued_at, start, end, tries in tasks
    ]
    chunks = chunk_timeline(handle.requests(), _when(queued).timestamp())
    return {"wall": wall, "posts": all_posts(handle), "stored": stored, "tasks": timeline, "chunks": chunks}


def chunk_timeline(log: list[dict[str, Any]], origin: float) -> list[dict[str, float]]:
    """The emulator's side of each chunk, seconds from the DAG run's queued time: its imageInference
    POST, its last image generated and uploaded, and the last getResponse POST that asked about it
    (the poll that saw it finished). With the task instances' times this splits a chunk's slot time
    into start, generation, upload, detection and resume."""
    uuids_by_post: dict[int, set[str]] = {}
    for entry in log:
        if entry.get("kind") == "api" and entry.get("taskType") == "imageInference":
            uuids_by_post.setdefault(int(entry["post"]), set()).add(str(entry["taskUUID"]))
    chunks = []
    for post, uuids in sorted(uuids_by_post.items()):

        def last(kind: str, uuids: set[str] = uuids, **match: str) -> float:
            times = [
                e["at"]
                for e in log
                if e.get("kind") == kind
                and e.get("taskUUID") in uuids
                and all(e.get(k) == v for k, v in match.items())
            ]
            return round(max(times) - origin, 1) if times else float("nan")

        submitted = min(e["at"] for e in log if e.get("kind") == "api" and e.get("post") == post)
        chunks.append(
            {
                "post": post,
                "images": len(uuids),
                "submitted": round(submitted - origin, 1),
                "generated": last("generation"),
                "uploaded": last("upload"),
                "last_poll": last("api", taskType="getResponse"),
            }
        )
    return chunks


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=None, help="catalogue rows (2880; quick 400)")
    parser.add_argument("--chunk-size", type=int, default=100, help="rows per task instance (100)")
    parser.add_argument(
        "--slots", type=int, default=None, help="chunk task instances in flight, default_pool (4; quick 2)"
    )
    parser.add_argument("--generation-seconds", type=float, default=30.0, help="per image (30)")


def main() -> None:
    args = arguments(__doc__ or "", default_reps=1, extra=options)
    if not SDK_PYTHON.exists():
        raise SystemExit(f"{SDK_PYTHON} is missing: run `make install` first")
    rows = args.rows or (400 if args.quick else 2880)
    slots = args.slots or (2 if args.quick else 4)
    in_flight = slots * args.chunk_size
    airflow_sandbox()
    label = f"catalogue of {rows} rows, {in_flight} images in flight, CeleryExecutor (2 workers)"
    wall = Row("P8", f"{label} / runware-sdk 1.8.0: wall time", 1.3)
    requests = Row("P8", "  same: requests", 0.4, judged="max")
    raw: dict[str, Any] = {
        "rows": rows,
        "chunk_size": args.chunk_size,
        "slots": slots,
        "images_in_flight": in_flight,
        "generation_seconds": args.generation_seconds,
        "runs": [],
    }
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="runware-bench-p8-") as tmp,
        emulator("--generation-seconds", str(args.generation_seconds)) as handle,
    ):
        for rep in range(args.reps):
            workdir = Path(tmp) / f"rep-{rep}"
            workdir.mkdir()
            sdk = sdk_run(handle, rows, in_flight, workdir)
            with celery_deployment(handle, workdir, slots) as (services, s3):
                flow = airflow_run(services, s3, handle, rows, args.chunk_size)
            raw["runs"].append({"sdk": sdk, "airflow": flow})
            wall.values.append(flow["wall"] / sdk["wall"])
            requests.values.append(flow["posts"] / sdk["posts"])
    raw["seconds"] = time.monotonic() - started
    report(args, [wall, requests], raw)
    for run in raw["runs"]:
        print(
            "     "
            + "; ".join(f"{side}: {r['wall']:.1f} s, {r['posts']} POSTs" for side, r in run.items())
            + f" ({rows} rows, {args.generation_seconds:g} s per image)"
        )


if __name__ == "__main__":
    main()
