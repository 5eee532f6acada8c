"""A product photo → its caption → a richer prompt → a scene image → a short product video.

Four Runware task types in one DAG, each its own operator on the same machinery (validation before
any HTTP call, deterministic taskUUIDs, the never-pay-twice ledger, deferral while Runware works):

1. ``caption``: ``imageCaption`` describes the packshot in the bucket (a presigned GET, checked first).
2. ``enhance_prompt``: ``promptEnhance`` turns that description into a scene prompt.
3. ``scene_image``: ``imageInference`` draws the scene and Runware PUTs it to the bucket.
4. ``product_video``: ``videoInference`` animates the scene, its first frame the scene image (chained
   by ``image_uuid``: nothing is downloaded between steps), and Runware PUTs the MP4 to the bucket.

``make demo-video`` runs it on the bundled emulator and a local S3 server and leaves the video and a
contact sheet (photo, scene, the video's first and last frames) in ``demo-output/video/``.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from airflow_provider_runware.catalog.image_models import DEFAULT_MODEL
from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator
from airflow_provider_runware.operators.text import RunwareImageCaptionOperator, RunwarePromptEnhanceOperator
from airflow_provider_runware.operators.video import RunwareVideoInferenceOperator

# Kling VIDEO 3.0 Standard: live on Runware, $0.084 per second of video without audio.
VIDEO_MODEL = "klingai:kling-video@3-standard"
CAPTION = "{{ ti.xcom_pull(task_ids='caption')[0]['text'] }}"
# Each priced step refuses to submit when the catalog's estimate exceeds this (a 5 s Kling video is
# estimated at $0.63: with audio, as the catalog never undershoots).
MAX_COST_USD = 2.0
ENHANCED_PROMPT = "{{ ti.xcom_pull(task_ids='enhance_prompt')[0]['text'] }}"

with DAG(
    dag_id="runware_product_video",
    schedule=None,
    catchup=False,
    tags=["runware", "example", "video"],
    params={
        "photos_location": Param("s3://runware-demo/photos/", type="string"),
        "photo": Param("mug.png", type="string", description="A packshot under photos_location"),
        "output_location": Param("s3://runware-demo/product-video/", type="string"),
        "storage_conn_id": Param("aws_default", type="string"),
        "image_model": Param(DEFAULT_MODEL, type="string"),
        "video_model": Param(VIDEO_MODEL, type="string"),
        "duration": Param(5, type="integer", minimum=1),
    },
    doc_md=__doc__,
) as dag:
    caption = RunwareImageCaptionOperator(
        task_id="caption",
        input_image="{{ params.photos_location }}{{ params.photo }}",
        storage_conn_id="{{ params.storage_conn_id }}",
    )

    enhance_prompt = RunwarePromptEnhanceOperator(
        task_id="enhance_prompt",
        prompt="{{ (ti.xcom_pull(task_ids='caption')[0]['text'] ~ ', lifestyle product scene')[:300] }}",
        prompt_max_length=120,
    )

    scene_image = RunwareImageInferenceOperator(
        task_id="scene_image",
        positive_prompt=ENHANCED_PROMPT,
        model="{{ params.image_model }}",
        width=1408,
        height=768,
        output_location="{{ params.output_location }}scenes/",
        storage_conn_id="{{ params.storage_conn_id }}",
        max_cost_usd=MAX_COST_USD,
    )

    product_video = RunwareVideoInferenceOperator(
        task_id="product_video",
        positive_prompt=ENHANCED_PROMPT + " The camera slowly circles the product.",
        model="{{ params.video_model }}",
        duration="{{ params.duration }}",
        frame_images=["{{ ti.xcom_pull(task_ids='scene_image')[0]['image_uuid'] }}"],
        output_location="{{ params.output_location }}videos/",
        storage_conn_id="{{ params.storage_conn_id }}",
        max_cost_usd=MAX_COST_USD,
    )

    caption >> enhance_prompt >> scene_image >> product_video
