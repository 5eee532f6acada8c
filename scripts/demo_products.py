"""`make demo-products`: the product campaign with its human review step, unattended.

Starts the Runware emulator, a moto S3 server and real Airflow services (api-server, scheduler,
triggerer, dag-processor; the tests' harness) on free loopback ports, uploads the three product photos
of ``example_dags/data/products/`` to the bucket, triggers ``runware_product_campaign``, and when its
review step asks for a decision answers it as a reviewer does, in a browser: headless Chromium driven
by Playwright signs in on Airflow's login page, opens the review (each candidate's thumbnail beside its
prompt, model and cost), approves two candidates and rejects one. After the run it opens the run's
gallery. It leaves in ``demo-output/products/`` the published images, their ``manifest.json``, a
contact sheet of every step and ``screenshots/`` (the review with its thumbnails, the choice, the
gallery), and prints a summary. Every process it starts is stopped on the way out.

``--screenshots DIR`` also copies the screenshots to ``DIR`` (``docs/screenshots`` for the README's).

The editing model is Seedream 4.0 (``bytedance:5@0``) unless ``RUNWARE_DEMO_EDIT_MODEL`` names another;
a model the catalog marks retired is replayed on the emulator on the day before its retirement.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import secrets
import shutil
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' service harness, as run_chaos.py and benchmarks use it

from airflow_browser import chromium  # noqa: E402
from airflow_services import AirflowServices, airflow_services  # noqa: E402
from emulator_handle import running_emulator  # noqa: E402
from product_campaign import (  # noqa: E402
    DAG_FILE,
    DAG_ID,
    PHOTOS,
    REVIEW_TASK,
    REVIEWER,
    AirflowRest,
    aws_connection,
    campaign_conf,
    published_objects,
    reviewer_env,
    split_s3,
    upload_photos,
    wait_until_parked,
)
from review_screenshots import ReviewerBrowser, gallery_url  # noqa: E402
from servers import serving  # noqa: E402

from airflow_provider_runware.catalog.image_models import get_model_spec  # noqa: E402

OUTPUT = ROOT / "demo-output" / "products"
WORK = ROOT / ".demo-products"
BUCKET = "runware-demo"
STORAGE_CONN_ID = "aws_default"
EDITING_MODEL = "bytedance:5@0"
APPROVE = ["mug", "lamp"]
API_KEY = "demo-key"
# The reviewer account exists only for this run (the simple auth manager reads it from a file).
REVIEWER_PASSWORD = secrets.token_urlsafe(12)
# moto accepts any credentials; these only have to be the same in the client and the connection.
AWS_KEY, AWS_SECRET = "demo", "demo-secret"
RUN_TIMEOUT = 600.0


def log(message: str) -> None:
    print(f"[demo-products] {message}", flush=True)


def emulator_today(model: str) -> str | None:
    """The day before the model's retirement if the catalog marks it retired (else the real date)."""
    lifecycle = get_model_spec(model).lifecycle
    if lifecycle.retired() and lifecycle.deactivation_date is not None:
        return date.fromordinal(lifecycle.deactivation_date.toordinal() - 1).isoformat()
    return None


class Progress:
    """Prints each task instance's state once it changes (read from the metadata DB)."""

    def __init__(self, services: AirflowServices) -> None:
        self.services = services
        self.seen: dict[tuple[str, int], str] = {}

    def __call__(self) -> None:
        rows = self.services.query(
            "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = :dag_id", dag_id=DAG_ID
        )
        for task_id, map_index, state in rows:
            key = (str(task_id), int(map_index))
            if state and self.seen.get(key) != state:
                self.seen[key] = str(state)
                name = task_id if map_index < 0 else f"{task_id}[{map_index}]"
                print(f"   {name:<22} {state}", flush=True)


def read_s3(s3_client: Any, uri: str) -> bytes:
    bucket, key = split_s3(uri)
    body: bytes = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


def contact_sheet(rows: list[dict[str, Any]], path: Path) -> None:
    """One row per product: photo → cut-out → scene → upscaled, and whether it was published."""
    from PIL import Image, ImageDraw

    cell, label_height = 200, 22
    steps = ["photo", "cut-out", "scene", "upscaled"]
    sheet = Image.new("RGB", (len(steps) * cell + 160, len(rows) * (cell + label_height) + 24), "white")
    draw = ImageDraw.Draw(sheet)
    for column, step in enumerate(steps):
        draw.text((column * cell + 8, 6), step, fill="black")
    for position, row in enumerate(rows):
        y = 24 + position * (cell + label_height)
        for column, step in enumerate(steps):
            image = Image.open(io.BytesIO(row[step])).convert("RGBA")
            image.thumbnail((cell - 10, cell - 10))
            backdrop = Image.new("RGBA", image.size, (225, 225, 225, 255))  # shows a cut-out's transparency
            sheet.paste(Image.alpha_composite(backdrop, image).convert("RGB"), (column * cell + 5, y + 5))
        verdict, colour = ("PUBLISHED", (20, 120, 40)) if row["approved"] else ("REJECTED", (170, 30, 30))
        draw.text((len(steps) * cell + 8, y + cell // 2 - 14), row["product"], fill="black")
        draw.text((len(steps) * cell + 8, y + cell // 2 + 2), verdict, fill=colour)
        draw.text((5, y + cell), f"${row['cost_usd']:.3f}  {row['size']}", fill="black")
    sheet.save(path)


def run(args: argparse.Namespace) -> dict[str, Any]:
    model = os.environ.get("RUNWARE_DEMO_EDIT_MODEL") or EDITING_MODEL
    today = emulator_today(model)
    log(
        f"Editing model: {model} ({get_model_spec(model).name})"
        + (f"; emulator date {today}" if today else "")
    )
    with contextlib.ExitStack() as stack:
        emulator = stack.enter_context(running_emulator(API_KEY, *(["--today", today] if today else [])))
        log(f"Runware emulator is up ({emulator.base_url})")
        moto = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p"]
        s3_url = stack.enter_context(
            serving("moto", lambda port: [*moto, str(port)], WORK / "moto.log", health="/moto-api/")
        )
        log(f"moto S3 server is up ({s3_url})")
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=s3_url,
            region_name="us-east-1",
            aws_access_key_id=AWS_KEY,
            aws_secret_access_key=AWS_SECRET,
        )
        s3.create_bucket(Bucket=BUCKET)
        photos = upload_photos(s3, BUCKET)
        log(f"Uploaded {len(photos)} product photos to s3://{BUCKET}/products/")
        env = {
            "AIRFLOW_CONN_RUNWARE_DEFAULT": emulator.connection(),
            "AIRFLOW_CONN_AWS_DEFAULT": aws_connection(s3_url, AWS_KEY, AWS_SECRET),
            **reviewer_env(WORK / "auth", REVIEWER_PASSWORD),
        }
        log(f"Starting Airflow (api-server, scheduler, triggerer, dag-processor; logs in {WORK / 'airflow'})")
        services = stack.enter_context(airflow_services(WORK / "airflow", [DAG_FILE], env))
        base_url = f"http://127.0.0.1:{services.port}"
        log(f"Airflow is up: {base_url}")
        conf = {**campaign_conf(BUCKET, STORAGE_CONN_ID), "model": model}
        run_id = services.trigger(DAG_ID, conf)
        log(f"Triggered {DAG_ID} ({run_id})")
        rest = AirflowRest.login(base_url, REVIEWER, REVIEWER_PASSWORD)
        progress = Progress(services)
        request = rest.wait_for_request(DAG_ID, run_id, REVIEW_TASK, RUN_TIMEOUT, on_wait=progress)
        progress()
        map_index = int(request["task_instance"]["map_index"])
        log(f"The review step waits for a person: {request['subject']}")
        for line in request["body"].splitlines():
            if line.startswith("| **"):
                print("   " + re.sub(r"!\[[^]]*\]\([^)]*\)", "[thumbnail]", line), flush=True)
        wait_until_parked(services.home, DAG_ID, run_id, REVIEW_TASK, map_index, RUN_TIMEOUT)
        browser = stack.enter_context(chromium())
        reviewer = ReviewerBrowser(browser, base_url, OUTPUT / "screenshots")
        reviewer.log_in(REVIEWER, REVIEWER_PASSWORD)
        log(f"Signed in as {REVIEWER} on {base_url}/auth/login (headless Chromium, Playwright)")
        answer = reviewer.review(DAG_ID, run_id, REVIEW_TASK, map_index, APPROVE)
        log(
            f"Answered in the review form as {answer['responded_by']['name']}: "
            f"publish {answer['chosen_options']}"
        )
        deadline = time.monotonic() + RUN_TIMEOUT
        state = None
        while time.monotonic() < deadline and state not in ("success", "failed"):
            progress()
            state = services.run_state(DAG_ID, run_id)
            time.sleep(1)
        progress()
        if state != "success":
            raise SystemExit(f"{DAG_ID} ended {state}; logs under {WORK / 'airflow'}")
        thumbnails = reviewer.gallery(DAG_ID, run_id)
        log(f"The run's gallery shows {thumbnails} thumbnails: {gallery_url(base_url, DAG_ID, run_id)}")
        for path in reviewer.taken:
            log(f"Screenshot: {path}")
            if args.screenshots:
                args.screenshots.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, args.screenshots / path.name)
        results = {
            task_id: rest.xcom(DAG_ID, run_id, task_id)
            for task_id in ("remove_background", "restyle_scenes", "upscale", "candidates", "publish")
        }
        links = rest.extra_links(DAG_ID, run_id, "upscale")
        published = published_objects(s3, BUCKET, run_id)
        (OUTPUT / "published").mkdir(parents=True, exist_ok=True)
        for name, data in published.items():
            (OUTPUT / "published" / name).write_bytes(data)
        shutil.copy(OUTPUT / "published" / "manifest.json", OUTPUT / "manifest.json")
        by_row = {
            task: {r.get("row", i): r for i, r in enumerate(results[task])}
            for task in ("remove_background", "restyle_scenes", "upscale")
        }
        photo_bytes = {photo.name: photo.read_bytes() for photo in PHOTOS}
        sheet_rows = []
        for row, candidate in enumerate(results["candidates"]):
            upscaled = by_row["upscale"][row]
            big = read_s3(s3, upscaled["storage_uri"])
            sheet_rows.append(
                {
                    "size": "{}x{}".format(*image_size(big)),
                    "product": candidate["product"],
                    "approved": candidate["option"] in APPROVE,
                    "cost_usd": candidate["cost_usd"],
                    "photo": photo_bytes[f"{candidate['product']}.png"],
                    "cut-out": read_s3(s3, by_row["remove_background"][row]["storage_uri"]),
                    "scene": read_s3(s3, by_row["restyle_scenes"][row]["storage_uri"]),
                    "upscaled": big,
                }
            )
        contact_sheet(sheet_rows, OUTPUT / "contact-sheet.png")
        requests = httpx.get(f"{emulator.root_url}/_emulator/requests", timeout=10).json()
    counts: dict[str, int] = {}
    for entry in requests:
        kind = entry.get("taskType") or entry.get("kind") or "other"
        counts[kind] = counts.get(kind, 0) + 1
    return {
        "run_id": run_id,
        "results": results,
        "links": links,
        "published": published,
        "counts": counts,
        "screenshots": reviewer.taken,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--screenshots", type=Path, help="also copy the screenshots to this folder")
    args = parser.parse_args()
    started = time.monotonic()
    shutil.rmtree(OUTPUT, ignore_errors=True)
    shutil.rmtree(WORK, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    WORK.mkdir(parents=True)
    outcome = run(args)
    results = outcome["results"]
    candidates = results["candidates"]
    approved = [c["option"] for c in candidates if c["option"] in APPROVE]
    rejected = results["publish"]["rejected"]
    total = sum(c["cost_usd"] for c in candidates)
    images = sum(len(results[task]) for task in ("remove_background", "restyle_scenes", "upscale"))
    log("Done.")
    print(
        f"  products:      {len(candidates)} photos -> {images} Runware images (cut-outs, scenes, upscaled)"
    )
    print(f"  reviewed:      approved {approved}, rejected {rejected}")
    print(
        f"  published:     {len(outcome['published']) - 1} images + manifest.json in {OUTPUT / 'published'}"
    )
    print(f"  total cost:    ${total:.4f} (every step of every candidate, rejected ones included)")
    print(f"  manifest:      {OUTPUT / 'manifest.json'}")
    print(f"  contact sheet: {OUTPUT / 'contact-sheet.png'}")
    shots = ", ".join(path.name for path in outcome["screenshots"])
    print(f"  screenshots:   {shots} in {OUTPUT / 'screenshots'}")
    print(f"  stored images: {outcome['links'].get('Stored images')} (the link on upscale; moto has stopped)")
    print(f"  emulator requests: {outcome['counts']}")
    print(f"  wall time:     {time.monotonic() - started:.1f}s")
    (OUTPUT / "summary.json").write_text(
        json.dumps({"approved": approved, "rejected": rejected, "total_cost_usd": round(total, 6)}, indent=2)
    )


if __name__ == "__main__":
    main()
