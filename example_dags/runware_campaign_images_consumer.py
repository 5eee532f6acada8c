"""Runs whenever the campaign DAG stores new images: scheduled on their Asset alias.

A stand-in for "publish to the CMS" or "notify the marketing channel": it lists the new images with
the details each Asset event carries (model, size, cost, taskUUID), never the prompt text.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, AssetAlias, task

CAMPAIGN_IMAGES = AssetAlias("runware-campaign-images")

with DAG(
    dag_id="runware_campaign_images_consumer",
    schedule=[CAMPAIGN_IMAGES],
    catchup=False,
    tags=["runware", "example"],
    doc_md="""
### New campaign images

Scheduled on the `runware-campaign-images` Asset alias: runs whenever `runware_marketing_assets`
stores images, and lists them with the details their Asset events carry (never the prompt text).
""",
) as dag:

    @task(inlets=[CAMPAIGN_IMAGES])
    def publish_new_images(inlet_events: Any = None) -> list[dict[str, Any]]:
        """The images of the triggering run, as the Asset events recorded them."""
        events = inlet_events[CAMPAIGN_IMAGES] if inlet_events is not None else []
        published = [{"uri": event.asset.uri, **(event.extra or {})} for event in events]
        for image in published:
            size = f"{image.get('width')}x{image.get('height')}"
            print(f"new campaign image {image['uri']} ({size}, ${image.get('cost')})")
        return published

    publish_new_images()
