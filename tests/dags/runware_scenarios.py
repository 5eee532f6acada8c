"""Small DAGs that put the operator and sensor through one situation each (loaded by the tests)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG

from airflow_provider_runware.exceptions import RunwareUploadError
from airflow_provider_runware.operators.runware import LEDGER_KEY, RunwareImageInferenceOperator
from airflow_provider_runware.sensors.runware import RunwareTaskSensor

COMMON: dict[str, Any] = {
    "model": "openai:2@2",
    "width": 256,
    "height": 256,
    "poll_interval": 0.5,
    "timeout": 60,
}


class CrashAfterSubmitOperator(RunwareImageInferenceOperator):
    """Dies like a killed worker right after Runware accepted the tasks, on the first try only."""

    def _post(self, ledger: Any, tasks: list[dict[str, Any]], context: Any) -> None:
        super()._post(ledger, tasks, context)
        if context["ti"].try_number == 1:
            raise RuntimeError("simulated worker crash after submit")


class CrashBeforePostOperator(RunwareImageInferenceOperator):
    """Dies after the UUIDs were stored but before the POST left: the window Airflow's mixin documents."""

    def _post(self, ledger: Any, tasks: list[dict[str, Any]], context: Any) -> None:
        if context["ti"].try_number == 1:
            raise RuntimeError("simulated worker crash before the POST")
        super()._post(ledger, tasks, context)


class CrashWhileWaitingOperator(RunwareImageInferenceOperator):
    """Dies while polling in the worker (blocking path), on the first try only."""

    def poll_until_complete(self, external_id: Any, context: Any) -> None:
        if context["ti"].try_number == 1:
            raise RuntimeError("simulated worker crash while waiting")
        super().poll_until_complete(external_id, context)


class ForgetfulCrashOperator(CrashAfterSubmitOperator):
    """Crashes after submit, and its retry finds task_state_store emptied (as if it had been wiped)."""

    def _submit(self, context: Any) -> Any:
        if context["ti"].try_number == 2:
            context["task_state_store"].set(LEDGER_KEY, {})
        return super()._submit(context)


class RetryAfterUploadFailureOperator(RunwareImageInferenceOperator):
    """Try 1 ends with a non-fatal crash right after an upload went missing (as when Airflow itself
    retries a task); try 2 finds the storage fixed if the ``fix_storage`` param says so."""

    def _finish(self, context: Any, ledger: Any) -> Any:
        if context["ti"].try_number == 1:
            try:
                return super()._finish(context, ledger)
            except RunwareUploadError as error:
                raise RuntimeError("simulated crash after the upload failure") from error
        location = self._location()
        if context["params"]["fix_storage"] and location is not None:
            for entry in ledger.entries:
                if entry.error_is_storage:
                    location.write_object(self._object_name(entry), b"uploaded late")
        return super()._finish(context, ledger)


def scenario(dag_id: str, params: dict[str, Any] | None = None, **dag_kwargs: Any) -> DAG:
    return DAG(
        dag_id=dag_id,
        schedule=None,
        catchup=False,
        params={"prompt": "a ceramic mug", **(params or {})},
        **dag_kwargs,
    )


RETRY_NOW = {"retries": 1, "retry_delay": timedelta(seconds=0)}

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
    with scenario(f"runware_crash_after_submit_{mode}", default_args=RETRY_NOW):
        CrashAfterSubmitOperator(
            task_id="generate",
            positive_prompt="{{ params.prompt }}",
            number_results=2,
            deferrable=deferrable,
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

with scenario("runware_crash_before_post", default_args=RETRY_NOW):
    CrashBeforePostOperator(
        task_id="generate", positive_prompt="{{ params.prompt }}", deferrable=True, **COMMON
    )

with scenario("runware_crash_while_waiting", default_args=RETRY_NOW):
    CrashWhileWaitingOperator(
        task_id="generate", positive_prompt="{{ params.prompt }}", deferrable=False, **COMMON
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

with scenario("runware_crash_with_wiped_state", default_args=RETRY_NOW):
    ForgetfulCrashOperator(
        task_id="generate", positive_prompt="a mug", number_results=2, deferrable=True, **COMMON
    )

with scenario(
    "runware_upload_recheck",
    params={"output_location": "", "storage_conn_id": "", "fix_storage": False},
    default_args=RETRY_NOW,
):
    RetryAfterUploadFailureOperator(
        task_id="generate",
        positive_prompt="a mug",
        output_location="{{ params.output_location }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        deferrable=True,
        **COMMON,
    )
