"""Small DAGs that put the operator and sensor through one situation each (loaded by the tests).

Situations are made by the emulator's faults and by Airflow's own machinery (retries, execution
timeouts, re-running a run), never by overriding the operator's internals.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator
from airflow_provider_runware.sensors.runware import RunwareTaskSensor

COMMON: dict[str, Any] = {
    "model": "openai:2@2",
    "width": 256,
    "height": 256,
    "poll_interval": 0.5,
    "timeout": 60,
}


def scenario(dag_id: str, params: dict[str, Any] | None = None, **dag_kwargs: Any) -> DAG:
    return DAG(
        dag_id=dag_id,
        schedule=None,
        catchup=False,
        params={"prompt": "a ceramic mug", **(params or {})},
        **dag_kwargs,
    )


COMMON_BATCH = {key: value for key, value in COMMON.items() if key not in ("width", "height")}
RETRY_NOW = {"retries": 1, "retry_delay": timedelta(seconds=0)}
MANY_RETRIES = {"retries": 6, "retry_delay": timedelta(seconds=0)}

for deferrable in (True, False):
    mode = "deferrable" if deferrable else "blocking"
    with scenario(f"runware_basic_{mode}"):
        RunwareImageInferenceOperator(
            task_id="generate",
            positive_prompt="{{ params.prompt }}",
            number_results=2,
            deferrable=deferrable,
            **COMMON,
        )
    with scenario(f"runware_retry_{mode}", default_args=RETRY_NOW):
        RunwareImageInferenceOperator(
            task_id="generate",
            positive_prompt="{{ params.prompt }}",
            number_results=2,
            deferrable=deferrable,
            **COMMON,
        )
    with scenario(f"runware_killed_while_waiting_{mode}", default_args=MANY_RETRIES):
        RunwareImageInferenceOperator(
            task_id="generate",
            positive_prompt="{{ params.prompt }}",
            number_results=2,
            deferrable=deferrable,
            execution_timeout=timedelta(seconds=2),
            **COMMON,
        )
    with scenario(f"runware_partial_then_retry_{mode}", default_args=RETRY_NOW):
        RunwareImageInferenceOperator(
            task_id="generate",
            positive_prompt="{{ params.prompt }}",
            number_results=3,
            deferrable=deferrable,
            **COMMON,
        )
    with scenario(f"runware_generation_fails_{mode}"):
        RunwareImageInferenceOperator(
            task_id="generate", positive_prompt="{{ params.prompt }}", deferrable=deferrable, **COMMON
        )
    with scenario(f"runware_times_out_{mode}"):
        RunwareImageInferenceOperator(
            task_id="generate",
            positive_prompt="{{ params.prompt }}",
            deferrable=deferrable,
            **{**COMMON, "timeout": 2},
        )

with DAG(dag_id="runware_bad_rendered_value", schedule=None, catchup=False, params={"width": "500"}):
    RunwareImageInferenceOperator(
        task_id="generate",
        positive_prompt="a mug",
        **{**COMMON, "width": "{{ params.width }}", "height": 500},
    )

with scenario("runware_cost_guard"):
    RunwareImageInferenceOperator(
        task_id="generate", positive_prompt="a mug", number_results=10, max_cost_usd=0.05, **COMMON
    )

with scenario("runware_to_s3", params={"output_location": "", "storage_conn_id": ""}):
    RunwareImageInferenceOperator(
        task_id="generate",
        positive_prompt="a mug",
        number_results=2,
        output_location="{{ params.output_location }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        output_type="base64Data",
        deferrable=True,
        **COMMON,
    )

for sensor_mode in ("poke", "reschedule", "deferrable"):
    with scenario(f"runware_sensor_{sensor_mode}"):
        submit = RunwareImageInferenceOperator(
            task_id="submit", positive_prompt="a mug", number_results=2, wait_for_completion=False, **COMMON
        )
        RunwareTaskSensor(
            task_id="wait",
            task_uuids=submit.output,
            mode="reschedule" if sensor_mode == "reschedule" else "poke",
            deferrable=sensor_mode == "deferrable",
            poke_interval=0.5,
            poll_interval=0.5,
            timeout=60,
        )

with scenario("runware_upload_urls_outlive_s3", params={"output_location": "", "storage_conn_id": ""}):
    RunwareImageInferenceOperator(
        task_id="generate",
        positive_prompt="a mug",
        output_location="{{ params.output_location }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        **{**COMMON, "timeout": 8 * 24 * 3600},
    )

with scenario(
    "runware_to_s3_retry", params={"output_location": "", "storage_conn_id": ""}, default_args=RETRY_NOW
):
    RunwareImageInferenceOperator(
        task_id="generate",
        positive_prompt="a mug",
        output_location="{{ params.output_location }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        deferrable=True,
        **COMMON,
    )

BATCH_ROWS = [
    {"positive_prompt": "a mug", "width": 256, "height": 256},
    {"positive_prompt": "a lamp", "width": 512, "height": 512, "number_results": 2},
    {"positive_prompt": "a vase", "width": 256, "height": 256},
    {"positive_prompt": "a kettle", "width": 256, "height": 256},
    {"positive_prompt": "a chair", "width": 256, "height": 256},
]
for deferrable in (True, False):
    mode = "deferrable" if deferrable else "blocking"
    with scenario(f"runware_batch_{mode}", default_args=RETRY_NOW):
        RunwareImageInferenceOperator(
            task_id="generate", requests=BATCH_ROWS, deferrable=deferrable, **COMMON_BATCH
        )

for sensor_mode in ("poke", "deferrable"):
    with scenario(f"runware_sensor_retry_{sensor_mode}", default_args=RETRY_NOW):
        submit = RunwareImageInferenceOperator(
            task_id="submit", positive_prompt="a mug", number_results=2, wait_for_completion=False, **COMMON
        )
        RunwareTaskSensor(
            task_id="wait",
            task_uuids=submit.output,
            deferrable=sensor_mode == "deferrable",
            poke_interval=0.5,
            poll_interval=0.5,
            timeout=60,
        )
