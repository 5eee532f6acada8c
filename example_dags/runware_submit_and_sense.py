"""Submit now, wait elsewhere: a submit-only operator followed by a deferrable sensor.

Useful when generation should start early (e.g. before other upstream work finishes) and the wait
should not hold a worker slot.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_runware.catalog.image_models import DEFAULT_MODEL
from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator
from airflow_provider_runware.sensors.runware import RunwareTaskSensor

with DAG(
    dag_id="runware_submit_and_sense",
    schedule=None,
    catchup=False,
    tags=["runware", "example"],
    params={"model": Param(DEFAULT_MODEL, type="string", description="Runware AIR model id")},
    doc_md="""
### Submit now, wait elsewhere

`submit` sends two images to Runware and returns their task UUIDs at once
(`wait_for_completion=False`); `wait_for_images` waits for them in the triggerer (a deferrable
sensor), so no worker slot is held while Runware works; `summarize` lists the image URLs.
""",
) as dag:
    submit = RunwareImageInferenceOperator(
        task_id="submit",
        positive_prompt="A lighthouse on a cliff at dawn, watercolor",
        model="{{ params.model }}",
        width=1024,
        height=1024,
        number_results=2,
        wait_for_completion=False,
    )

    wait = RunwareTaskSensor(
        task_id="wait_for_images",
        task_uuids=submit.output,
        deferrable=True,
        poll_interval=2,
        timeout=600,
    )

    @task
    def summarize(images: list[dict[str, Any]]) -> list[str]:
        return [image["image_url"] for image in images]

    summarize(wait.output)
