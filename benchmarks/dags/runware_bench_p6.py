"""P6's two DAGs: the same catalogue rows as N mapped one-image tasks, and as a few mapped chunks of rows.

Sizes come from the environment (``benchmarks/mapped_batches.py`` sets them for every Airflow service):
``RUNWARE_BENCH_P6_IMAGES`` rows (500) in ``RUNWARE_BENCH_P6_CHUNKS`` chunks (5).
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator

IMAGES = int(os.environ.get("RUNWARE_BENCH_P6_IMAGES", "500"))
CHUNKS = int(os.environ.get("RUNWARE_BENCH_P6_CHUNKS", "5"))
MODEL = "openai:2@2"
ROWS = [
    {
        "positive_prompt": f"catalogue row {index}: a ceramic mug, studio product photo",
        "width": 256,
        "height": 256,
    }
    for index in range(IMAGES)
]
DAG_ARGS = {"schedule": None, "start_date": datetime(2026, 1, 1), "catchup": False}

with DAG("runware_bench_p6_single", **DAG_ARGS):
    RunwareImageInferenceOperator.partial(
        task_id="generate", model=MODEL, width=256, height=256, deferrable=True
    ).expand(positive_prompt=[row["positive_prompt"] for row in ROWS])

SIZE = -(-IMAGES // CHUNKS)
with DAG("runware_bench_p6_rows", **DAG_ARGS):
    RunwareImageInferenceOperator.partial(task_id="generate", model=MODEL, deferrable=True).expand(
        requests=[ROWS[start : start + SIZE] for start in range(0, IMAGES, SIZE)]
    )
