"""DAGs for running at scale through real Airflow services: the in-flight limit and back-pressure.

``scale_in_flight_limit``: three batch tasks of 10 rows on a connection with ``max_images_in_flight=20``,
each in the pool ``runware_images`` (20 slots, include_deferred, made by the test) with one slot per
image, so at most two of them may have images at Runware at once, whichever worker runs them.
``scale_storm``: two batch tasks at once on a connection with ``max_retries=1`` while Runware answers
429 to submissions: the connection's shared cool-down must carry both through, not their retry counts.
"""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator

COMMON = {"model": "openai:2@2", "deferrable": True, "poll_interval": 1.0, "timeout": 300}
ROWS = 10


def batches(name: str, count: int) -> list[list[dict[str, object]]]:
    return [
        [
            {"positive_prompt": f"{name} item {batch}-{row}", "width": 256, "height": 256}
            for row in range(ROWS)
        ]
        for batch in range(count)
    ]


with DAG(dag_id="scale_in_flight_limit", schedule=None, catchup=False, default_args={"retries": 0}):
    RunwareImageInferenceOperator.partial(
        task_id="generate",
        runware_conn_id="runware_limited",
        pool="runware_images",
        pool_slots=ROWS,
        **COMMON,
    ).expand(requests=batches("limited", 3))

with DAG(dag_id="scale_storm", schedule=None, catchup=False, default_args={"retries": 0}):
    RunwareImageInferenceOperator.partial(
        task_id="generate", runware_conn_id="runware_storm", **COMMON
    ).expand(requests=batches("storm", 2))
