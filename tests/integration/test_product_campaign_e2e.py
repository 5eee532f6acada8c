"""The product campaign through real Airflow services, the emulator and moto, reviewed over REST.

``example_dags/runware_product_campaign.py`` runs as deployed (api-server, scheduler, triggerer,
dag-processor): three product photos in the bucket are cut out, restyled, upscaled, and the review step
waits for a person. The test answers it as the reviewer would, through Airflow's REST API, approving
two of the three candidates, then checks what was published, what the reviewer was shown, and that no
presigned signature reached anything Airflow stored or logged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from airflow_lines import requires_airflow
from airflow_services import airflow_services
from emulator_handle import EmulatorHandle
from product_campaign import (
    DAG_FILE,
    DAG_ID,
    REVIEW_TASK,
    REVIEWER,
    AirflowRest,
    aws_connection,
    campaign_conf,
    published_objects,
    reviewer_env,
    signatures_in,
    split_s3,
    upload_photos,
    wait_until_parked,
)

pytestmark = requires_airflow(
    "3.1", why="HITLOperator (Human-in-the-Loop), the product campaign's review step"
)

STORAGE_CONN_ID = "aws_campaign"
AWS_SECRET = "campaign-aws-secret-K3p9"
REVIEWER_PASSWORD = "reviewer-password-5Tq"
APPROVED = ["mug", "lamp"]
REJECTED = ["bottle"]
# Every step is fast on the emulator; this bounds a hung run, it is not a performance claim.
RUN_TIMEOUT = 240.0


def test_reviewer_publishes_exactly_the_approved_scenes(
    runware: EmulatorHandle, moto_server: Any, s3_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    upload_photos(s3_client, s3_bucket)
    home = tmp_path / "airflow"
    env = {
        "AIRFLOW_CONN_RUNWARE_DEFAULT": runware.connection(),
        f"AIRFLOW_CONN_{STORAGE_CONN_ID.upper()}": aws_connection(
            moto_server.endpoint_url, "campaign-access-key", AWS_SECRET
        ),
        **reviewer_env(tmp_path / "auth", REVIEWER_PASSWORD),
    }
    with airflow_services(home, [DAG_FILE], env) as services:
        run_id = services.trigger(DAG_ID, campaign_conf(s3_bucket, STORAGE_CONN_ID))
        rest = AirflowRest.login(f"http://127.0.0.1:{services.port}", REVIEWER, REVIEWER_PASSWORD)
        request = rest.wait_for_request(DAG_ID, run_id, REVIEW_TASK, timeout=RUN_TIMEOUT)
        upscaled = rest.xcom(DAG_ID, run_id, "upscale")
        scenes = rest.xcom(DAG_ID, run_id, "restyle_scenes")
        links = rest.extra_links(DAG_ID, run_id, "upscale")
        thumbnails = _thumbnails_in(request["body"], rest)
        map_index = int(request["task_instance"]["map_index"])
        wait_until_parked(home, DAG_ID, run_id, REVIEW_TASK, map_index, timeout=RUN_TIMEOUT)
        answer = rest.answer(DAG_ID, run_id, REVIEW_TASK, map_index, APPROVED)
        state = services.wait_for_run(DAG_ID, run_id, RUN_TIMEOUT)
        publish_result = rest.xcom(DAG_ID, run_id, "publish")
        hitl_rows = services.query("SELECT subject, body, options, chosen_options FROM hitl_detail")
    # Read only after every component stopped, so the logs are complete.
    texts = services.all_text()

    assert state == "success", f"run ended {state}; see {home}"
    assert answer["responded_by"]["name"] == REVIEWER

    # What the reviewer was shown: every candidate with its prompt, model, cost and storage URI.
    assert sorted(request["options"]) == sorted(APPROVED + REJECTED)
    assert request["multiple"] is True
    body = request["body"]
    assert len(upscaled) == len(scenes) == 3
    for scene, image in zip(sorted(scenes, key=_row), sorted(upscaled, key=_row), strict=True):
        assert scene["positive_prompt"] in body
        assert scene["model"] in body
        assert image["storage_uri"] in body
        assert image["storage_uri"].startswith(f"s3://{s3_bucket}/product-campaign/")
    assert "$" in body, "costs are shown"
    # ... and its picture: a markdown image from the gallery plugin's thumbnail endpoint, served by the
    # api-server from the bucket (Airflow 3.1+ renders markdown images in the form).
    assert sorted(thumbnails) == sorted(APPROVED + REJECTED)
    for size in thumbnails.values():
        assert 0 < max(size) <= 256
    assert links.get("Gallery", "").startswith(f"/runware/runs/{DAG_ID}/")

    # The extra link opens the bucket folder the upscaled images are in (on moto: its listing URL).
    stored_link = links.get("Stored images")
    assert stored_link, f"no 'Stored images' link on upscale: {links}"
    assert not signatures_in({"link": stored_link})
    link = urlsplit(stored_link)
    folder = upscaled[0]["storage_uri"].removeprefix(f"s3://{s3_bucket}/").rsplit("/", 1)[0] + "/"
    assert link.path == f"/{s3_bucket}"
    assert parse_qs(link.query)["prefix"] == [folder]
    listing = httpx.get(stored_link, timeout=30, trust_env=False).raise_for_status().text
    listed = set(re.findall(r"<Key>([^<]+)</Key>", listing))
    assert listed == {split_s3(image["storage_uri"])[1] for image in upscaled}

    # Published: exactly the approved images, byte for byte their upscaled sources, and the manifest.
    published = published_objects(s3_client, s3_bucket, run_id)
    sources = {_product_of(image, scenes): image for image in upscaled}
    expected_names = {f"{product}.{sources[product]['format'].lower()}" for product in APPROVED}
    assert set(published) == expected_names | {"manifest.json"}
    for product in APPROVED:
        bucket, key = split_s3(sources[product]["storage_uri"])
        source = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert published[f"{product}.{sources[product]['format'].lower()}"] == source
    manifest_text = published["manifest.json"].decode()
    manifest = json.loads(manifest_text)
    records = manifest if isinstance(manifest, list) else manifest.get("records") or manifest.get("images")
    assert sorted(record["product"] for record in records) == sorted(APPROVED)
    for record in records:
        source = sources[record["product"]]
        assert record["source_uri"] == source["storage_uri"]
        assert record["model"] == source_scene(scenes, source)["model"]
        assert record["prompt"] == source_scene(scenes, source)["positive_prompt"]
        assert record["cost_usd"] > 0
    for product in REJECTED:
        assert product not in {record["product"] for record in records}
        assert sources[product]["storage_uri"] not in manifest_text
    assert sorted(publish_result["rejected"]) == sorted(REJECTED)

    # No signature anywhere: XComs, rendered fields, task and component logs, the HITL request.
    ((subject, hitl_body, options, chosen),) = hitl_rows
    assert sorted(json.loads(chosen) if isinstance(chosen, str) else chosen) == sorted(APPROVED)
    texts["hitl:subject"] = str(subject)
    texts["hitl:body"] = str(hitl_body)
    texts["hitl:options"] = str(options)
    assert any(key.startswith("xcom:upscale") for key in texts)
    assert any(key.startswith("rendered:") for key in texts)
    assert any("task_id=upscale" in key for key in texts), "task logs were searched"
    assert not signatures_in(texts)
    assert not [where for where, text in texts.items() if AWS_SECRET in text]


def _thumbnails_in(body: str, rest: AirflowRest) -> dict[str, tuple[int, int]]:
    """Each ``![candidate](/runware/.../thumbnail)`` of the review body, fetched as the reviewer's
    browser would (their token): the decoded picture's size per candidate."""
    import io

    from PIL import Image

    sizes = {}
    for name, path in re.findall(r"!\[([^\]]+)\]\((/runware/[^)\s]+/thumbnail)\)", body):
        answer = httpx.get(
            f"{rest.base_url}{path}", headers={"Authorization": f"Bearer {rest.token}"}, timeout=30
        )
        assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:200]}"
        sizes[name] = Image.open(io.BytesIO(answer.content)).size
    return sizes


def _row(record: dict[str, Any]) -> int:
    return int(record.get("row", 0))


def source_scene(scenes: list[dict[str, Any]], upscaled: dict[str, Any]) -> dict[str, Any]:
    """The restyled scene an upscaled image was made from (same request row)."""
    return next(scene for scene in scenes if _row(scene) == _row(upscaled))


def _product_of(upscaled: dict[str, Any], scenes: list[dict[str, Any]]) -> str:
    """Which product an upscaled image shows: its scene's prompt names it."""
    prompt = source_scene(scenes, upscaled)["positive_prompt"]
    return next(name for name in ("mug", "bottle", "lamp") if name in prompt)
