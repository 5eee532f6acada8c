"""DAGs whose ledger writes fail or hang on real Airflow services (test_ledger_faults_e2e): before the
POST, after it, and while a second try of the same task instance starts. Blocking, so each try is one
worker process from plan to finish."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator

COMMON = {
    "model": "openai:2@2",
    "width": 256,
    "height": 256,
    "number_results": 2,
    "poll_interval": 0.5,
    "timeout": 180,
    "deferrable": False,
    "retries": 1,
}
PROMPTS = {
    "ledger_fails_before_post": "a brass key on velvet",
    "ledger_fails_after_post": "a paper crane on slate",
    "two_tries_at_once": "a tin robot on a shelf",
}

for dag_id, prompt in PROMPTS.items():
    with DAG(dag_id=dag_id, schedule=None, catchup=False):
        RunwareImageInferenceOperator(
            task_id="generate", positive_prompt=prompt, retry_delay=timedelta(seconds=1), **COMMON
        )
