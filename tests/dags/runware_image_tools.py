"""DAGs chaining the image tools through image inputs (loaded by tests/integration/test_image_tools_dags.py).

A product photo in a bucket is cut out (removeBackground, input: the object's URI), restyled into a
scene by an editing model (imageInference, input: the cut-out's imageUUID) and upscaled (input: the
scene's imageUUID). Locations and connection come from the run's conf; no retries, so a refusal
fails the run at once.
"""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_runware.operators.runware import (
    RunwareBackgroundRemovalOperator,
    RunwareImageInferenceOperator,
    RunwareUpscaleOperator,
)

WAIT = {"poll_interval": 0.5, "timeout": 60}
STORE = {"storage_conn_id": "{{ params.storage_conn_id }}"}

with DAG(
    dag_id="runware_tools_chain",
    schedule=None,
    catchup=False,
    params={"photo": "", "output_location": "", "storage_conn_id": ""},
):
    cut_out = RunwareBackgroundRemovalOperator(
        task_id="cut_out",
        input_image="{{ params.photo }}",
        output_location="{{ params.output_location }}cutouts/",
        deferrable=True,
        **STORE,
        **WAIT,
    )
    scene = RunwareImageInferenceOperator(
        task_id="scene",
        model="bytedance:5@0",
        positive_prompt="the product on a marble kitchen counter, morning light",
        width=1024,
        height=1024,
        reference_images=["{{ ti.xcom_pull(task_ids='cut_out')[0]['image_uuid'] }}"],
        output_location="{{ params.output_location }}scenes/",
        **STORE,
        **WAIT,
    )
    upscale = RunwareUpscaleOperator(
        task_id="upscale",
        input_image="{{ ti.xcom_pull(task_ids='scene')[0]['image_uuid'] }}",
        upscale_factor=2,
        output_location="{{ params.output_location }}print/",
        deferrable=True,
        **STORE,
        **WAIT,
    )
    cut_out >> scene >> upscale

with DAG(
    dag_id="runware_tools_batch",
    schedule=None,
    catchup=False,
    params={"rows": [], "output_location": "", "storage_conn_id": ""},
):
    RunwareBackgroundRemovalOperator(
        task_id="cut_out",
        requests="{{ params.rows | tojson }}",
        output_location="{{ params.output_location }}",
        **STORE,
        **WAIT,
    )

with DAG(dag_id="runware_tools_seed_refused", schedule=None, catchup=False, params={"photo": ""}):
    RunwareImageInferenceOperator(
        task_id="edit",
        model="openai:2@2",
        positive_prompt="the same mug, in blue",
        width=512,
        height=512,
        seed_image="{{ params.photo }}",
        **WAIT,
    )
