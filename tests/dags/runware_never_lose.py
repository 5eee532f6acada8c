"""DAGs for the never-lose checks through real Airflow services (scheduler, triggerer, workers).

Each DAG is one situation that once broke the promise "every image is stored and reported, or the
task fails naming it; no image is paid for twice". The faults come from the emulator and from
Airflow itself (execution timeouts), never from overriding the operator.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator

COMMON = {"model": "openai:2@2", "width": 256, "height": 256, "poll_interval": 1.0}
PROMPTS = ["a mug", "a lamp", "a sneaker", "a kettle", "a chair", "a vase"]

# Polling fails for a while during the deferral (dropped connections, or 503s whose body names a
# taskUUID): the images must still be reported, and generated once.
for outage in ("drop", "503"):
    with DAG(dag_id=f"never_lose_outage_{outage}", schedule=None, catchup=False):
        RunwareImageInferenceOperator(
            task_id="generate",
            positive_prompt="a mug",
            number_results=2,
            deferrable=True,
            timeout=120,
            **COMMON,
        )

# Airflow's default retries=0 and images that finish just as the task defers (apache/airflow#72716).
with DAG(dag_id="never_lose_deferral_race", schedule=None, catchup=False, default_args={"retries": 0}):
    RunwareImageInferenceOperator.partial(task_id="generate", deferrable=True, timeout=120, **COMMON).expand(
        positive_prompt=PROMPTS
    )

# Try 1 is killed by Airflow while Runware generates; try 2 must keep try 1's deadline.
with DAG(
    dag_id="never_lose_deadline",
    schedule=None,
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=0)},
):
    RunwareImageInferenceOperator(
        task_id="generate",
        positive_prompt="a mug",
        deferrable=False,
        timeout=45,
        execution_timeout=timedelta(seconds=4),
        **COMMON,
    )

# Runware forgets a task it accepted: fail by name, never submit it again.
with DAG(
    dag_id="never_lose_forgotten",
    schedule=None,
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
):
    RunwareImageInferenceOperator(
        task_id="generate", positive_prompt="a mug", deferrable=True, timeout=60, **COMMON
    )
