"""Small DAGs for the video and text task types, one situation each (loaded by test_video_text_dags).

Situations come from the emulator's faults and Airflow's own machinery (deferral, retries), never from
overriding the operators' internals.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param

from airflow_provider_runware.operators.text import RunwareImageCaptionOperator, RunwarePromptEnhanceOperator
from airflow_provider_runware.operators.video import RunwareVideoInferenceOperator
from airflow_provider_runware.sensors.runware import RunwareTaskSensor

VIDEO: dict[str, Any] = {
    "model": "klingai:kling-video@3-standard",
    "duration": 5,
    "poll_interval": 0.5,
    "timeout": 120,
}
STORAGE_PARAMS = {
    "output_location": Param("", type="string"),
    "storage_conn_id": Param("", type="string"),
    # The batch form's rows (a list of dicts of operator arguments).
    "rows": Param([], type="array"),
}


def scenario(dag_id: str, **kwargs: Any) -> DAG:
    return DAG(dag_id=dag_id, schedule=None, catchup=False, params=STORAGE_PARAMS, **kwargs)


with scenario("runware_video_deferrable"):
    RunwareVideoInferenceOperator(
        task_id="generate",
        positive_prompt="a ceramic mug turning slowly on a table",
        width=1280,
        height=720,
        number_results=2,
        deferrable=True,
        output_location="{{ params.output_location }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        **VIDEO,
    )

# Image-to-video in the batch form: one row per product photo in the bucket, each its first frame.
with scenario("runware_video_from_photos"):
    RunwareVideoInferenceOperator(
        task_id="generate",
        positive_prompt="the product on a turntable, studio light",
        requests="{{ params.rows | tojson }}",
        deferrable=False,
        output_location="{{ params.output_location }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        **VIDEO,
    )

with scenario("runware_video_partial_then_retry", default_args={"retries": 1, "retry_delay": timedelta(0)}):
    RunwareVideoInferenceOperator(
        task_id="generate",
        positive_prompt="waves on a beach at dusk",
        width=1280,
        height=720,
        number_results=2,
        deferrable=True,
        **VIDEO,
    )

with scenario("runware_video_cost_guard"):
    RunwareVideoInferenceOperator(
        task_id="generate",
        positive_prompt="a city at night, drone shot",
        width=1280,
        height=720,
        number_results=3,
        max_cost_usd=1.0,
        **VIDEO,
    )

# Submit now, wait elsewhere: the sensor waits for videos as for images.
with scenario("runware_video_submit_and_sense"):
    submitted = RunwareVideoInferenceOperator(
        task_id="submit",
        positive_prompt="a paper boat on a pond",
        width=1280,
        height=720,
        number_results=2,
        wait_for_completion=False,
        **VIDEO,
    )
    RunwareTaskSensor(task_id="wait", task_uuids=submitted.output, deferrable=True, poll_interval=0.5)

with scenario("runware_text_tasks"):
    captions = RunwareImageCaptionOperator(
        task_id="caption",
        requests="{{ params.rows | tojson }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        deferrable=True,
        poll_interval=0.5,
    )
    RunwarePromptEnhanceOperator(
        task_id="enhance",
        prompt="{{ ti.xcom_pull(task_ids='caption')[0]['text'][:200] }}",
        prompt_versions=3,
        prompt_max_length=200,
        deferrable=True,
        poll_interval=0.5,
    ).set_upstream(captions)
