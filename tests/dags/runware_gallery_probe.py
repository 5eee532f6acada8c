"""The gallery's end-to-end DAG: results stored, reused from an earlier try and failed, in S3 and GCS.

``retried`` (S3, 1408x768 so thumbnails really shrink) loses one generation on its first try (a scripted
emulator fault) and succeeds on the second, reusing the other image; ``partial`` accepts a failed image
(``fail_on_partial=False``); ``to_gcs`` stores one image in the GCS emulator; ``upscale`` (batch form)
enlarges a product photo from the bucket and, by its imageUUID, an image ``retried`` made, so the gallery
shows inputs beside what was made from them. Locations, the photo and connections come from the conf.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator, RunwareUpscaleOperator

COMMON = {"poll_interval": 0.5, "timeout": 60, "deferrable": False}

with DAG(
    dag_id="runware_gallery_probe",
    schedule=None,
    catchup=False,
    params={"s3_location": "", "s3_conn_id": "", "gs_location": "", "gs_conn_id": "", "photo": ""},
):
    retried = RunwareImageInferenceOperator(
        task_id="retried",
        positive_prompt="a ceramic mug on a kitchen counter",
        model="google:2@3",
        width=1408,
        height=768,
        number_results=2,
        output_location="{{ params.s3_location }}",
        storage_conn_id="{{ params.s3_conn_id }}",
        retries=1,
        retry_delay=timedelta(seconds=0),
        **COMMON,
    )
    partial = RunwareImageInferenceOperator(
        task_id="partial",
        positive_prompt="a blue water bottle by a stream",
        model="openai:2@2",
        width=256,
        height=256,
        number_results=2,
        fail_on_partial=False,
        output_location="{{ params.s3_location }}",
        storage_conn_id="{{ params.s3_conn_id }}",
        **COMMON,
    )
    to_gcs = RunwareImageInferenceOperator(
        task_id="to_gcs",
        positive_prompt="a brass desk lamp",
        model="openai:2@2",
        width=512,
        height=512,
        output_location="{{ params.gs_location }}",
        storage_conn_id="{{ params.gs_conn_id }}",
        **COMMON,
    )

    @task
    def upscale_rows(
        made: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        assert params is not None
        return [{"input_image": params["photo"]}, {"input_image": made[0]["image_uuid"]}]

    upscale = RunwareUpscaleOperator(
        task_id="upscale",
        requests=upscale_rows(retried.output),
        model="runware:503@1",
        upscale_factor=2,
        output_location="{{ params.s3_location }}",
        storage_conn_id="{{ params.s3_conn_id }}",
        **COMMON,
    )
    retried >> partial >> to_gcs >> upscale
