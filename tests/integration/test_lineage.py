"""Stored images become Asset events a downstream DAG is scheduled on; OpenLineage sees the outputs."""

from __future__ import annotations

from typing import Any

from airflow_runs import run_dag
from emulator_handle import EmulatorHandle

from airflow_provider_runware.catalog.image_models import DEFAULT_MODEL
from airflow_provider_runware.operators.lineage import prompt_sha256
from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator


def grid_labels(run_id: str) -> list[str]:
    """What the Airflow grid shows for each mapped generate_images instance, in map-index order."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(TaskInstance.rendered_map_index)
            .filter_by(dag_id="runware_marketing_assets", run_id=run_id, task_id="generate_images")
            .order_by(TaskInstance.map_index)
            .all()
        )
    return [row.rendered_map_index for row in rows]


def test_campaign_images_land_in_s3_and_trigger_the_consumer_dag(
    airflow: EmulatorHandle, s3_bucket: str, aws_conn: str, s3_client: Any
) -> None:
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(AssetDagRunQueue).delete()
    campaign = run_dag(
        "runware_marketing_assets.py",
        "runware_marketing_assets",
        conf={"output_location": f"s3://{s3_bucket}/campaigns/", "storage_conn_id": aws_conn},
    )
    assert campaign.state == "success"
    images = [image for mapped in campaign.xcom("generate_images") for image in mapped]
    stored = {image["storage_uri"] for image in images}
    assert len(stored) == 6
    assert {image["model"] for image in images} == {DEFAULT_MODEL}, "the example runs on a live model"
    assert {image["cost"] for image in images} == {0.02}, "Imagen 4 Fast's page: $0.02 at every size"
    assert grid_labels(campaign.run_id) == [
        f"{product} {size}"
        for product in ("ceramic coffee mug", "white canvas sneakers", "brass desk lamp")
        for size in ("1024x1024", "1408x768")
    ]
    listing = {obj["Key"]: obj["Size"] for obj in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert set(listing) == {uri.removeprefix(f"s3://{s3_bucket}/") for uri in stored} | {
        "campaigns/manifest.json"
    }
    for image in images:
        assert listing[image["storage_uri"].removeprefix(f"s3://{s3_bucket}/")] == image["bytes"] > 0

    with create_session() as session:
        events = (
            session.query(AssetEvent, AssetModel.uri)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetEvent.source_run_id == campaign.run_id)
            .all()
        )
        event_uris = {uri for _, uri in events}
        extras = [event.extra for event, _ in events]
        queued = {row.target_dag_id for row in session.query(AssetDagRunQueue).all()}
    assert event_uris == stored
    for extra in extras:
        assert extra["prompt_sha256"] in {prompt_sha256(image["positive_prompt"]) for image in images}
        assert "positive_prompt" not in extra
    assert "runware_campaign_images_consumer" in queued, "the scheduler would now run the consumer DAG"

    consumer = run_dag("runware_campaign_images_consumer.py", "runware_campaign_images_consumer")
    assert consumer.state == "success"
    (published,) = consumer.xcom("publish_new_images")
    assert stored <= {image["uri"] for image in published}


def test_openlineage_facets_describe_outputs_model_prompt_hash_and_cost() -> None:
    operator = RunwareImageInferenceOperator(
        task_id="generate", positive_prompt="a mug", model="openai:2@2", width=256, height=256
    )
    images: list[dict[str, Any]] = [
        {
            "task_uuid": "t1",
            "storage_uri": "s3://bucket/c/image-0.jpg",
            "cost": 0.016,
            "positive_prompt": "a mug",
        },
        {
            "task_uuid": "t2",
            "storage_uri": "s3://bucket/c/image-1.jpg",
            "cost": 0.016,
            "positive_prompt": "a mug",
        },
    ]
    operator._result = images
    lineage = operator.get_openlineage_facets_on_complete(task_instance=None)
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("s3://bucket", "c/image-0.jpg"),
        ("s3://bucket", "c/image-1.jpg"),
    ]
    facet = lineage.run_facets["runware"]
    assert facet.model == "openai:2@2"
    assert facet.promptSha256 == prompt_sha256("a mug")
    assert facet.totalCostUsd == 0.032
    assert facet.taskUUIDs == ["t1", "t2"]
