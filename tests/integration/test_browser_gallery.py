"""The run's images in Airflow, seen in a real browser: Debian's Chromium driven by Playwright.

One product campaign (``example_dags/runware_product_campaign.py``) runs on real Airflow services
(api-server with the provider's plugin, scheduler, triggerer, dag-processor), the emulator and moto, and
stops at its review step; every check below shares that run (a module-scoped fixture: one service
start). Each user signs in through Airflow's own login page. The checks: the run's gallery shows a
decoded thumbnail for every stored image, with the run's total cost; the review shows each candidate's
thumbnail and is answered from the page, after which the run publishes exactly the chosen candidates;
a user who may not read the DAG gets 403 from the image endpoint (an anonymous browser 401); and no
page, nor any URL the browser requested or was redirected to, carries a presigned signature.

This is the campaign's only run on real services in the suite (one run costs about two minutes of
``make test``), so it also checks what the review form is built from over the REST API (each candidate's
prompt, model, cost, storage URI and picture), the extra links, what was published (byte for byte, with
its manifest), and that no signature or storage secret reached anything Airflow stored or logged.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from airflow_browser import (
    Traffic,
    chromium,
    hitl_form_path,
    images_state,
    log_in,
    new_page,
    open_gallery_tab,
    pick_in_hitl_form,
    respond_in_hitl_form,
    run_page_path,
    signatures_in_page,
)
from airflow_lines import requires_airflow
from airflow_services import AirflowServices, airflow_services
from emulator_handle import EmulatorHandle
from gallery_auth import DENIED_USER
from product_campaign import (
    DAG_FILE,
    DAG_ID,
    REVIEW_TASK,
    REVIEWER,
    REVIEWER_ROLE,
    AirflowRest,
    aws_connection,
    campaign_conf,
    published_objects,
    signatures_in,
    split_s3,
    upload_photos,
    wait_until_parked,
)

pytestmark = [
    requires_airflow("3.1", why="HITLOperator, the product campaign's review step"),
    # The first test also pays for the shared run up to its review (services start, three steps).
    pytest.mark.timeout(480),
]

STORAGE_CONN_ID = "aws_browser"
AWS_SECRET = "browser-aws-secret-K3p9"
REVIEWER_PASSWORD = "reviewer-browser-7Hd"
# Signs in like the reviewer, with the same role, but the tests' auth manager lets them read no DAG.
OUTSIDER_PASSWORD = "outsider-browser-2Wq"
TESTS = Path(__file__).resolve().parent.parent
CHOSEN = ["mug", "lamp"]
REJECTED = ["bottle"]
# Each step is fast on the emulator; this bounds a hung run, it is not a performance claim.
RUN_TIMEOUT = 240.0
# What the campaign stores: a cut-out, a scene and an upscale per product photo.
STORING_TASKS = ("remove_background", "restyle_scenes", "upscale")


@dataclass
class Campaign:
    """The parked run every check looks at."""

    services: AirflowServices
    base_url: str
    run_id: str
    map_index: int
    rest: AirflowRest
    bucket: str
    # What the review was built from, read over the REST API while the run waited for it.
    request: dict[str, Any]
    scenes: list[dict[str, Any]]
    upscaled: list[dict[str, Any]]
    links: dict[str, str]

    @property
    def run_path(self) -> str:
        """Where the plugin serves this run (its gallery, results and images hang below)."""
        return f"/runware/runs/{DAG_ID}/{quote(self.run_id, safe='')}"

    @property
    def run_url(self) -> str:
        return self.base_url + self.run_path


@pytest.fixture(scope="module")
def campaign(
    emulator: EmulatorHandle, moto_server: Any, s3_client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Campaign]:
    emulator.reset()
    bucket = "runware-browser-campaign"
    s3_client.create_bucket(Bucket=bucket)
    upload_photos(s3_client, bucket)
    work = tmp_path_factory.mktemp("browser")
    env = {
        "AIRFLOW_CONN_RUNWARE_DEFAULT": emulator.connection(),
        f"AIRFLOW_CONN_{STORAGE_CONN_ID.upper()}": aws_connection(
            moto_server.endpoint_url, "browser-key", AWS_SECRET
        ),
        **users_env(work, {REVIEWER: REVIEWER_PASSWORD, DENIED_USER: OUTSIDER_PASSWORD}),
    }
    with airflow_services(work / "airflow", [DAG_FILE], env) as services:
        base_url = f"http://127.0.0.1:{services.port}"
        run_id = services.trigger(DAG_ID, campaign_conf(bucket, STORAGE_CONN_ID))
        rest = AirflowRest.login(base_url, REVIEWER, REVIEWER_PASSWORD)
        request = rest.wait_for_request(DAG_ID, run_id, REVIEW_TASK, timeout=RUN_TIMEOUT)
        map_index = int(request["task_instance"]["map_index"])
        # A person never answers within a second of the review parking; the browser could.
        wait_until_parked(services.home, DAG_ID, run_id, REVIEW_TASK, map_index, timeout=RUN_TIMEOUT)
        yield Campaign(
            services,
            base_url,
            run_id,
            map_index,
            rest,
            bucket,
            request=request,
            scenes=rest.xcom(DAG_ID, run_id, "restyle_scenes"),
            upscaled=rest.xcom(DAG_ID, run_id, "upscale"),
            links=rest.extra_links(DAG_ID, run_id, "upscale"),
        )


def users_env(work: Path, passwords: dict[str, str]) -> dict[str, str]:
    """The simple auth manager's users (all with the reviewer's role) behind the tests' auth manager,
    which refuses every DAG to :data:`DENIED_USER` (``tests/gallery_auth.py``, on the api-server's path)."""
    passwords_file = work / "passwords.json"
    passwords_file.write_text(json.dumps(passwords))
    return {
        "AIRFLOW__CORE__AUTH_MANAGER": "gallery_auth.DenyingAuthManager",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{user}:{REVIEWER_ROLE}" for user in passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
    }


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def test_the_review_names_each_candidate_with_its_prompt_model_cost_and_picture(campaign: Campaign) -> None:
    request = campaign.request
    assert sorted(request["options"]) == sorted(CHOSEN + REJECTED)
    assert request["multiple"] is True
    body = request["body"]
    assert len(campaign.upscaled) == len(campaign.scenes) == 3
    pairs = zip(sorted(campaign.scenes, key=_row), sorted(campaign.upscaled, key=_row), strict=True)
    for scene, image in pairs:
        assert scene["positive_prompt"] in body
        assert scene["model"] in body
        assert image["storage_uri"] in body
        assert image["storage_uri"].startswith(f"s3://{campaign.bucket}/product-campaign/")
    assert "$" in body, "costs are shown"
    # Each picture is a markdown image of the plugin's thumbnail endpoint (Airflow 3.1+ renders them in
    # the form), fetched here with the reviewer's token as their browser would.
    thumbnails = _thumbnails_in(body, campaign.rest)
    assert sorted(thumbnails) == sorted(CHOSEN + REJECTED)
    for size in thumbnails.values():
        assert 0 < max(size) <= 256


def test_the_extra_links_open_the_gallery_and_the_bucket_folder(campaign: Campaign) -> None:
    links, upscaled = campaign.links, campaign.upscaled
    assert links.get("Gallery", "").startswith(f"/runware/runs/{DAG_ID}/")
    # "Stored images" opens the bucket folder the upscaled images are in (on moto: its listing URL).
    stored_link = links.get("Stored images")
    assert stored_link, f"no 'Stored images' link on upscale: {links}"
    assert not signatures_in({"link": stored_link})
    link = urlsplit(stored_link)
    folder = upscaled[0]["storage_uri"].removeprefix(f"s3://{campaign.bucket}/").rsplit("/", 1)[0] + "/"
    assert link.path == f"/{campaign.bucket}"
    assert parse_qs(link.query)["prefix"] == [folder]
    listing = httpx.get(stored_link, timeout=30, trust_env=False).raise_for_status().text
    listed = set(re.findall(r"<Key>([^<]+)</Key>", listing))
    assert listed == {split_s3(image["storage_uri"])[1] for image in upscaled}


def test_review_shows_thumbnails_and_is_answered_from_the_page(
    campaign: Campaign, browser: Any, s3_client: Any
) -> None:
    traffic = Traffic()
    page = new_page(browser, traffic)
    form = hitl_form_path(DAG_ID, campaign.run_id, REVIEW_TASK, campaign.map_index)
    log_in(page, campaign.base_url, REVIEWER, REVIEWER_PASSWORD, then=form)
    page.get_by_text("Publish which of these").wait_for()

    thumbnails = images_state(page)
    assert len(thumbnails) == 3, thumbnails
    assert all(image["naturalWidth"] > 0 for image in thumbnails), _with_status(thumbnails, traffic)
    assert not signatures_in_page(page)

    pick_in_hitl_form(page, CHOSEN)
    answer = respond_in_hitl_form(page)
    assert sorted(answer["chosen_options"]) == sorted(CHOSEN)
    assert answer["responded_by"]["name"] == REVIEWER

    state = campaign.services.wait_for_run(DAG_ID, campaign.run_id, RUN_TIMEOUT)
    assert state == "success", f"run ended {state}; see {campaign.services.home}"
    assert not traffic.signed()
    _check_published_exactly_the_chosen(campaign, s3_client)


def test_gallery_shows_every_stored_image_of_the_run(campaign: Campaign, browser: Any) -> None:
    traffic = Traffic()
    page = new_page(browser, traffic)
    log_in(page, campaign.base_url, REVIEWER, REVIEWER_PASSWORD, then=run_page_path(DAG_ID, campaign.run_id))
    gallery = open_gallery_tab(page)

    stored = [image for task in STORING_TASKS for image in campaign.rest.xcom(DAG_ID, campaign.run_id, task)]
    thumbnails = images_state(gallery)
    assert len(thumbnails) == len(stored) == 9, thumbnails
    assert all(image["naturalWidth"] > 0 for image in thumbnails), _with_status(thumbnails, traffic)
    assert gallery.get_by_test_id("runware-result").count() == len(stored)
    total = gallery.get_by_test_id("runware-total-cost").inner_text()
    assert f"{sum(image['cost'] for image in stored):.4f}" in total, total
    html = gallery.content()
    for image in stored:
        assert image["storage_uri"] in html
    assert not signatures_in_page(page), "the run page and the gallery in its frame"

    response = page.goto(f"{campaign.run_url}/gallery?task_id=upscale")
    assert response is not None
    assert response.status == 200
    upscaled = images_state(page)
    assert len(upscaled) == 3
    assert all(image["naturalWidth"] > 0 for image in upscaled), _with_status(upscaled, traffic)
    original = upscaled[0]["src"].removesuffix("/thumbnail")
    full = page.request.get(original)
    assert full.status == 200
    assert full.url == original, "streamed by the api-server, not a redirect to the bucket"
    assert full.headers["content-type"].startswith("image/")

    assert not signatures_in_page(page)
    assert traffic.urls, "the traffic was recorded"
    assert not traffic.signed()


def test_image_endpoint_refuses_who_may_not_read_the_dag(campaign: Campaign, browser: Any) -> None:
    image = f"{campaign.run_url}/tasks/upscale/-1/images/0"
    missing = f"{campaign.run_url}/tasks/upscale/-1/images/99"

    anonymous = new_page(browser)
    assert anonymous.request.get(image).status == 401

    reviewer = new_page(browser)
    log_in(reviewer, campaign.base_url, REVIEWER, REVIEWER_PASSWORD, then=f"{campaign.run_path}/gallery")
    assert reviewer.request.get(image).status == 200
    assert reviewer.request.get(missing).status == 404

    # The outsider was sent the gallery's link: signed in, they land on a refusal, without a picture.
    outsider = new_page(browser)
    log_in(outsider, campaign.base_url, DENIED_USER, OUTSIDER_PASSWORD, then=f"{campaign.run_path}/gallery")
    assert "Forbidden" in outsider.content()
    assert outsider.locator("img").count() == 0
    refusal = outsider.request.get(image)
    assert refusal.status == 403
    for url in (
        f"{image}/thumbnail",
        missing,
        f"{campaign.run_url}/gallery",
        f"{campaign.run_url}/results.json",
    ):
        refused = outsider.request.get(url)
        assert refused.status == 403, url
        assert refused.text() == refusal.text(), "a refusal says nothing of what exists"


def test_no_signature_or_secret_reached_what_airflow_stored_or_logged(campaign: Campaign) -> None:
    """XComs, rendered fields, task, trigger and component logs, and the HITL request. Runs last, after
    the run finished (the components keep running: their logs are written line by line)."""
    assert campaign.services.wait_for_run(DAG_ID, campaign.run_id, RUN_TIMEOUT) == "success"
    texts = campaign.services.all_text()
    ((subject, hitl_body, options, chosen),) = campaign.services.query(
        "SELECT subject, body, options, chosen_options FROM hitl_detail"
    )
    assert sorted(json.loads(chosen) if isinstance(chosen, str) else chosen) == sorted(CHOSEN)
    texts.update({"hitl:subject": str(subject), "hitl:body": str(hitl_body), "hitl:options": str(options)})
    assert any(key.startswith("xcom:upscale") for key in texts)
    assert any(key.startswith("rendered:") for key in texts)
    assert any("task_id=upscale" in key for key in texts), "task logs were searched"
    assert not signatures_in(texts)
    assert not [where for where, text in texts.items() if AWS_SECRET in text]


def _check_published_exactly_the_chosen(campaign: Campaign, s3_client: Any) -> None:
    """Exactly the chosen images, byte for byte their upscaled sources, and a manifest naming them."""
    scenes = campaign.scenes
    published = published_objects(s3_client, campaign.bucket, campaign.run_id)
    sources = {_product_of(image, scenes): image for image in campaign.upscaled}
    expected_names = {f"{product}.{sources[product]['format'].lower()}" for product in CHOSEN}
    assert set(published) == expected_names | {"manifest.json"}
    for product in CHOSEN:
        bucket, key = split_s3(sources[product]["storage_uri"])
        source = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert published[f"{product}.{sources[product]['format'].lower()}"] == source
    manifest_text = published["manifest.json"].decode()
    manifest = json.loads(manifest_text)
    records = manifest if isinstance(manifest, list) else manifest.get("records") or manifest.get("images")
    assert sorted(record["product"] for record in records) == sorted(CHOSEN)
    for record in records:
        source = sources[record["product"]]
        assert record["source_uri"] == source["storage_uri"]
        assert record["model"] == _scene_of(scenes, source)["model"]
        assert record["prompt"] == _scene_of(scenes, source)["positive_prompt"]
        assert record["cost_usd"] > 0
    for product in REJECTED:
        assert product not in {record["product"] for record in records}
        assert sources[product]["storage_uri"] not in manifest_text
    publish = campaign.rest.xcom(DAG_ID, campaign.run_id, "publish")
    assert sorted(publish["rejected"]) == sorted(REJECTED)


def _thumbnails_in(body: str, rest: AirflowRest) -> dict[str, tuple[int, int]]:
    """Each ``![candidate](/runware/.../thumbnail)`` of the review body, fetched with the reviewer's
    token: the decoded picture's size per candidate."""
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


def _scene_of(scenes: list[dict[str, Any]], upscaled: dict[str, Any]) -> dict[str, Any]:
    """The restyled scene an upscaled image was made from (same request row)."""
    return next(scene for scene in scenes if _row(scene) == _row(upscaled))


def _product_of(upscaled: dict[str, Any], scenes: list[dict[str, Any]]) -> str:
    """Which product an upscaled image shows: its scene's prompt names it."""
    prompt = _scene_of(scenes, upscaled)["positive_prompt"]
    return next(name for name in ("mug", "bottle", "lamp") if name in prompt)


def _with_status(images: list[dict[str, Any]], traffic: Traffic) -> list[tuple[str, int, int | None]]:
    """Each image's URL, natural width and the HTTP status it was served with (for failure messages)."""
    return [(image["src"], image["naturalWidth"], traffic.statuses.get(image["src"])) for image in images]
