"""A data platform's job: one image for every row of a product catalogue, thousands of rows a run.

Airflow pays seconds of scheduling per task instance and caps a mapped task at ``max_map_length``
(1,024 by default), so mapping one task instance per row does not scale to a catalogue. Here the
rows are cut into chunks and each chunk is one task instance using the operator's batch form
(``requests=[...]``): every row still gets its own ledger entry, taskUUID and storage object, a
failed row is named and regenerated alone by the retry, and a chunk's images travel in POSTs of up
to 100 tasks and wait in one trigger.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_runware.catalog.image_models import DEFAULT_MODEL
from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator

CATALOGUE_FILE = Path(__file__).parent / "data" / "catalogue.csv"

DOC = """
### Catalogue images in chunks

Reads `data/catalogue.csv` (one row per SKU), keeps the first `rows` rows, and generates one image
per row in chunks of `chunk_size` rows per task instance, stored under
`<output_location><dag>/<run>/generate/map-<chunk>/row-<n>-image-0.<ext>`.

* **Params**: `rows` (how many catalogue rows this run covers), `chunk_size` (rows per task
  instance, at most a few hundred), `model`, `width`/`height` (a size the model accepts),
  `output_location`, `storage_conn_id`.
* **Retries** regenerate only failed rows; rows already generated are reused, never paid twice.
"""

with DAG(
    dag_id="runware_catalogue_batches",
    schedule=None,
    catchup=False,
    tags=["runware", "example"],
    doc_md=DOC,
    params={
        "rows": Param(2880, type="integer", minimum=1),
        "chunk_size": Param(100, type="integer", minimum=1, maximum=1000),
        "model": Param(DEFAULT_MODEL, type="string", description="Runware AIR model id"),
        "width": Param(1024, type="integer"),
        "height": Param(1024, type="integer"),
        "output_location": Param(
            os.environ.get("RUNWARE_DEMO_OUTPUT", "s3://runware-demo/catalogue/"), type="string"
        ),
        "storage_conn_id": Param(os.environ.get("RUNWARE_DEMO_STORAGE_CONN", "aws_default"), type="string"),
    },
    default_args={"retries": 2},
):

    @task
    def catalogue_chunks(params: dict[str, Any] | None = None) -> list[list[dict[str, Any]]]:
        """The catalogue as chunks of operator rows (small: prompts and sizes, no images)."""
        assert params is not None
        with CATALOGUE_FILE.open(newline="") as catalogue:
            rows = list(csv.DictReader(catalogue))[: params["rows"]]
        requests = [
            {
                "positive_prompt": f"Product photo of a {row['product']}, {row['scene']}, {row['angle']}",
                "width": params["width"],
                "height": params["height"],
            }
            for row in rows
        ]
        size = params["chunk_size"]
        return [requests[start : start + size] for start in range(0, len(requests), size)]

    RunwareImageInferenceOperator.partial(
        task_id="generate",
        model="{{ params.model }}",
        output_location="{{ params.output_location }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        deferrable=True,
        poll_interval=5,
        timeout=1800,
        map_index_template="{{ task.requests | length }} rows",
    ).expand(requests=catalogue_chunks())
