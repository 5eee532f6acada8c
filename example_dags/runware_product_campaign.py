"""Product photos in a bucket → cut-outs → restyled scenes → upscaled → a person picks → published.

The catalogue's packshots (``data/products/*.png``, uploaded to ``photos_location`` by ``make
demo-products``) become campaign images in five steps. Each Runware step is one operator instance in
the batch form (``requests=[...]``, one row per product, built by a small ``@task`` from the step
before), and chains by Runware's ``imageUUID``: nothing is downloaded between steps. A person then picks
which candidates go live with Airflow's own Human-in-the-Loop operator, and only those are copied
(server-side) to ``published/`` with a ``manifest.json``.
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, task

try:
    from airflow.providers.standard.operators.hitl import HITLOperator
except ImportError as missing:  # Human-in-the-Loop arrived in Airflow 3.1
    raise ImportError(
        "runware_product_campaign needs Airflow 3.1 or later: its review step is a HITLOperator "
        "(Human-in-the-Loop), which Airflow 3.0 does not have. Every other example runs on 3.0."
    ) from missing

from airflow_provider_runware.operators.runware import (
    RunwareBackgroundRemovalOperator,
    RunwareImageInferenceOperator,
    RunwareUpscaleOperator,
)

# How long the reviewer has. Airflow 3.1's standard provider times the review with execution_timeout;
# later releases with response_timeout (and warn that execution_timeout is deprecated for it).
REVIEW_TIMEOUT = (
    {"response_timeout": timedelta(days=3)}
    if "response_timeout" in inspect.signature(HITLOperator.__init__).parameters
    else {"execution_timeout": timedelta(days=3)}
)

# The campaign brief: which product photo (a file under ``photos_location``) goes into which scene.
PRODUCTS = [
    {
        "name": "mug",
        "photo": "mug.png",
        "scene": "the red ceramic mug on a sunlit kitchen counter, morning light, lifestyle photo",
    },
    {
        "name": "bottle",
        "photo": "bottle.png",
        "scene": "the blue water bottle on a mossy rock beside a mountain stream, outdoor product photo",
    },
    {
        "name": "lamp",
        "photo": "lamp.png",
        "scene": "the brass desk lamp with a green shade on a walnut desk in a cosy study at dusk",
    },
]
# Seedream 4.0: a live editing model on Runware that takes reference images ($0.03 at 1024x1024).
EDITING_MODEL = "bytedance:5@0"
BACKGROUND_REMOVAL_MODEL = "runware:110@1"
UPSCALE_MODEL = "runware:503@1"
STEP_NAMES = {"background_removal": "cut-out", "scene": "scene", "upscale": "upscale"}

DOC = """
### Product campaign with a human review step

Product photos in a bucket → **background removal** → **restyled scenes** from the cut-outs with a live
editing model (`bytedance:5@0`, Seedream 4.0, the cut-out as its reference image) → **upscale** x2 →
**review**: a person picks which candidates to publish → **publish**: the approved images are copied
server-side to `<output_location>published/<run_id>/` next to a `manifest.json`; rejected ones are not.

* **Params**: `products` (name, photo file under `photos_location`, scene prompt), `photos_location`,
  `output_location` (`s3://`, `gs://` or `wasbs://`), `storage_conn_id`, `model` (the editing model).
* **Chaining**: each Runware task is one operator in the batch form, one row per product; the next step
  takes the previous one's `image_uuid`, so no image is downloaded between steps. Retries and clears
  never pay twice.
* **Reviewing**: *Browse → Required Actions*, or the `review` task instance's *Required Actions* tab.
  The form shows each candidate's thumbnail with its prompt, model, cost and storage URI (never a signed
  URL); the **Gallery** link (and tab) shows every image of the run, the **Stored images** link on the
  `upscale` task opens the bucket folder in the cloud console. Tick the
  candidates to publish and submit. Nothing is published until someone answers; after
  `response_timeout` (3 days) the review fails and nothing is published.
* Airflow's HITL `options` are fixed when the operator is created, so the review is mapped once over the
  candidates this run produced (`review [0]`, labelled *N candidates*).
"""


def _by_row(records: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """A batch operator's XCom, one record per stored image, keyed by the request row it came from."""
    return {int(record.get("row", position)): record for position, record in enumerate(records)}


def _cost(record: dict[str, Any]) -> float:
    return float(record.get("cost") or 0.0)


with DAG(
    dag_id="runware_product_campaign",
    schedule=None,
    catchup=False,
    tags=["runware", "example", "human-in-the-loop"],
    doc_md=DOC,
    params={
        "products": Param(
            PRODUCTS,
            type="array",
            items={"type": "object", "required": ["name", "photo", "scene"]},
            description="One entry per product: name, photo (file under photos_location), scene prompt",
        ),
        "photos_location": Param("s3://runware-demo/products/", type="string"),
        "output_location": Param("s3://runware-demo/product-campaign/", type="string"),
        "storage_conn_id": Param("aws_default", type="string"),
        "model": Param(
            EDITING_MODEL, type="string", description="A Runware editing model (reference images)"
        ),
    },
    default_args={"retries": 1},
) as dag:

    @task
    def cutout_requests(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One background-removal row per product photo (the provider presigns a GET for each)."""
        assert params is not None
        location = params["photos_location"].rstrip("/") + "/"
        return [{"input_image": f"{location}{product['photo']}"} for product in params["products"]]

    cutouts = RunwareBackgroundRemovalOperator(
        task_id="remove_background",
        requests=cutout_requests(),
        model=BACKGROUND_REMOVAL_MODEL,
        output_format="PNG",
        output_location="{{ params.output_location }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        deferrable=True,
    )

    @task
    def scene_requests(
        cutouts: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """One scene per product: its scene prompt, with the cut-out (by imageUUID) as reference."""
        assert params is not None
        by_row = _by_row(cutouts)
        return [
            {"positive_prompt": product["scene"], "reference_images": [by_row[row]["image_uuid"]]}
            for row, product in enumerate(params["products"])
        ]

    scenes = RunwareImageInferenceOperator(
        task_id="restyle_scenes",
        requests=scene_requests(cutouts.output),
        model="{{ params.model }}",
        width=1024,
        height=1024,
        output_format="JPG",
        output_location="{{ params.output_location }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        deferrable=True,
        max_cost_usd=1.0,
    )

    @task
    def upscale_requests(scenes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One upscale per scene, by the scene's imageUUID, in product order."""
        by_row = _by_row(scenes)
        return [{"input_image": by_row[row]["image_uuid"]} for row in sorted(by_row)]

    upscaled = RunwareUpscaleOperator(
        task_id="upscale",
        requests=upscale_requests(scenes.output),
        model=UPSCALE_MODEL,
        upscale_factor=2,
        output_format="JPG",
        output_location="{{ params.output_location }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        deferrable=True,
    )

    @task
    def candidates(
        cutouts: list[dict[str, Any]],
        scenes: list[dict[str, Any]],
        upscaled: list[dict[str, Any]],
        params: dict[str, Any] | None = None,
        ti: Any = None,
    ) -> list[dict[str, Any]]:
        """What the reviewer decides on: one candidate per product, with what it cost end to end, and
        the path of its thumbnail in the provider's gallery (served by the api-server plugin)."""
        from airflow_provider_runware.plugins.urls import thumbnail_path
        from airflow_provider_runware.run.gallery import GALLERY_XCOM_KEY

        assert params is not None
        cut, scene, big = _by_row(cutouts), _by_row(scenes), _by_row(upscaled)
        gallery = (ti.xcom_pull(task_ids="upscale", key=GALLERY_XCOM_KEY) if ti is not None else None) or {}
        position = {int(r.get("row") or 0): r["position"] for r in gallery.get("results", [])}
        result = []
        for row, product in enumerate(params["products"]):
            costs = {
                "background_removal": _cost(cut[row]),
                "scene": _cost(scene[row]),
                "upscale": _cost(big[row]),
            }
            result.append(
                {
                    "option": product["name"],
                    "product": product["name"],
                    "prompt": scene[row].get("positive_prompt") or product["scene"],
                    "model": scene[row]["model"],
                    "cost_usd": round(sum(costs.values()), 6),
                    "costs_usd": costs,
                    "storage_uri": big[row]["storage_uri"],
                    "format": big[row].get("format", "JPG"),
                    "width": big[row].get("width"),
                    "height": big[row].get("height"),
                    "image_uuid": big[row]["image_uuid"],
                    "scene_uri": scene[row]["storage_uri"],
                    "cutout_uri": cut[row]["storage_uri"],
                    "thumbnail": (
                        thumbnail_path(ti.dag_id, ti.run_id, "upscale", -1, position[row])
                        if row in position
                        else None
                    ),
                }
            )
        return result

    @task
    def review_form(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The review's options (one per candidate) and its markdown body: each candidate's thumbnail
        (Airflow 3.1+ renders markdown images in the form; the picture comes from the provider's
        gallery endpoint, never a signed URL), prompt, model, cost and URI."""
        lines = [
            "Tick the candidates to publish; the others are not copied.",
            "",
            "| candidate | picture | prompt | model | cost | stored at |",
            "|---|---|---|---|---|---|",
        ]
        for c in candidates:
            breakdown = " + ".join(f"{STEP_NAMES[step]} ${cost:.4f}" for step, cost in c["costs_usd"].items())
            picture = f"![{c['option']}]({c['thumbnail']})" if c.get("thumbnail") else ""
            lines.append(
                f"| **{c['option']}** | {picture} | {c['prompt']} | `{c['model']}` | ${c['cost_usd']:.4f} "
                f"({breakdown}) | `{c['storage_uri']}` |"
            )
        total = sum(c["cost_usd"] for c in candidates)
        lines += [
            "",
            f"{len(candidates)} candidates, ${total:.4f} in all. The **Gallery** link on any Runware task "
            "shows the run's images (inputs beside what was made from them); **Stored images** opens their "
            "folder in the cloud console.",
        ]
        return [
            {
                "options": [c["option"] for c in candidates],
                "subject": f"Publish which of these {len(candidates)} product scenes?",
                "body": "\n".join(lines),
            }
        ]

    found = candidates(cutouts.output, scenes.output, upscaled.output)
    review = HITLOperator.partial(
        task_id="review",
        multiple=True,
        **REVIEW_TIMEOUT,
        map_index_template="{{ task.options | length }} candidates",
    ).expand_kwargs(review_form(found))

    @task
    def publish(
        candidates: list[dict[str, Any]],
        answers: list[dict[str, Any]],
        run_id: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Copy the approved candidates to published/ (server-side) and write the manifest there."""
        from airflow_provider_runware.storage.publish import copy_object, write_manifest

        assert params is not None
        chosen = {option for answer in answers for option in answer["chosen_options"]}
        reviewer = next((answer.get("responded_by_user") for answer in answers), None)
        folder = f"{params['output_location'].rstrip('/')}/published/{run_id}/"
        records = []
        for c in candidates:
            if c["option"] not in chosen:
                continue
            target = f"{folder}{c['product']}.{c['format'].lower()}"
            published = copy_object(c["storage_uri"], target, params["storage_conn_id"])
            records.append(
                {
                    "product": c["product"],
                    "published_uri": published,
                    "source_uri": c["storage_uri"],
                    "prompt": c["prompt"],
                    "model": c["model"],
                    "cost_usd": c["cost_usd"],
                    "costs_usd": c["costs_usd"],
                    "image_uuid": c["image_uuid"],
                    "approved_by": (reviewer or {}).get("name"),
                }
            )
        manifest = write_manifest(
            f"{folder}manifest.json", records, storage_conn_id=params["storage_conn_id"]
        )
        rejected = sorted(c["option"] for c in candidates if c["option"] not in chosen)
        return {
            "published": [r["published_uri"] for r in records],
            "rejected": rejected,
            "manifest": manifest,
        }

    publish(found, review.output)
