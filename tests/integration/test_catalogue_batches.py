"""The batch form at catalogue scale: rows in chunks, one task instance per chunk, real S3 (moto)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from airflow_runs import run_dag
from emulator_handle import EmulatorHandle


def test_a_catalogue_in_chunks_stores_one_object_per_row_with_few_posts(
    airflow: EmulatorHandle, s3_bucket: str, aws_conn: str, s3_client: Any
) -> None:
    conf = {
        "rows": 150,
        "chunk_size": 120,
        "model": "openai:2@2",
        "width": 256,
        "height": 256,
        "output_location": f"s3://{s3_bucket}/catalogue/",
        "storage_conn_id": aws_conn,
    }
    outcome = run_dag("runware_catalogue_batches.py", "runware_catalogue_batches", conf=conf)
    assert outcome.state == "success", outcome.tasks
    chunks = outcome.xcom("generate")
    assert [len(chunk) for chunk in chunks] == [120, 30]
    rows = [sorted(image["row"] for image in chunk) for chunk in chunks]
    assert rows == [list(range(120)), list(range(30))]
    stored = {image["storage_uri"] for chunk in chunks for image in chunk}
    keys = {obj["Key"] for page in _pages(s3_client, s3_bucket) for obj in page}
    assert {f"s3://{s3_bucket}/{key}" for key in keys} == stored
    assert len(stored) == 150
    posts = Counter(entry["post"] for entry in airflow.tasks_of_type("imageInference"))
    assert sorted(posts.values()) == [20, 30, 100], "each chunk submitted in POSTs of up to 100 tasks"
    assert len(airflow.requests("generation")) == 150


def _pages(s3_client: Any, bucket: str) -> list[list[dict[str, Any]]]:
    paginator = s3_client.get_paginator("list_objects_v2")
    return [page.get("Contents", []) for page in paginator.paginate(Bucket=bucket)]
