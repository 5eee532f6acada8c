"""A DAG that handles every kind of secret the provider touches, for the leak test.

API key (connection password), presigned S3 URLs (uploads, and the GET of an input photo), and a
webhook token (templated URL),
through deferral (trigger), a successful task and a failing one (exception text).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_runware.operators.runware import (
    RunwareBackgroundRemovalOperator,
    RunwareImageInferenceOperator,
)

with DAG(
    dag_id="runware_secrets_probe",
    schedule=None,
    catchup=False,
    params={"output_location": "", "storage_conn_id": "", "webhook_url": "", "photo": ""},
    # A retry absorbs Airflow's own deferral race (apache/airflow#72716) without paying twice; the
    # upload failure is fatal by design and is not retried.
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
):
    common = {
        "model": "openai:2@2",
        "width": 256,
        "height": 256,
        "output_location": "{{ params.output_location }}",
        "storage_conn_id": "{{ params.storage_conn_id }}",
        "webhook_url": "{{ params.webhook_url }}",
        "poll_interval": 0.5,
        "timeout": 120,
    }
    RunwareImageInferenceOperator(
        task_id="generate", positive_prompt="a mug", number_results=2, deferrable=True, **common
    )
    RunwareImageInferenceOperator(
        task_id="generate_blocking", positive_prompt="a lamp", deferrable=False, **common
    )
    RunwareImageInferenceOperator(
        task_id="upload_goes_missing", positive_prompt="a sneaker", deferrable=True, **common
    )
    RunwareBackgroundRemovalOperator(
        task_id="cut_out",
        input_image="{{ params.photo }}",
        deferrable=True,
        **{key: value for key, value in common.items() if key not in ("model", "width", "height")},
    )
