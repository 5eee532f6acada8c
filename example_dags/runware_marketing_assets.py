"""Every morning: one image per product and size for the campaign, stored in the team's bucket.

Products come from ``data/products.json`` next to this file; each (product, size) pair becomes one
mapped task instance, so a failed image retries alone and a retry never pays twice. The model, the
sizes and the output location are DAG params, so a user with a real key can pick any live model and a
real bucket. The default model is the catalog's default: live on Runware and priced at every size it
accepts, so a cost limit always holds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, AssetAlias, Param, task

from airflow_provider_runware.catalog.image_models import DEFAULT_MODEL
from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator

PRODUCTS_FILE = Path(__file__).parent / "data" / "products.json"
# Two sizes the default model (Imagen 4 Fast) documents: square and 16:9.
SIZES = [[1024, 1024], [1408, 768]]
# Downstream DAGs schedule on this alias: every stored image becomes an Asset event through it.
CAMPAIGN_IMAGES = AssetAlias("runware-campaign-images")

DOC = """
### Campaign images

One image per product (`data/products.json`) and size, generated with Runware and stored under
`output_location`; a `manifest.json` next to them lists every image with its cost.

* **Params**: `model` (a Runware AIR id; default: the catalog's live default), `sizes` (pairs the model
  accepts), `output_location` (`s3://`, `gs://`, `wasbs://` or `https://`), `storage_conn_id`.
* **Grid**: each mapped instance is labelled *product widthxheight*.
* **Retries** reuse what an earlier try already paid for; only failed generations are generated again.
"""

with DAG(
    dag_id="runware_marketing_assets",
    schedule="0 6 * * *",
    catchup=False,
    tags=["runware", "example"],
    doc_md=DOC,
    params={
        "model": Param(DEFAULT_MODEL, type="string", description="Runware AIR model id"),
        "sizes": Param(
            SIZES,
            type="array",
            items={"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
            description="[width, height] pairs the model accepts",
        ),
        "output_location": Param(
            os.environ.get("RUNWARE_DEMO_OUTPUT", "s3://runware-demo/campaigns/"),
            type="string",
            description="Where images are stored (s3://bucket/prefix/)",
        ),
        "storage_conn_id": Param(os.environ.get("RUNWARE_DEMO_STORAGE_CONN", "aws_default"), type="string"),
    },
    default_args={"retries": 1},
) as dag:

    @task
    def campaign_requests(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One request per product and size; prompts are plain data so marketing can edit the file.

        The prompt starts with the product's name (``name: ...``): the grid label reads it back.
        """
        products = json.loads(PRODUCTS_FILE.read_text())
        sizes = (params or {}).get("sizes") or SIZES
        return [
            {
                "positive_prompt": f"{product['name']}: advertising photo, {product['style']}",
                "width": width,
                "height": height,
            }
            for product in products
            for width, height in sizes
        ]

    images = RunwareImageInferenceOperator.partial(
        task_id="generate_images",
        model="{{ params.model }}",
        output_location="{{ params.output_location }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        output_format="JPG",
        deferrable=True,
        poll_interval=2,
        timeout=900,
        outlets=[CAMPAIGN_IMAGES],
        # The grid shows "ceramic coffee mug 1024x1024" instead of a bare map index.
        map_index_template="{{ task.positive_prompt.split(':')[0] }} {{ task.width }}x{{ task.height }}",
    ).expand_kwargs(campaign_requests())

    @task
    def write_manifest(
        results: list[list[dict[str, Any]]], params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A manifest next to the images: what was generated, where it is, what it cost."""
        from airflow_provider_runware.storage import parse_output_location

        entries = [image for mapped in results for image in mapped]
        manifest = {
            "images": entries,
            "count": len(entries),
            "total_cost_usd": round(sum(image.get("cost") or 0.0 for image in entries), 6),
        }
        assert params is not None
        location = parse_output_location(params["output_location"], params["storage_conn_id"])
        uri = location.write_object("manifest.json", json.dumps(manifest, indent=2).encode())
        return {"manifest_uri": uri, "count": manifest["count"], "total_cost_usd": manifest["total_cost_usd"]}

    write_manifest(images.output)
