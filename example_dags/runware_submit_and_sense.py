"""Submit now, wait elsewhere: a submit-only operator followed by a deferrable sensor.

Useful when generation should start early (e.g. before other upstream work finishes) and the wait
should not hold a worker slot.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator
from airflow_provider_runware.sensors.runware import RunwareTaskSensor

with DAG(
    dag_id="runware_submit_and_sense",
    schedule=None,
    catchup=False,
    tags=["runware", "example"],
    params={"model": Param("openai:2@2", type="string")},
) as dag:
    submit = RunwareImageInferenceOperator(
        task_id="submit",
        positive_prompt="A lighthouse on a cliff at dawn, watercolor",
        model="{{ params.model }}",
        width=512,
        height=512,
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
        return [image["imageURL"] for image in images]

    summarize(wait.output)
