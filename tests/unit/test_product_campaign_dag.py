"""The product campaign DAG's own logic, without servers: how it chains the steps, what the reviewer is
shown, and that publishing copies exactly the chosen candidates (the storage calls replaced).

The whole run, through real services and a real browser, is tests/integration/test_browser_gallery.py.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from airflow_lines import dag_bag, requires_airflow

# The campaign's review step is Airflow's human-in-the-loop operator.
pytestmark = requires_airflow("3.1", why="HITLOperator (airflow.providers.standard.operators.hitl)")

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "example_dags" / "runware_product_campaign.py"
PARAMS = {
    "products": [
        {"name": "mug", "photo": "mug.png", "scene": "mug in a kitchen"},
        {"name": "lamp", "photo": "lamp.png", "scene": "lamp on a desk"},
    ],
    "photos_location": "s3://shop/products",
    "output_location": "s3://shop/campaign/",
    "storage_conn_id": "aws_shop",
    "model": "bytedance:5@0",
}


@pytest.fixture(scope="module")
def dag() -> Any:
    bag = dag_bag(str(DAG_FILE))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["runware_product_campaign"]


def call(dag: Any, task_id: str, *args: Any, **kwargs: Any) -> Any:
    return dag.get_task(task_id).python_callable(*args, **kwargs)


def record(row: int, step: str, cost: float, **extra: Any) -> dict[str, Any]:
    return {
        "row": row,
        "index": 0,
        "task_uuid": f"t-{step}-{row}",
        "image_uuid": f"i-{step}-{row}",
        "cost": cost,
        "model": "bytedance:5@0" if step == "scene" else "runware:110@1",
        "format": "JPG",
        "storage_uri": f"s3://shop/campaign/runware_product_campaign/run/{step}/row-{row:05d}-image-0.jpg",
        **extra,
    }


# Batch XComs arrive in any order: the DAG joins them by request row.
CUTOUTS = [record(1, "cut", 0.0006), record(0, "cut", 0.0006)]
SCENES = [
    record(0, "scene", 0.03, positive_prompt="mug in a kitchen"),
    record(1, "scene", 0.03, positive_prompt="lamp on a desk"),
]
UPSCALED = [record(1, "up", 0.002), record(0, "up", 0.002)]


def test_the_steps_run_in_order_and_the_review_waits_for_a_person(dag: Any) -> None:
    order = [
        "cutout_requests",
        "remove_background",
        "scene_requests",
        "restyle_scenes",
        "upscale_requests",
        "upscale",
        "candidates",
        "review_form",
        "review",
        "publish",
    ]
    for upstream, downstream in itertools.pairwise(order):
        assert upstream in dag.get_task(downstream).upstream_task_ids, f"{upstream} -> {downstream}"
    assert dag.doc_md
    review = dag.get_task("review")
    assert type(review).__name__ == "MappedOperator"
    assert review.partial_kwargs["multiple"] is True


def test_each_step_chains_by_the_previous_images_uuid(dag: Any) -> None:
    assert call(dag, "cutout_requests", params=PARAMS) == [
        {"input_image": "s3://shop/products/mug.png"},
        {"input_image": "s3://shop/products/lamp.png"},
    ]
    scenes = call(dag, "scene_requests", CUTOUTS, params=PARAMS)
    assert scenes == [
        {"positive_prompt": "mug in a kitchen", "reference_images": ["i-cut-0"]},
        {"positive_prompt": "lamp on a desk", "reference_images": ["i-cut-1"]},
    ]
    assert call(dag, "upscale_requests", SCENES) == [
        {"input_image": "i-scene-0"},
        {"input_image": "i-scene-1"},
    ]


def test_the_reviewer_sees_prompt_model_cost_and_uri_of_every_candidate(dag: Any) -> None:
    candidates = call(dag, "candidates", CUTOUTS, SCENES, UPSCALED, params=PARAMS)
    assert [c["option"] for c in candidates] == ["mug", "lamp"]
    assert candidates[0]["cost_usd"] == pytest.approx(0.0326)
    assert candidates[0]["storage_uri"].endswith("/up/row-00000-image-0.jpg")
    ((form),) = call(dag, "review_form", candidates)
    assert form["options"] == ["mug", "lamp"]
    assert "2" in form["subject"]
    for candidate in candidates:
        assert candidate["prompt"] in form["body"]
        assert candidate["storage_uri"] in form["body"]
    assert "`bytedance:5@0`" in form["body"]
    assert "$0.0326" in form["body"]
    assert "X-Amz" not in form["body"]


class UpscaleGalleryTi:
    """What ``candidates`` reads of its task instance: the run's ids and the upscale task's gallery
    record (``runware_results``), whose result positions are the image indexes in the plugin's URLs."""

    dag_id, run_id = "runware_product_campaign", "manual__2026-12-05T06:00:00+00:00"

    def xcom_pull(self, task_ids: str, key: str) -> dict[str, Any]:
        assert (task_ids, key) == ("upscale", "runware_results")
        return {"results": [{"row": 1, "position": 0}, {"row": 0, "position": 1}]}


def test_the_review_form_shows_each_candidates_thumbnail_from_the_gallery_endpoint(dag: Any) -> None:
    candidates = call(dag, "candidates", CUTOUTS, SCENES, UPSCALED, params=PARAMS, ti=UpscaleGalleryTi())
    ((form),) = call(dag, "review_form", candidates)
    run = "manual__2026-12-05T06%3A00%3A00%2B00%3A00"
    prefix = f"/runware/runs/runware_product_campaign/{run}/tasks/upscale/-1/images"
    assert f"![mug]({prefix}/1/thumbnail)" in form["body"]
    assert f"![lamp]({prefix}/0/thumbnail)" in form["body"]


def test_publishing_copies_only_the_chosen_candidates(dag: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_runware.storage import publish as publishing

    copies: list[tuple[str, str, str | None]] = []
    manifests: list[tuple[str, list[dict[str, Any]], str | None]] = []

    def copy_object(source_uri: str, target_uri: str, storage_conn_id: str | None) -> str:
        copies.append((source_uri, target_uri, storage_conn_id))
        return target_uri

    def write_manifest(
        target_uri: str, records: list[dict[str, Any]], *, storage_conn_id: str | None = None
    ) -> str:
        manifests.append((target_uri, records, storage_conn_id))
        return target_uri

    monkeypatch.setattr(publishing, "copy_object", copy_object)
    monkeypatch.setattr(publishing, "write_manifest", write_manifest)
    candidates = call(dag, "candidates", CUTOUTS, SCENES, UPSCALED, params=PARAMS)
    answer = {
        "chosen_options": ["lamp"],
        "params_input": {},
        "responded_by_user": {"id": "r", "name": "rita"},
    }
    result = call(dag, "publish", candidates, [answer], run_id="manual__1", params=PARAMS)

    folder = "s3://shop/campaign/published/manual__1/"
    assert copies == [(candidates[1]["storage_uri"], f"{folder}lamp.jpg", "aws_shop")]
    ((manifest_uri, records, conn_id),) = manifests
    assert (manifest_uri, conn_id) == (f"{folder}manifest.json", "aws_shop")
    assert [(r["product"], r["source_uri"], r["approved_by"]) for r in records] == [
        ("lamp", candidates[1]["storage_uri"], "rita")
    ]
    assert records[0]["prompt"] == "lamp on a desk"
    assert records[0]["model"] == "bytedance:5@0"
    assert result["rejected"] == ["mug"]
    assert result["published"] == [f"{folder}lamp.jpg"]
