"""The gallery's second end-to-end DAG: what a sensor waited for, and a mapped task with 11 instances.

``submit`` sends one image without waiting and ``wait`` (a ``RunwareTaskSensor``) waits for it: its
record takes the model and prompt from ``submit``'s. ``elsewhere`` waits for taskUUIDs handed over in the
conf (submitted by another DAG run): nothing in this run recorded them, so their model is unknown.
``mapped`` makes one image per map index; a scripted emulator fault fails the first generation, so the
instance that met it finishes (on its retry) after the others, as a slow instance would.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator
from airflow_provider_runware.sensors.runware import RunwareTaskSensor

MAP_SIZE = 11  # map index 10 must sort after 2
COMMON = {"poll_interval": 0.5, "timeout": 60, "deferrable": False}
SENSOR = {"poke_interval": 0.5, "poll_interval": 0.5, "timeout": 60}

with DAG(dag_id="runware_gallery_more", schedule=None, catchup=False, params={"elsewhere": []}):
    submit = RunwareImageInferenceOperator(
        task_id="submit",
        positive_prompt="a teapot on a windowsill",
        model="google:2@3",
        width=1024,
        height=1024,
        wait_for_completion=False,
        **COMMON,
    )
    RunwareTaskSensor(task_id="wait", task_uuids=submit.output, **SENSOR)
    RunwareTaskSensor(task_id="elsewhere", task_uuids="{{ params.elsewhere | tojson }}", **SENSOR)
    RunwareImageInferenceOperator.partial(
        task_id="mapped",
        model="openai:2@2",
        width=256,
        height=256,
        retries=1,
        retry_delay=timedelta(seconds=0),
        **COMMON,
    ).expand(positive_prompt=[f"a mug, variant {number}" for number in range(MAP_SIZE)])
