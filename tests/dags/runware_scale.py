"""A DAG for running at scale through real Airflow services: the in-flight limit under a 429 storm.

``scale_limit_under_storm``: three batch tasks of 10 rows on a connection with
``max_images_in_flight=20`` and ``max_retries=1``, each in the pool ``runware_images`` (20 slots,
include_deferred, made by the test) with one slot per image, so at most two of them may have images at
Runware at once, whichever worker runs them; the test makes Runware answer 429 to the first
submissions, which the connection's shared cool-down must carry the tasks through, not their retry
counts.
"""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator

ROWS = 10

with DAG(dag_id="scale_limit_under_storm", schedule=None, catchup=False, default_args={"retries": 0}):
    RunwareImageInferenceOperator.partial(
        task_id="generate",
        runware_conn_id="runware_scale",
        pool="runware_images",
        pool_slots=ROWS,
        model="openai:2@2",
        deferrable=True,
        poll_interval=1.0,
        timeout=300,
    ).expand(
        requests=[
            [{"positive_prompt": f"item {batch}-{row}", "width": 256, "height": 256} for row in range(ROWS)]
            for batch in range(3)
        ]
    )
