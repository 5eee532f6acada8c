"""`make demo-video`: a product photo -> caption -> richer prompt -> scene image -> short product video.

Runs ``example_dags/runware_product_video.py`` with ``airflow dags test`` on the bundled emulator and a
local S3 server (moto), every Runware operator deferring while the emulator works (videos take
``--video-seconds``, 12 s here), then leaves in ``demo-output/video/``: the photo, the scene image, the
MP4, a ``manifest.json`` of every step's record, and a contact sheet (photo, scene, the video's first
and last frames) that shows the video starts on the scene it was given. Emulator only: the real API
would bill a video.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
from demo import ROOT, airflow_env, dags_test, emulator_request_counts, free_port, log, service

OUTPUT = ROOT / "demo-output" / "video"
WORK = ROOT / ".demo-video"
DAG_ID = "runware_product_video"
BUCKET = "runware-demo"
# moto accepts any credentials; these only name the local demo account.
DEMO_KEY, DEMO_SECRET = "demo", "demo-secret"
PHOTO = ROOT / "example_dags" / "data" / "products" / "mug.png"
STEPS = ("caption", "enhance_prompt", "scene_image", "product_video")
VIDEO_SECONDS = 12


def records(env: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Each step's XCom records, read from the run's metadata database."""
    with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, value FROM xcom WHERE dag_id = ? AND key = 'return_value'", (DAG_ID,)
        ).fetchall()
    return {task_id: json.loads(value) for task_id, value in rows}


def download(s3_client: Any, uri: str, target: Path) -> Path:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    target.write_bytes(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())
    return target


def first_and_last_frames(video: Path) -> tuple[Any, Any, int]:
    import av

    with av.open(str(video)) as container:
        frames = [frame.to_image() for frame in container.decode(video=0)]
    return frames[0], frames[-1], len(frames)


def contact_sheet(panels: list[tuple[str, Any]], notes: list[str]) -> Path:
    """The photo, the scene and the video's first and last frames side by side, the texts below."""
    from PIL import Image, ImageDraw

    cell = 320
    text_height = 18 * (2 + sum(len(textwrap.wrap(note, 150)) for note in notes))
    sheet = Image.new("RGB", (cell * len(panels), cell + 30 + text_height), "white")
    draw = ImageDraw.Draw(sheet)
    for position, (label, image) in enumerate(panels):
        thumb = image.convert("RGB")
        thumb.thumbnail((cell - 10, cell - 10))
        sheet.paste(thumb, (position * cell + 5, 5))
        draw.text((position * cell + 5, cell + 5), label, fill="black")
    y = cell + 30
    for note in notes:
        for line in textwrap.wrap(note, 150):
            draw.text((5, y), line, fill="black")
            y += 18
    path = OUTPUT / "contact-sheet.png"
    sheet.save(path)
    return path


def main() -> None:
    import boto3
    from PIL import Image

    started = time.monotonic()
    shutil.rmtree(OUTPUT, ignore_errors=True)
    shutil.rmtree(WORK, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    WORK.mkdir()
    with contextlib.ExitStack() as stack:
        port, s3_port = free_port(), free_port()
        emulator_url = f"http://127.0.0.1:{port}/v1"
        emulator = [sys.executable, "-m", "airflow_provider_runware.emulator", "--host", "127.0.0.1"]
        emulator += ["--port", str(port), "--video-seconds", str(VIDEO_SECONDS)]
        stack.enter_context(
            service(
                emulator, "runware-emulator", emulator_url.removesuffix("/v1") + "/_emulator/faults", WORK
            )
        )
        s3_url = f"http://127.0.0.1:{s3_port}"
        moto = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)]
        stack.enter_context(service(moto, "moto-s3", s3_url, work=WORK))
        s3_client = boto3.client(
            "s3",
            endpoint_url=s3_url,
            region_name="us-east-1",
            aws_access_key_id=DEMO_KEY,
            aws_secret_access_key=DEMO_SECRET,
        )
        s3_client.create_bucket(Bucket=BUCKET)
        s3_client.put_object(Bucket=BUCKET, Key="photos/mug.png", Body=PHOTO.read_bytes())
        log(f"Uploaded the packshot to s3://{BUCKET}/photos/mug.png on the local S3 server")
        env = airflow_env(
            {
                "AIRFLOW_CONN_RUNWARE_DEFAULT": json.dumps(
                    {"conn_type": "runware", "password": "demo-key", "host": emulator_url}
                ),
                "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                    {
                        "conn_type": "aws",
                        "login": DEMO_KEY,
                        "password": DEMO_SECRET,
                        "extra": {"endpoint_url": s3_url, "region_name": "us-east-1"},
                    }
                ),
                # Every Runware step waits in the triggerer, as it would in production.
                "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
            },
            work=WORK,
        )
        conf = {
            "photos_location": f"s3://{BUCKET}/photos/",
            "photo": "mug.png",
            "output_location": f"s3://{BUCKET}/product-video/",
        }
        dags_test(env, DAG_ID, conf, work=WORK)
        results = records(env)
        missing = [step for step in STEPS if not results.get(step)]
        if missing:
            raise SystemExit(f"steps without results: {missing}; see {WORK / 'dags-test.log'}")
        (caption,), (prompt,) = results["caption"], results["enhance_prompt"]
        (scene,), (video,) = results["scene_image"], results["product_video"]
        shutil.copy(PHOTO, OUTPUT / "photo.png")
        scene_file = download(s3_client, scene["storage_uri"], OUTPUT / "scene.jpg")
        video_file = download(s3_client, video["storage_uri"], OUTPUT / "product-video.mp4")
        first, last, frame_count = first_and_last_frames(video_file)
        (OUTPUT / "manifest.json").write_text(json.dumps(results, indent=2))
        sheet = contact_sheet(
            [
                ("1. the photo (s3)", Image.open(PHOTO)),
                ("3. the scene image", Image.open(scene_file)),
                ("4. video: first frame", first),
                (f"4. video: last of {frame_count} frames", last),
            ],
            [f"2a. caption: {caption['text']}", f"2b. enhanced prompt: {prompt['text']}"],
        )
        counts = emulator_request_counts(emulator_url)
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(emulator_url.removesuffix("/v1") + "/_emulator/reset", timeout=5)
    total = sum((records_of[0].get("cost") or 0) for records_of in results.values())
    log("Done.")
    print(f"  caption:         {caption['text']}")
    print(f"  enhanced prompt: {prompt['text']}")
    print(f"  scene image:     {scene['storage_uri']} ({scene_file})")
    print(f"  video:           {video['storage_uri']} ({video_file}, {frame_count} frames)")
    print(f"  contact sheet:   {sheet}")
    print(f"  manifest:        {OUTPUT / 'manifest.json'}")
    print(f"  total cost:      ${total:.4f} (emulator prices)")
    print(f"  emulator requests: {counts}")
    print(f"  wall time:       {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
