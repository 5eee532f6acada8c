"""One run that makes every Runware metric (loaded by test_metrics): a deferring sensor on submitted
images, images with a failed generation and a retry that reuses what try 1 stored, a video, texts.

The failure and the delay come from the emulator's faults, the retry from Airflow's own retries.

``runware_submit_only`` and ``runware_sense_elsewhere``: images submitted by one DAG run and waited for
by a sensor of another, which gets their taskUUIDs from its conf: nothing in its run says their model.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, Param

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator
from airflow_provider_runware.operators.text import RunwarePromptEnhanceOperator
from airflow_provider_runware.operators.video import RunwareVideoInferenceOperator
from airflow_provider_runware.sensors.runware import RunwareTaskSensor

with DAG(
    dag_id="runware_metrics",
    schedule=None,
    catchup=False,
    params={"output_location": Param("", type="string"), "storage_conn_id": Param("", type="string")},
):
    submit = RunwareImageInferenceOperator(
        task_id="submit",
        positive_prompt="a teapot",
        model="google:2@3",
        width=1024,
        height=1024,
        number_results=2,
        wait_for_completion=False,
    )
    wait = RunwareTaskSensor(
        task_id="wait", task_uuids=submit.output, deferrable=True, poll_interval=0.5, timeout=60
    )
    images = RunwareImageInferenceOperator(
        task_id="images",
        positive_prompt="a ceramic mug",
        model="openai:2@2",
        width=256,
        height=256,
        number_results=3,
        output_location="{{ params.output_location }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        poll_interval=0.5,
        retries=1,
        retry_delay=timedelta(seconds=0),
    )
    video = RunwareVideoInferenceOperator(
        task_id="video",
        positive_prompt="a ceramic mug turning slowly",
        model="klingai:kling-video@3-standard",
        duration=5,
        width=1280,
        height=720,
        deferrable=False,
        poll_interval=0.5,
    )
    enhance = RunwarePromptEnhanceOperator(
        task_id="enhance", prompt="a ceramic mug", prompt_versions=2, deferrable=False, poll_interval=0.5
    )
    submit >> wait >> images >> video >> enhance

with DAG(dag_id="runware_submit_only", schedule=None, catchup=False):
    RunwareImageInferenceOperator(
        task_id="submit",
        positive_prompt="a teapot",
        model="openai:2@2",
        width=256,
        height=256,
        number_results=2,
        wait_for_completion=False,
    )

with DAG(dag_id="runware_sense_elsewhere", schedule=None, catchup=False, params={"task_uuids": ""}):
    RunwareTaskSensor(task_id="wait", task_uuids="{{ params.task_uuids }}", poke_interval=0.5, timeout=60)
