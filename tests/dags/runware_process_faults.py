"""DAGs for process faults on real Airflow services: a worker killed while it waits for images or for a
video (blocking) and a triggerer restarted while the trigger polls (deferrable). Loaded by
test_process_faults_e2e."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator
from airflow_provider_runware.operators.video import RunwareVideoInferenceOperator

COMMON = {
    "model": "openai:2@2",
    "width": 256,
    "height": 256,
    "number_results": 2,
    "poll_interval": 0.5,
    "timeout": 180,
}

with DAG(dag_id="runware_worker_killed", schedule=None, catchup=False):
    RunwareImageInferenceOperator(
        task_id="generate",
        positive_prompt="a ceramic mug, studio light",
        deferrable=False,
        retries=1,
        retry_delay=timedelta(seconds=0),
        **COMMON,
    )

with DAG(dag_id="runware_triggerer_restarted", schedule=None, catchup=False):
    RunwareImageInferenceOperator(
        task_id="generate", positive_prompt="a glass bottle, studio light", deferrable=True, **COMMON
    )

# A video is the expensive case of paying twice: its worker is killed while Runware renders it.
with DAG(dag_id="runware_video_worker_killed", schedule=None, catchup=False):
    RunwareVideoInferenceOperator(
        task_id="generate",
        positive_prompt="a ceramic mug turning on a table",
        model="klingai:kling-video@3-standard",
        duration=5,
        width=1280,
        height=720,
        deferrable=False,
        poll_interval=0.5,
        timeout=180,
        retries=1,
        retry_delay=timedelta(seconds=0),
    )
