"""DAGs that store generated images in a cloud bucket chosen at trigger time (loaded by the tests).

``output_location`` and ``storage_conn_id`` come from the run's conf, so one DAG serves S3 and GCS, good
and bad credentials alike. No retries: a refused upload must fail the run at once.
"""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator

with DAG(
    dag_id="runware_to_cloud_storage",
    schedule=None,
    catchup=False,
    params={"output_location": "", "storage_conn_id": ""},
):
    RunwareImageInferenceOperator(
        task_id="generate",
        positive_prompt="a ceramic mug",
        model="openai:2@2",
        width=256,
        height=256,
        number_results=2,
        output_location="{{ params.output_location }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        deferrable=True,
        poll_interval=0.5,
        timeout=60,
    )
