"""`make demo`: the campaign DAG end to end, on the bundled emulator and a local S3 server.

Starts the Runware emulator and a moto S3 server on free loopback ports, points Airflow connections at
them, runs ``airflow dags test runware_marketing_assets`` with a throwaway AIRFLOW_HOME, then copies
the stored images into ``demo-output/`` with a manifest and a contact sheet. Then it starts an Airflow
api-server on the run's metadata DB and prints the URL of the run's gallery (the provider's plugin)
once that page and a thumbnail answer. Every process it starts is stopped on the way out; with
``--serve`` (``make demo DEMO_ARGS=--serve``) the api-server, the emulator and the S3 server stay up on
http://localhost:8080 until Ctrl-C, so the gallery can be opened in a browser (no login: the simple auth
manager's all-admins mode, for this throwaway Airflow only).

The model is the catalog's default (live on Runware, priced at every size it accepts) unless
``RUNWARE_DEMO_MODEL`` names another AIR id; the demo says which model it used and why, and picks two
sizes that model documents. ``RUNWARE_DEMO_MODEL=openai:2@2`` replays the seed model, DALL·E 2: it is
retired on the live API since 2026-05-12, so the emulator is started on a date before that.

With ``RUNWARE_API_KEY`` set it talks to the real Runware API instead. Runware's servers cannot reach
a bucket on this machine, so images then go to ``RUNWARE_DEMO_OUTPUT`` (a real ``s3://`` location,
credentials from the usual AWS environment) or, without it, the demo downloads the image URLs itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from airflow_provider_runware.catalog.image_models import DEFAULT_MODEL, get_model_spec
from airflow_provider_runware.catalog.modelspec import ModelSpec

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "demo-output"
WORK = ROOT / ".demo"
DAG_ID = "runware_marketing_assets"
BUCKET = "runware-demo"
PREFIX = "campaigns/"
PRODUCTS_FILE = ROOT / "example_dags" / "data" / "products.json"
DEFAULT_SIZES = [[1024, 1024], [1408, 768]]
SERVE_PORT = 8080
STRUCTLOG_LINE = re.compile(r"^\S+ \[(?P<level>\w+)\s*\] (?P<message>.*?)\s+\[(?P<logger>[\w.]+)\]")
INTERESTING_LOGGERS = ("airflow_provider_runware", "airflow.models.dagrun")


def log(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_or_free(port: int) -> int:
    """``port`` if nothing listens on it, else any free one."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


def wait_until_up(
    url: str, process: subprocess.Popen[bytes], what: str, timeout: float = 60.0, work: Path = WORK
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited early with code {process.returncode}; see {work}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1.0)
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not come up within {timeout:.0f}s")


@contextlib.contextmanager
def service(
    command: list[str], name: str, probe_url: str, work: Path = WORK, timeout: float = 60.0
) -> Iterator[None]:
    """Run ``command`` (logging to ``work``) until the block ends; up once ``probe_url`` answers."""
    log_file = (work / f"{name}.log").open("wb")
    process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_up(probe_url, process, name, timeout=timeout, work=work)
        log(f"{name} is up ({probe_url})")
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log_file.close()


def airflow_env(extra: dict[str, str], work: Path = WORK) -> dict[str, str]:
    home = work / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        **extra,
    }
    return env


def progress_line(line: str) -> str | None:
    """The operator's own log lines (plan, cost, deferral, images) and errors, without the noise."""
    match = STRUCTLOG_LINE.match(line)
    if match is None:
        return "   " + line.rstrip() if line.startswith(("Traceback", "airflow_provider_runware")) else None
    level, message, logger = match["level"], match["message"], match["logger"]
    if message.startswith("XCom not found"):
        return None  # Airflow reads a mapped task's XComs until the first missing one: expected, not a fault
    if level in ("error", "critical") or any(name in logger for name in INTERESTING_LOGGERS):
        if "DagRun Finished" in message:
            message = message.split(", run_start_date")[0]
        return f"   {level:<7} {message[:180]}"
    return None


@dataclass(frozen=True)
class ModelChoice:
    """The model the demo runs, two sizes it documents, why it was chosen, and the emulator's date."""

    spec: ModelSpec
    sizes: list[list[int]]
    why: str
    emulator_today: str | None = None

    @property
    def air_id(self) -> str:
        return self.spec.air_id if self.spec.known else os.environ["RUNWARE_DEMO_MODEL"]


def choose_model(real_api: bool) -> ModelChoice:
    """The catalog default, or ``RUNWARE_DEMO_MODEL``; a retired model is replayed on the emulator
    on a date before its retirement (on the real API it would be refused)."""
    requested = os.environ.get("RUNWARE_DEMO_MODEL")
    if not requested:
        spec = get_model_spec(DEFAULT_MODEL)
        price = spec.price_per_image()
        why = (
            f"the catalog's default: live on Runware and priced at ${price:.3f} for every size it accepts "
            f"({spec.source_url}); set RUNWARE_DEMO_MODEL to try another"
        )
        return ModelChoice(spec, DEFAULT_SIZES, why)
    spec = get_model_spec(requested)
    sizes = demo_sizes(spec)
    why = "chosen with RUNWARE_DEMO_MODEL"
    lifecycle = spec.lifecycle
    if lifecycle.retired() and lifecycle.deactivation_date is not None:
        if real_api:
            raise SystemExit(
                f"{requested} ({spec.name}) is retired on the live API since "
                f"{lifecycle.deactivation_date.isoformat()}; migrate to {lifecycle.replacement}"
            )
        the_day_before = lifecycle.deactivation_date.toordinal() - 1
        today = date.fromordinal(the_day_before).isoformat()
        why += (
            f"; it is retired on the live API since {lifecycle.deactivation_date.isoformat()}, so the "
            f"emulator replays its model page on {today}"
        )
        return ModelChoice(spec, sizes, why, emulator_today=today)
    return ModelChoice(spec, sizes, why)


def demo_sizes(spec: ModelSpec) -> list[list[int]]:
    """The two smallest sizes the model documents (cheapest), else a square 1024."""
    if spec.allowed_sizes:
        return [list(size) for size in sorted(spec.allowed_sizes, key=lambda s: (s[0] * s[1], s))[:2]]
    return [[1024, 1024]]


def run_dag(env: dict[str, str], choice: ModelChoice) -> None:
    dags_test(env, DAG_ID, {"model": choice.air_id, "sizes": choice.sizes})


def dags_test(env: dict[str, str], dag_id: str, conf: dict[str, Any], work: Path = WORK) -> None:
    """``airflow dags test`` on a fresh metadata DB, printing the provider's own log lines as they come
    (the full log goes to ``work``)."""
    airflow = [sys.executable, "-m", "airflow"]
    log("Preparing a throwaway Airflow metadata database")
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    log(f"Running `airflow dags test {dag_id}` (full log: {work / 'dags-test.log'})")
    with (work / "dags-test.log").open("w") as full_log:
        process = subprocess.Popen(
            [*airflow, "dags", "test", dag_id, "--conf", json.dumps(conf)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:
            full_log.write(line)
            progress = progress_line(line)
            if progress:
                print(progress, flush=True)
        if process.wait() != 0:
            raise SystemExit(f"airflow dags test failed; see {work / 'dags-test.log'}")


def manifest_from_xcom(env: dict[str, str]) -> dict[str, Any]:
    """The generate task's results, read from the run's XCom (works whatever the storage)."""
    database = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND task_id = 'generate_images' "
            "AND key = 'return_value' ORDER BY map_index",
            (DAG_ID,),
        ).fetchall()
    images = [image for (value,) in rows for image in json.loads(value)]
    return {
        "images": images,
        "count": len(images),
        "total_cost_usd": round(sum(i.get("cost") or 0 for i in images), 6),
    }


def download_from_s3(manifest: dict[str, Any], storage_conn_id: str) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=storage_conn_id)
    for image in manifest["images"]:
        bucket, key = image["storage_uri"].removeprefix("s3://").split("/", 1)
        target = OUTPUT / "images" / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(hook.get_key(key, bucket_name=bucket).get()["Body"].read())
        image["local_file"] = str(target.relative_to(OUTPUT))


def download_urls(manifest: dict[str, Any]) -> None:
    for image in manifest["images"]:
        target = OUTPUT / "images" / f"{image['task_uuid']}.{image['format'].lower()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(httpx.get(image["image_url"], timeout=60).raise_for_status().content)
        image["local_file"] = str(target.relative_to(OUTPUT))


def product_of(image: dict[str, Any], products: list[str]) -> str:
    """Which product an image shows: the one its prompt names."""
    prompt = str(image.get("positive_prompt") or "")
    return next((name for name in products if name in prompt), "product")


def contact_sheet(manifest: dict[str, Any]) -> Path:
    from PIL import Image, ImageDraw

    products = [product["name"] for product in json.loads(PRODUCTS_FILE.read_text())]
    thumbs = [Image.open(OUTPUT / image["local_file"]).convert("RGB") for image in manifest["images"]]
    cell, columns = 256, 4
    rows = max(1, (len(thumbs) + columns - 1) // columns)
    sheet = Image.new("RGB", (columns * cell, rows * (cell + 24)), "white")
    draw = ImageDraw.Draw(sheet)
    for position, (thumb, image) in enumerate(zip(thumbs, manifest["images"], strict=True)):
        thumb.thumbnail((cell - 8, cell - 8))
        x, y = (position % columns) * cell, (position // columns) * (cell + 24)
        sheet.paste(thumb, (x + 4, y + 4))
        draw.text(
            (x + 4, y + cell),
            f"{product_of(image, products)} {image['width']}x{image['height']} ${image.get('cost') or 0:.3f}",
            fill="black",
        )
    path = OUTPUT / "contact-sheet.png"
    sheet.save(path)
    return path


def run_id_of(env: dict[str, str]) -> str:
    """The run ``airflow dags test`` made (the only one in the throwaway metadata DB)."""
    with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as db:
        (run_id,) = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ?", (DAG_ID,)).fetchone()
    return str(run_id)


def gallery_path(run_id: str) -> str:
    return f"/runware/runs/{DAG_ID}/{quote(run_id, safe='')}/gallery"


def check_gallery(base_url: str, run_id: str) -> tuple[int, int]:
    """The gallery page answers, and so does each of its thumbnails: (results, thumbnails served)."""
    token = httpx.get(f"{base_url}/auth/token", timeout=30).raise_for_status().json()["access_token"]
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        client.get(gallery_path(run_id)).raise_for_status()
        view = client.get(gallery_path(run_id).removesuffix("/gallery") + "/results.json")
        results = [result for task in view.raise_for_status().json()["tasks"] for result in task["results"]]
        served = 0
        for result in results:
            if result.get("thumbnail"):
                thumbnail = client.get(gallery_path(run_id).removesuffix("gallery") + result["thumbnail"])
                served += thumbnail.is_success and thumbnail.headers["content-type"].startswith("image/")
    return len(results), served


@contextlib.contextmanager
def api_server(port: int) -> Iterator[str]:
    """An Airflow api-server (with the provider's plugin) on the demo's metadata DB; its base URL."""
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "airflow", "api-server", "-H", "127.0.0.1", "-p", str(port)]
    with service(command, "airflow-api-server", f"{base_url}/api/v2/monitor/health", timeout=180):
        yield base_url


def emulator_request_counts(base_url: str) -> dict[str, int]:
    entries = httpx.get(base_url.removesuffix("/v1") + "/_emulator/requests", timeout=10).json()
    counts: dict[str, int] = {}
    for entry in entries:
        kind = entry.get("taskType") or entry.get("kind") or "other"
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--serve",
        action="store_true",
        help=f"keep Airflow's api-server (port {SERVE_PORT}), S3 and the emulator up until Ctrl-C",
    )
    args = parser.parse_args()
    started = time.monotonic()
    shutil.rmtree(OUTPUT, ignore_errors=True)
    shutil.rmtree(WORK, ignore_errors=True)
    OUTPUT.mkdir()
    WORK.mkdir()
    real_key = os.environ.get("RUNWARE_API_KEY")
    choice = choose_model(real_api=bool(real_key))
    log(f"Model: {choice.air_id} ({choice.spec.name}), {choice.why}")
    log(f"Sizes: {', '.join(f'{w}x{h}' for w, h in choice.sizes)}")
    with contextlib.ExitStack() as stack:
        env_extra: dict[str, str] = {}
        emulator_url = ""
        if real_key:
            log("RUNWARE_API_KEY is set: using the real Runware API (this costs money)")
            env_extra["AIRFLOW_CONN_RUNWARE_DEFAULT"] = json.dumps(
                {"conn_type": "runware", "password": real_key}
            )
            env_extra["RUNWARE_DEMO_OUTPUT"] = os.environ.get("RUNWARE_DEMO_OUTPUT", "")
        else:
            port = free_port()
            emulator_url = f"http://127.0.0.1:{port}/v1"
            command = [sys.executable, "-m", "airflow_provider_runware.emulator", "--host", "127.0.0.1"]
            if choice.emulator_today:
                command += ["--today", choice.emulator_today]
            stack.enter_context(
                service(
                    [*command, "--port", str(port)],
                    "runware-emulator",
                    emulator_url.removesuffix("/v1") + "/_emulator/faults",
                )
            )
            env_extra["AIRFLOW_CONN_RUNWARE_DEFAULT"] = json.dumps(
                {"conn_type": "runware", "password": "demo-key", "host": emulator_url}
            )
            s3_port = free_port()
            s3_url = f"http://127.0.0.1:{s3_port}"
            moto = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)]
            stack.enter_context(service(moto, "moto-s3", s3_url))
            env_extra["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
                {
                    "conn_type": "aws",
                    "login": "demo",
                    "password": "demo-secret",
                    "extra": {"endpoint_url": s3_url, "region_name": "us-east-1"},
                }
            )
            env_extra["RUNWARE_DEMO_OUTPUT"] = f"s3://{BUCKET}/{PREFIX}"
            httpx.put(f"{s3_url}/{BUCKET}", timeout=10).raise_for_status()
            log(f"Created bucket s3://{BUCKET} on the local S3 server")
        env = airflow_env(env_extra)
        os.environ.update({k: v for k, v in env.items() if k.startswith("AIRFLOW")})
        run_dag(env, choice)
        manifest = manifest_from_xcom(env)
        if env_extra.get("RUNWARE_DEMO_OUTPUT"):
            download_from_s3(manifest, "aws_default")
        else:
            download_urls(manifest)
        (OUTPUT / "manifest.json").write_text(json.dumps(manifest, indent=2))
        sheet = contact_sheet(manifest)
        counts = emulator_request_counts(emulator_url) if emulator_url else {}
        run_id = run_id_of(env)
        # This throwaway Airflow signs every visitor in as admin, so the printed link opens directly.
        os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
        port = port_or_free(SERVE_PORT) if args.serve else free_port()
        log("Starting an Airflow api-server on the run's metadata DB, for the provider's gallery")
        base_url = stack.enter_context(api_server(port))
        results, thumbnails = check_gallery(base_url, run_id)
        gallery = f"http://localhost:{port}{gallery_path(run_id)}"
        elapsed = time.monotonic() - started
        log("Done.")
        print(f"  model:         {choice.air_id} ({choice.spec.name}), {choice.why}")
        print(f"  images:        {manifest['count']} (in {OUTPUT / 'images'})")
        print(f"  total cost:    ${manifest['total_cost_usd']:.4f}")
        print(f"  manifest:      {OUTPUT / 'manifest.json'}")
        print(f"  contact sheet: {sheet}")
        if counts:
            per_image = counts.get("imageInference", 0) / max(manifest["count"], 1)
            print(f"  emulator requests: {counts} ({per_image:.2f} imageInference tasks per image)")
        print(f"  gallery:       {gallery}")
        print(f"                 (checked: {results} results, {thumbnails} thumbnails served)")
        print(f"  wall time:     {elapsed:.1f}s")
        if not args.serve:
            print(
                "  That api-server stops with the demo. To open a run's gallery in a browser, run\n"
                "  `make demo DEMO_ARGS=--serve`: it keeps Airflow's api-server, S3 and the emulator up on\n"
                f"  http://localhost:{SERVE_PORT} until Ctrl-C."
            )
            return
        print("  Serving until Ctrl-C. Sign in and open the gallery in one step (all-admins mode):")
        print(f"    http://localhost:{port}/auth/token/login?next={quote(gallery_path(run_id), safe='')}")
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops everything too
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
