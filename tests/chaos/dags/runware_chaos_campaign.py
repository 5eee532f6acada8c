"""The chaos campaign: one DAG run asking for 67 images every way a DAG author can.

Deferrable, blocking (``deferrable=False``) and submit-only (``wait_for_completion=False``) operators,
followed for the latter by a deferrable or rescheduling ``RunwareTaskSensor``; mapped and unmapped; all
storing to S3 through presigned URLs, with Airflow retries (and one group with ``retries=0``, Airflow's
default and the README quickstart's, where a single spurious failure shows). What each task asks for
comes from ``chaos_plan.json`` next to this file, which the invariant checker reads too, so the two
cannot disagree about how many images every task instance must account for.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator
from airflow_provider_runware.sensors.runware import RunwareTaskSensor

PLAN: dict[str, Any] = json.loads(Path(__file__).with_name("chaos_plan.json").read_text())


def operator_kwargs(group: dict[str, Any]) -> dict[str, Any]:
    """Everything but the prompt: how the group waits, where it stores, how long it may take."""
    waits = {
        "deferrable": {"deferrable": True},
        "blocking": {"deferrable": False},
        "submit": {"wait_for_completion": False},
    }[group["mode"]]
    return {
        "task_id": group["task_id"],
        "model": PLAN["model"],
        "width": PLAN["width"],
        "height": PLAN["height"],
        "number_results": group["images"],
        "output_type": group.get("output_type", "URL"),
        "output_location": PLAN["output_location"],
        "storage_conn_id": PLAN["storage_conn_id"],
        "poll_interval": PLAN["poll_interval"],
        "timeout": PLAN["timeout"],
        **({"retries": group["retries"]} if "retries" in group else {}),
        **waits,
    }


def sensor_kwargs(sensor: dict[str, Any]) -> dict[str, Any]:
    deferrable = sensor["mode"] == "deferrable"
    return {
        "task_id": sensor["task_id"],
        "deferrable": deferrable,
        "mode": "poke" if deferrable else sensor["mode"],
        "poke_interval": PLAN["poll_interval"] + 1,
        "poll_interval": PLAN["poll_interval"],
        "timeout": PLAN["timeout"],
    }


with DAG(
    dag_id=PLAN["dag_id"],
    schedule=None,
    catchup=False,
    default_args={
        "retries": PLAN["retries"],
        "retry_delay": timedelta(seconds=PLAN["retry_delay_seconds"]),
    },
    tags=["runware", "chaos"],
):
    for group in PLAN["groups"]:
        if "prompts" in group:
            images = RunwareImageInferenceOperator.partial(**operator_kwargs(group)).expand(
                positive_prompt=group["prompts"]
            )
        else:
            images = RunwareImageInferenceOperator(positive_prompt=group["prompt"], **operator_kwargs(group))
        sensor = group.get("sensor")
        if sensor is None:
            continue
        if "prompts" in group:
            RunwareTaskSensor.partial(**sensor_kwargs(sensor)).expand(task_uuids=images.output)
        else:
            RunwareTaskSensor(task_uuids=images.output, **sensor_kwargs(sensor))
