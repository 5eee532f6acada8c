"""The gallery plugin in a real api-server, on images a real DAG run stored in moto S3 and the GCS emulator.

One run of ``runware_gallery_probe`` (``dag.test()``: a result stored, one reused from an earlier try, one
failed; S3 and GCS) and one of ``runware_gallery_more`` (sensors, an 11-instance mapped task), then
``airflow api-server`` alone on the same sqlite DB, with the provider's plugin loaded from its provider
info and a test auth manager (``tests/gallery_auth.py``: SimpleAuthManager that refuses the user
``outsider`` every DAG). Every request goes over HTTP to that server. Airflow is deployed under a
sub-path, ``[api] base_url = http://127.0.0.1:<port>/airflow`` (in the runs and the api-server alike),
as behind a reverse proxy that forwards only ``/airflow/``: every URL the tests use, and every URL the
links and tabs make, must carry the sub-path.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx
import pytest
from airflow_runs import run_dag
from airflow_services import plugin_discovery
from emulator_handle import EmulatorHandle
from gcs_fixtures import GcsEmulator, ServiceAccountKey, gcs_connection
from servers import free_port, start, stop, wait_until
from sqlalchemy import select

DAG_ID = "runware_gallery_probe"
MORE_DAG_ID = "runware_gallery_more"
BASE_PATH = "/airflow"
AWS_KEY, AWS_REGION = "testing", "us-east-1"  # what the moto fixtures use
PASSWORDS = {"admin": "admin-pw", "outsider": "outsider-pw"}
SIGNATURES = ("X-Amz-", "X-Goog-", "sig=")
TESTS = Path(__file__).resolve().parents[1]


@dataclass
class Gallery:
    url: str  # Airflow's base URL, with its sub-path
    run_id: str
    tokens: dict[str, str]
    s3: Any
    s3_bucket: str
    log_path: Path
    more_run_id: str
    more_tasks: dict[str, tuple[str, int]]
    elsewhere: list[str]

    def run_url(self, tail: str = "", run_id: str | None = None, dag_id: str = DAG_ID) -> str:
        return f"{self.url}/runware/runs/{dag_id}/{quote(run_id or self.run_id, safe='')}/{tail}"

    def get(self, tail: str, user: str | None = "admin", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        headers.update(kwargs.pop("headers", {}))
        url = self.run_url(tail, kwargs.pop("run_id", None), kwargs.pop("dag_id", DAG_ID))
        return httpx.get(url, headers=headers, timeout=30, **kwargs)


def png(width: int, height: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def gallery(
    airflow_db: None,
    emulator: EmulatorHandle,
    moto_server: Any,
    s3_client: Any,
    gcs_emulator: GcsEmulator,
    gcs_client: Any,
    gcs_key: ServiceAccountKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gallery]:
    home = tmp_path_factory.mktemp("gallery")
    s3_bucket, gs_bucket = f"gallery-{uuid.uuid4().hex[:12]}", f"gallery-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=s3_bucket)
    s3_client.put_object(Bucket=s3_bucket, Key="photos/mug.png", Body=png(300, 200), ContentType="image/png")
    gcs_client.create_bucket(gs_bucket)
    aws = {
        "conn_type": "aws",
        "login": AWS_KEY,
        "password": AWS_KEY,
        "extra": {"endpoint_url": moto_server.endpoint_url, "region_name": AWS_REGION},
    }
    connections = {
        "AIRFLOW_CONN_RUNWARE_DEFAULT": emulator.connection(),
        "AIRFLOW_CONN_AWS_GALLERY": json.dumps(aws),
        "AIRFLOW_CONN_GCS_GALLERY": gcs_connection(gcs_key, gcs_emulator.endpoint_url),
    }
    emulator.reset()
    # The first generation of google:2@3 fails: ``retried`` fails its first try and regenerates that
    # image on its second, reusing the other; then ``partial`` loses one of its two images for good.
    for model, message in (("google:2@3", "GPU on fire"), ("openai:2@2", "GPU melted")):
        emulator.fault(kind="fail_generation", count=1, model=model, code="inferenceError", message=message)
    conf = {
        "s3_location": f"s3://{s3_bucket}/gallery/",
        "s3_conn_id": "aws_gallery",
        "gs_location": f"gs://{gs_bucket}/gallery/",
        "gs_conn_id": "gcs_gallery",
        "photo": f"s3://{s3_bucket}/photos/mug.png",
    }
    port = free_port()
    base_url = f"http://127.0.0.1:{port}{BASE_PATH}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**connections, "AIRFLOW__API__BASE_URL": base_url}.items():
            patch.setenv(name, value)
        outcome = run_dag("runware_gallery_probe.py", DAG_ID, conf=conf)
        # The first generation of the mapped task fails: that instance finishes last, on its retry.
        emulator.fault(kind="fail_generation", count=1, model="openai:2@2", code="inferenceError")
        elsewhere = [record["task_uuid"] for record in outcome.xcom("retried")[0]]
        more = run_dag("runware_gallery_more.py", MORE_DAG_ID, conf={"elsewhere": elsewhere})
    assert more.state == "success", more.tasks
    assert outcome.tasks["retried"] == ("success", 2), outcome.tasks
    assert outcome.tasks["partial"][0] == "success", outcome.tasks
    assert outcome.tasks["to_gcs"][0] == "success", outcome.tasks
    assert outcome.tasks["upscale"][0] == "success", outcome.tasks

    passwords = home / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    env = {
        **os.environ,
        **connections,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "AIRFLOW__CORE__AUTH_MANAGER": "gallery_auth.DenyingAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,outsider:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": "gallery-jwt-secret-0123456789abcdef",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": base_url,
        "RUNWARE_THUMBNAIL_CACHE": str(home / "thumbnails"),
        **plugin_discovery(),
    }
    log_path = home / "api-server.log"
    server = start(
        "api-server",
        [sys.executable, "-m", "airflow", "api-server", "-H", "127.0.0.1", "-p", str(port)],
        log_path,
        env=env,
    )
    try:
        url = base_url
        wait_until(f"{url}/api/v2/monitor/health", server, timeout=120, interval=0.5)
        tokens = {}
        for user, password in PASSWORDS.items():
            login = {"username": user, "password": password}
            answer = httpx.post(f"{url}/auth/token", json=login, timeout=30)
            assert answer.status_code in (200, 201), answer.text
            tokens[user] = answer.json()["access_token"]
        yield Gallery(
            url, outcome.run_id, tokens, s3_client, s3_bucket, log_path, more.run_id, more.tasks, elsewhere
        )
    finally:
        stop(server)


def results(gallery: Gallery) -> dict[str, Any]:
    answer = gallery.get("results.json")
    assert answer.status_code == 200, answer.text
    return answer.json()


def by_task(view: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {task["task_id"]: task["results"] for task in view["tasks"]}


def test_the_gallery_shows_stored_reused_and_failed_results_with_their_details(gallery: Gallery) -> None:
    view = results(gallery)
    tasks = by_task(view)
    assert sorted(r["state"] for r in tasks["retried"]) == ["reused", "stored"]
    assert sorted(r["state"] for r in tasks["partial"]) == ["failed", "stored"]
    failed = next(r for r in tasks["partial"] if r["state"] == "failed")
    assert failed["error"] == "inferenceError: GPU melted"
    assert "thumbnail" not in failed or failed["thumbnail"] is None
    stored = tasks["retried"][0]
    assert stored["model"] == "google:2@3"
    assert (stored["width"], stored["height"]) == (1408, 768)
    assert stored["prompt"] == "a ceramic mug on a kitchen counter"
    assert stored["storage_uri"].startswith(f"s3://{gallery.s3_bucket}/gallery/")
    assert isinstance(stored["seed"], int)
    assert tasks["to_gcs"][0]["storage_uri"].startswith("gs://")
    paid = [r["cost"] for rs in tasks.values() for r in rs if r["state"] in ("stored", "reused")]
    assert view["total_cost"] == pytest.approx(sum(paid))
    assert {"google:2@3", "openai:2@2"} <= set(view["cost_per_model"])

    page = gallery.get("gallery")
    assert page.status_code == 200
    html = page.text
    assert html.count('data-testid="runware-result"') == 7
    assert html.count('data-testid="runware-thumbnail"') == 6  # every stored or reused image
    assert f'data-testid="runware-total-cost">${view["total_cost"]:.4f}<' in html
    assert "GPU melted" in html
    assert 'data-state="reused"' in html
    assert 'src="tasks/retried/-1/images/0/thumbnail"' in html

    only = gallery.get("gallery", params={"task_id": "to_gcs", "map_index": "-1"}).text
    assert only.count('data-testid="runware-result"') == 1


def test_inputs_show_beside_what_was_made_from_them(gallery: Gallery) -> None:
    from PIL import Image

    photo, remade = by_task(results(gallery))["upscale"]
    (photo_input,) = photo["inputs"]
    assert photo_input["uri"] == f"s3://{gallery.s3_bucket}/photos/mug.png"
    assert photo_input["thumbnail"] == "tasks/upscale/-1/images/0/inputs/0/thumbnail"
    (made_from,) = remade["inputs"]
    assert made_from["thumbnail"] == "tasks/retried/-1/images/0/thumbnail"  # the result it came from
    original = gallery.get("tasks/upscale/-1/images/0/inputs/0")
    assert original.status_code == 200
    assert original.headers["content-type"] == "image/png"
    assert original.content == png(300, 200)
    small = Image.open(io.BytesIO(gallery.get(f"{photo_input['thumbnail']}").content))
    assert small.size == (256, 171)
    assert Image.open(io.BytesIO(gallery.get(photo["image"]).content)).size == (600, 400)
    html = gallery.get("gallery", params={"task_id": "upscale"}).text
    assert 'src="tasks/upscale/-1/images/0/inputs/0/thumbnail"' in html


@pytest.mark.parametrize("task_id", ["retried", "to_gcs"])
def test_the_full_image_streams_the_stored_bytes_with_type_and_cache_headers(
    gallery: Gallery, task_id: str
) -> None:
    result = by_task(results(gallery))[task_id][0]
    answer = gallery.get(f"tasks/{task_id}/-1/images/0")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["cache-control"].startswith("private")
    assert answer.headers["etag"]
    if task_id == "retried":
        key = result["storage_uri"].split("/", 3)[3]
        stored = gallery.s3.get_object(Bucket=gallery.s3_bucket, Key=key)["Body"].read()
        assert answer.content == stored
    from PIL import Image

    assert Image.open(io.BytesIO(answer.content)).size == (result["width"], result["height"])
    again = gallery.get(f"tasks/{task_id}/-1/images/0", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304


def test_the_thumbnail_is_at_most_256_px_and_made_once(gallery: Gallery) -> None:
    from PIL import Image

    first = gallery.get("tasks/retried/-1/images/1/thumbnail")
    assert first.status_code == 200, first.text
    image = Image.open(io.BytesIO(first.content))
    assert image.size == (256, 140)  # 1408x768 scaled to 256 on the longest side
    assert first.headers["content-type"] == "image/jpeg"
    second = gallery.get("tasks/retried/-1/images/1/thumbnail")
    assert (first.headers["x-runware-thumbnail"], second.headers["x-runware-thumbnail"]) == ("made", "cached")
    assert second.content == first.content


def test_without_a_token_the_answer_is_401_and_a_browser_gets_the_sign_in_page(gallery: Gallery) -> None:
    image = "tasks/retried/-1/images/0"
    for tail in ("gallery", "results.json", image, f"{image}/thumbnail"):
        assert gallery.get(tail, user=None).status_code == 401
    page = gallery.get("gallery", user=None, headers={"Accept": "text/html"})
    assert page.status_code == 401
    assert "Sign in to Airflow" in page.text


def test_a_user_who_may_not_read_the_dag_gets_the_same_403_whatever_exists(gallery: Gallery) -> None:
    answers = [
        gallery.get(tail, user="outsider", run_id=run_id)
        for run_id in (gallery.run_id, "no_such_run")
        for tail in ("gallery", "results.json", "tasks/retried/-1/images/0/thumbnail", "tasks/no/-1/images/9")
    ]
    assert {(a.status_code, a.text) for a in answers} == {(403, '{"detail":"Forbidden"}')}


def test_a_cookie_token_is_accepted_like_the_ui_sends_it(gallery: Gallery) -> None:
    cookies = {"_token": gallery.tokens["admin"]}
    answer = httpx.get(gallery.run_url("results.json"), cookies=cookies, timeout=30)
    assert answer.status_code == 200


def test_a_deleted_object_is_a_clear_404(gallery: Gallery) -> None:
    result = by_task(results(gallery))["partial"]
    stored = next(r for r in result if r["state"] == "stored")
    key = stored["storage_uri"].split("/", 3)[3]
    gallery.s3.delete_object(Bucket=gallery.s3_bucket, Key=key)
    answer = gallery.get(f"tasks/partial/-1/images/{stored['position']}")
    assert answer.status_code == 404
    assert answer.json()["detail"] == f"{stored['storage_uri']} does not exist (deleted, or never stored)"
    failed = next(r for r in result if r["state"] == "failed")
    assert gallery.get(f"tasks/partial/-1/images/{failed['position']}").status_code == 404
    assert gallery.get("tasks/partial/-1/images/99").status_code == 404


def test_the_four_image_routes_miss_refuse_and_revalidate_alike(gallery: Gallery) -> None:
    """Every image route (image, thumbnail, input, input thumbnail) answers a bad number, a missing
    result, an unstored one and a missing input with the same 404 bodies; refuses an outsider with the
    one 403 and no token with 401, whether the run exists or not; and answers a matching ETag with 304."""
    view = by_task(results(gallery))
    failed = next(r["position"] for r in view["partial"] if r["state"] == "failed")
    photo, remade = (r["position"] for r in view["upscale"])
    images = {
        "tasks/retried/-1/images/x": "image_index must be an integer",
        "tasks/retried/one/images/0": "map_index must be an integer",
        "tasks/retried/-1/images/99": "No such Runware result",
        "tasks/nothing/-1/images/0": "No such Runware result",
        f"tasks/partial/-1/images/{failed}": f"Result {failed} was not stored (failed)",
    }
    inputs = {
        f"tasks/upscale/-1/images/{photo}/inputs/x": "input_index must be an integer",
        f"tasks/upscale/-1/images/{photo}/inputs/1": "No such input in a bucket",
        f"tasks/upscale/-1/images/{photo}/inputs/-1": "No such input in a bucket",
        f"tasks/upscale/-1/images/{remade}/inputs/0": "No such input in a bucket",  # a result, no bucket
        "tasks/upscale/-1/images/99/inputs/0": "No such Runware result",
        "tasks/upscale/-1/images/x/inputs/x": "image_index must be an integer",
    }
    for tail, detail in {**images, **inputs}.items():
        for route in (tail, f"{tail}/thumbnail"):
            answer = gallery.get(route)
            assert (answer.status_code, answer.json()) == (404, {"detail": detail}), route
    existing = ("tasks/retried/-1/images/0", f"tasks/upscale/-1/images/{photo}/inputs/0")
    routes = [route for tail in existing for route in (tail, f"{tail}/thumbnail")]
    refused = {
        (gallery.get(route, user="outsider", run_id=run_id).status_code, route)
        for run_id in (gallery.run_id, "no_such_run")
        for route in routes
    }
    assert refused == {(403, route) for route in routes}
    assert {gallery.get(route, user=None).status_code for route in routes} == {401}
    for route in routes:
        first = gallery.get(route)
        assert first.status_code == 200, route
        again = gallery.get(route, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304, route
        assert (again.headers["etag"], again.headers["cache-control"]) == (
            first.headers["etag"],
            first.headers["cache-control"],
        )
        assert "x-runware-thumbnail" not in again.headers


def test_no_signature_in_any_page_json_or_log(gallery: Gallery) -> None:
    texts = [gallery.get("gallery").text, gallery.get("results.json").text, gallery.log_path.read_text()]
    for text in texts:
        for signature in SIGNATURES:
            assert signature not in text


def stored_link(gallery: Gallery, key: str) -> str:
    """The extra link's URL as the task runner stored it for ``retried`` (JSON from Airflow 3.1, the
    bare string on 3.0)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        (value,) = session.scalars(
            select(XComModel.value).where(
                XComModel.dag_id == DAG_ID,
                XComModel.run_id == gallery.run_id,
                XComModel.task_id == "retried",
                XComModel.key == key,
            )
        )
    try:
        return str(json.loads(value))
    except ValueError:
        return str(value)


def origin(gallery: Gallery) -> str:
    return gallery.url.removesuffix(BASE_PATH)


def ui_base(page_url: str, headers: dict[str, str]) -> str:
    """The document base URL of an Airflow UI page: its ``<base href>`` resolved against the page."""
    page = httpx.get(page_url, headers=headers, timeout=30)
    assert page.status_code == 200, page.text[:300]
    found = re.search(r'<base href="([^"]*)"', page.text)
    assert found, page.text[:500]
    return urljoin(page_url, found.group(1))


def test_each_task_links_to_its_gallery_and_the_run_page_gets_a_gallery_tab(gallery: Gallery) -> None:
    import airflow
    from packaging.version import Version

    from airflow_provider_runware.links import RunwareGalleryLink, RunwareStoredImagesLink

    headers = {"Authorization": f"Bearer {gallery.tokens['admin']}"}
    run = quote(gallery.run_id, safe="")
    # The links as Airflow's task runner stored them at the end of the task (where the UI reads them).
    link = stored_link(gallery, RunwareGalleryLink().xcom_key)
    assert link == f"{BASE_PATH}/runware/runs/{DAG_ID}/{run}/gallery?task_id=retried&map_index=-1"
    assert httpx.get(f"{origin(gallery)}{link}", headers=headers, timeout=30).status_code == 200
    assert stored_link(gallery, RunwareStoredImagesLink().xcom_key)
    listed = httpx.get(f"{gallery.url}/api/v2/plugins", headers=headers, timeout=30)
    assert listed.status_code == 200, f"{listed.status_code}: {listed.text[:300]}"
    plugins = listed.json()["plugins"]
    (runware,) = [plugin for plugin in plugins if plugin["name"] == "runware"]
    assert runware["fastapi_apps"][0]["url_prefix"] == "/runware"
    if Version(airflow.__version__) >= Version("3.1"):
        tabs = {view["destination"]: view["href"] for view in runware["external_views"]}
        assert set(tabs) == {"dag_run", "task_instance"}
        # Open each tab as the UI does: fill in the placeholders, then the browser resolves the
        # iframe's src against the UI page's <base href> (Airflow's own index.html).
        page_url = f"{gallery.url}/dags/{DAG_ID}/runs/{run}/plugin/runware-gallery"
        base = ui_base(page_url, headers)
        filled = {"{DAG_ID}": DAG_ID, "{RUN_ID}": run, "{TASK_ID}": "retried", "{MAP_INDEX}": "-1"}
        for destination, href in tabs.items():
            for placeholder, value in filled.items():
                href = href.replace(placeholder, value)
            src = urljoin(base, href)
            assert urlsplit(src).path.startswith(f"{BASE_PATH}/runware/runs/{DAG_ID}/"), (destination, src)
            tab = httpx.get(src, headers=headers, timeout=30)
            assert tab.status_code == 200, (destination, src, tab.text[:300])
            cards = tab.text.count('data-testid="runware-result"')
            assert cards == (2 if destination == "task_instance" else 7), destination
    # What the UI's task-instance tab asks for on an unmapped task: "{MAP_INDEX}" left in place.
    tab = gallery.get("gallery", params={"task_id": "retried", "map_index": "{MAP_INDEX}"})
    assert tab.text.count('data-testid="runware-result"') == 2


def more_results(gallery: Gallery) -> dict[str, Any]:
    answer = gallery.get("results.json", dag_id=MORE_DAG_ID, run_id=gallery.more_run_id)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_mapped_instances_are_listed_by_map_index_as_numbers(gallery: Gallery) -> None:
    retried = [task for task, (_, tries) in gallery.more_tasks.items() if tries == 2]
    assert len(retried) == 1, gallery.more_tasks  # it finished after the instances run after it
    view = more_results(gallery)
    mapped = [task["map_index"] for task in view["tasks"] if task["task_id"] == "mapped"]
    assert mapped == list(range(11))
    html = gallery.get("gallery", dag_id=MORE_DAG_ID, run_id=gallery.more_run_id).text
    titles = re.findall(r"<h2>mapped \[(\d+)\]", html)
    assert titles == [str(number) for number in range(11)]


def test_a_sensor_shows_what_it_waited_for_with_the_submitters_model_or_says_unknown(
    gallery: Gallery,
) -> None:
    tasks = by_task(more_results(gallery))
    (waited,) = tasks["wait"]
    assert waited["state"] == "stored"
    assert waited["model"] == "google:2@3"
    assert waited["prompt"] == "a teapot on a windowsill"
    assert (waited["width"], waited["height"]) == (1024, 1024)
    assert waited["url"].startswith("http://127.0.0.1")
    assert waited["cost"] > 0
    assert waited["image"] is None  # Runware holds it: no stored object to stream
    elsewhere = tasks["elsewhere"]
    assert sorted(r["task_uuid"] for r in elsewhere) == sorted(gallery.elsewhere)
    assert all("model" not in r and r["state"] == "stored" for r in elsewhere)
    view = more_results(gallery)
    assert set(view["cost_per_model"]) == {"google:2@3", "openai:2@2", "unknown"}
    html = gallery.get(
        "gallery", dag_id=MORE_DAG_ID, run_id=gallery.more_run_id, params={"task_id": "elsewhere"}
    )
    assert html.text.count("<dt>model</dt><dd>unknown</dd>") == 2
    assert html.text.count('data-testid="runware-url"') == 2
