"""Every example DAG runs end to end in the tests, so an example can never again break unnoticed.

``EXAMPLES`` is the registry, keyed by file name: each file in ``example_dags/`` is either run here with
``dag.test()`` against the emulator (``RunHere``: which fixtures it needs, its conf, what to check in
what it produced), or already run end to end by another test that checks what it produced (``RunBy``,
that test's node id: running the example twice would only cost CI time). The registry tests fail when
``example_dags/`` holds a file the registry does not name, when the registry names a file that is gone,
or when a ``RunBy`` node id no longer exists.
"""

from __future__ import annotations

import ast
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from airflow_lines import dag_bag, requires_airflow
from airflow_runs import DagOutcome, run_dag
from emulator_handle import EmulatorHandle

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"

# What a check gets: the run, and every fixture its entry asked for (always ``airflow``, the emulator
# that Airflow's ``runware_default`` connection points at), by fixture name.
Fixtures = Mapping[str, Any]


@dataclass(frozen=True)
class RunHere:
    """Run by ``test_example_runs_end_to_end``: ``dag.test()`` with ``conf(fixtures)``, then ``check``."""

    dag_id: str
    check: Callable[[DagOutcome, Fixtures], None]
    conf: Callable[[Fixtures], dict[str, Any]] = lambda fixtures: {}
    fixtures: tuple[str, ...] = ()
    needs_airflow: tuple[str, str] | None = None  # (minimum line, what older lines lack)


@dataclass(frozen=True)
class RunBy:
    """Already run end to end (and its output checked) by the test ``node_id``, relative to the repo."""

    node_id: str
    needs_airflow: tuple[str, str] | None = None
    also: tuple[str, ...] = field(default=())  # other tests that run it too (their node ids, checked too)


# ----- submit now, wait elsewhere -------------------------------------------------------------------


def check_submit_and_sense(outcome: DagOutcome, fixtures: Fixtures) -> None:
    """Two images submitted without waiting, waited for by the deferrable sensor, listed as URLs that
    the emulator serves as 1024x1024 images; each submitted once, on the DAG's default model."""
    emulator: EmulatorHandle = fixtures["airflow"]
    assert outcome.state == "success", outcome.tasks
    assert outcome.tasks == dict.fromkeys(("submit", "wait_for_images", "summarize"), ("success", 1))
    (uuids,) = outcome.xcom("submit")
    assert len(uuids) == len(set(uuids)) == 2, uuids
    (images,) = outcome.xcom("wait_for_images")
    assert sorted(image["task_uuid"] for image in images) == sorted(uuids)
    assert len({image["image_uuid"] for image in images}) == 2
    (urls,) = outcome.xcom("summarize")
    assert urls == [image["image_url"] for image in images]

    from PIL import Image

    with httpx.Client(trust_env=False, timeout=30.0) as client:
        for url in urls:
            assert url.startswith(f"{emulator.root_url}/"), f"{url} is not the emulator's"
            response = client.get(url)
            assert response.status_code == 200, url
            assert response.headers["content-type"].startswith("image/"), response.headers
            with Image.open(io.BytesIO(response.content)) as image:
                image.verify()
                assert image.size == (1024, 1024)

    submitted = emulator.tasks_of_type("imageInference")
    assert sorted(entry["taskUUID"] for entry in submitted) == sorted(uuids), "each submitted once"
    dag = dag_bag(str(EXAMPLE_DAGS / "runware_submit_and_sense.py")).get_dag("runware_submit_and_sense")
    assert {entry["task"]["model"] for entry in submitted} == {dag.params["model"]}, "the param's default"


# ----- photo -> caption -> prompt -> scene image -> product video ------------------------------------


def product_video_conf(fixtures: Fixtures) -> dict[str, Any]:
    """The packshot goes to the bucket first, as a user's catalogue would be."""
    bucket, s3_client = fixtures["s3_bucket"], fixtures["s3_client"]
    photo = (EXAMPLE_DAGS / "data" / "products" / "mug.png").read_bytes()
    s3_client.put_object(Bucket=bucket, Key="photos/mug.png", Body=photo)
    return {
        "photos_location": f"s3://{bucket}/photos/",
        "photo": "mug.png",
        "output_location": f"s3://{bucket}/out/",
        "storage_conn_id": fixtures["aws_conn"],
    }


def _mean_colour(image: Any) -> tuple[float, ...]:
    from PIL import ImageStat

    return tuple(ImageStat.Stat(image.convert("RGB")).mean)


def check_product_video(outcome: DagOutcome, fixtures: Fixtures) -> None:
    """Each step feeds the next (caption -> prompt -> scene prompt -> the video's first frame), each task
    type is submitted once, and the bucket holds a real MP4 whose first frame is the stored scene."""
    import av
    from PIL import Image

    emulator: EmulatorHandle = fixtures["airflow"]
    bucket, s3_client = fixtures["s3_bucket"], fixtures["s3_client"]
    steps = ("caption", "enhance_prompt", "scene_image", "product_video")
    assert outcome.tasks == dict.fromkeys(steps, ("success", 1)), outcome.tasks
    ((caption,),) = outcome.xcom("caption")
    ((prompt,),) = outcome.xcom("enhance_prompt")
    ((scene,),) = outcome.xcom("scene_image")
    ((video,),) = outcome.xcom("product_video")
    assert caption["text"]
    assert prompt["text"]

    submitted = {kind: emulator.tasks_of_type(kind) for kind in ("imageCaption", "promptEnhance")}
    submitted |= {kind: emulator.tasks_of_type(kind) for kind in ("imageInference", "videoInference")}
    assert {kind: len(tasks) for kind, tasks in submitted.items()} == dict.fromkeys(submitted, 1)
    assert submitted["imageCaption"][0]["task"]["inputImage"].startswith(fixtures["moto_server"].endpoint_url)
    assert submitted["promptEnhance"][0]["task"]["prompt"].startswith(caption["text"][:200])
    assert submitted["imageInference"][0]["task"]["positivePrompt"] == prompt["text"]
    frames = submitted["videoInference"][0]["task"]["inputs"]["frameImages"]
    assert frames == [{"inputImage": scene["image_uuid"], "frame": "first"}]

    assert video["storage_uri"].startswith(f"s3://{bucket}/out/videos/")
    assert video["storage_uri"].endswith("/video-0.mp4")
    assert video["video_uuid"]
    assert video["cost"] > 0
    key = video["storage_uri"].removeprefix(f"s3://{bucket}/")
    clip = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    scene_key = scene["storage_uri"].removeprefix(f"s3://{bucket}/")
    scene_image = Image.open(io.BytesIO(s3_client.get_object(Bucket=bucket, Key=scene_key)["Body"].read()))
    with av.open(io.BytesIO(clip)) as container:
        first = next(container.decode(video=0)).to_image()
    expected = _mean_colour(scene_image.resize(first.size))
    distance = max(abs(a - b) for a, b in zip(_mean_colour(first), expected, strict=True))
    assert distance < 12, f"the video's first frame is not the scene image (colour distance {distance:.1f})"


# ----- the registry ---------------------------------------------------------------------------------

PRODUCT_CAMPAIGN_NEEDS = ("3.1", "HITLOperator (Human-in-the-Loop), the product campaign's review step")

EXAMPLES: dict[str, RunHere | RunBy] = {
    "runware_submit_and_sense.py": RunHere(
        dag_id="runware_submit_and_sense",
        check=check_submit_and_sense,
    ),
    "runware_product_video.py": RunHere(
        dag_id="runware_product_video",
        check=check_product_video,
        conf=product_video_conf,
        fixtures=("s3_bucket", "s3_client", "aws_conn", "moto_server"),
    ),
    "runware_catalogue_batches.py": RunBy(
        "tests/integration/test_catalogue_batches.py"
        "::test_a_catalogue_in_chunks_stores_one_object_per_row_with_few_posts",
        also=(
            "tests/integration/test_ledger_home.py::test_a_hundred_row_batch_ledger_fits_the_homes_value_limit",
        ),
    ),
    # The producer and its Asset-scheduled consumer, in one test: the consumer runs on the producer's events.
    "runware_marketing_assets.py": RunBy(
        "tests/integration/test_lineage.py::test_campaign_images_land_in_s3_and_trigger_the_consumer_dag",
        also=(
            "tests/integration/test_storage_gcs.py::test_campaign_dag_stores_every_image_in_gcs",
            "tests/integration/test_storage_azure.py"
            "::test_campaign_dag_stores_every_image_and_the_manifest_in_azure",
        ),
    ),
    "runware_campaign_images_consumer.py": RunBy(
        "tests/integration/test_lineage.py::test_campaign_images_land_in_s3_and_trigger_the_consumer_dag"
    ),
    # Its review step waits for a person: the test runs real Airflow services and answers in a browser.
    "runware_product_campaign.py": RunBy(
        "tests/integration/test_browser_gallery.py::test_review_shows_thumbnails_and_is_answered_from_the_page",
        needs_airflow=PRODUCT_CAMPAIGN_NEEDS,
    ),
}


def example_files() -> list[str]:
    """The example DAG files, as the tests' dags folder links them in (see tests/conftest.py)."""
    return sorted(path.name for path in EXAMPLE_DAGS.glob("*.py") if not path.name.startswith(("_", ".")))


def node_exists(node_id: str) -> bool:
    """Whether ``path::test`` (or ``path::Class::test``, or either with a ``[param-id]``) names a test
    function defined in that file (read with ``ast``: collecting it would import Airflow again)."""
    path, *names = node_id.split("[")[0].split("::")
    source = REPO / path
    if not source.is_file() or not names:
        return False
    body: list[ast.stmt] = ast.parse(source.read_text()).body
    for name in names:
        found = [
            node
            for node in body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name
        ]
        if not found:
            return False
        body = found[0].body
    return isinstance(found[0], ast.FunctionDef | ast.AsyncFunctionDef) and names[-1].startswith("test")


def marks(needs_airflow: tuple[str, str] | None) -> list[pytest.MarkDecorator]:
    return [requires_airflow(*needs_airflow)] if needs_airflow else []


# ----- the tests ------------------------------------------------------------------------------------


def test_every_example_file_is_in_the_registry() -> None:
    files = example_files()
    assert files, f"no example DAGs found in {EXAMPLE_DAGS}"
    unregistered = sorted(set(files) - set(EXAMPLES))
    assert not unregistered, (
        f"example_dags/ holds {unregistered}, which no test runs: add each to EXAMPLES in {__file__} "
        "(RunHere with its conf and checks, or RunBy naming the test that runs it end to end)"
    )
    gone = sorted(set(EXAMPLES) - set(files))
    assert not gone, f"EXAMPLES names {gone}, which example_dags/ no longer holds"


@pytest.mark.parametrize(
    "file_name",
    [
        pytest.param(name, marks=marks(entry.needs_airflow))
        for name, entry in EXAMPLES.items()
        if isinstance(entry, RunBy)
    ],
)
def test_an_example_run_elsewhere_points_at_a_test_that_exists(file_name: str) -> None:
    entry = EXAMPLES[file_name]
    assert isinstance(entry, RunBy)
    for node_id in (entry.node_id, *entry.also):
        assert node_exists(node_id), f"{file_name}: EXAMPLES points at {node_id}, which is no test"
        # A guard against a stale pointer (not a proof that the test runs it): its module names the file.
        module = (REPO / node_id.split("::")[0]).read_text()
        assert file_name in module, f"{file_name}: {node_id} is in a module that never mentions it"


@pytest.mark.parametrize(
    "file_name",
    [
        pytest.param(name, marks=marks(entry.needs_airflow))
        for name, entry in EXAMPLES.items()
        if isinstance(entry, RunHere)
    ],
)
def test_example_runs_end_to_end(
    file_name: str, airflow: EmulatorHandle, request: pytest.FixtureRequest
) -> None:
    entry = EXAMPLES[file_name]
    assert isinstance(entry, RunHere)
    fixtures = {"airflow": airflow, **{name: request.getfixturevalue(name) for name in entry.fixtures}}
    outcome = run_dag(file_name, entry.dag_id, conf=entry.conf(fixtures))
    entry.check(outcome, fixtures)
