"""Lineage for generated images: Airflow Asset events and OpenLineage facets.

Stored images are the product of a campaign DAG, so downstream DAGs should be able to react to them
(Asset events through an ``AssetAlias``, because object URIs are only known at run time) and data
catalogs should see what produced them (OpenLineage). OpenLineage is optional: without its provider
installed the operator simply reports no lineage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any
from urllib.parse import urlsplit


def prompt_sha256(prompt: str) -> str:
    """Prompts may be confidential campaign copy: lineage carries a hash, not the text."""
    return hashlib.sha256(prompt.encode()).hexdigest()


def asset_extra(image: Mapping[str, Any]) -> dict[str, Any]:
    """What a downstream DAG learns from one image's Asset event (no secrets, no prompt text)."""
    return {
        "task_uuid": image.get("task_uuid"),
        "image_uuid": image.get("image_uuid"),
        "model": image.get("model"),
        "width": image.get("width"),
        "height": image.get("height"),
        "cost": image.get("cost"),
        "prompt_sha256": prompt_sha256(str(image.get("positive_prompt", ""))),
    }


def emit_asset_events(outlets: Iterable[Any], outlet_events: Any, images: Sequence[Mapping[str, Any]]) -> int:
    """Add one Asset event per stored image to every ``AssetAlias`` among the task's outlets."""
    from airflow.sdk import Asset, AssetAlias

    aliases = [outlet for outlet in outlets if isinstance(outlet, AssetAlias)]
    stored = [image for image in images if image.get("storage_uri")]
    for alias in aliases:
        for image in stored:
            outlet_events[alias].add(Asset(str(image["storage_uri"])), extra=asset_extra(image))
    return len(aliases) * len(stored)


def _namespace_and_name(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")


@cache
def _runware_run_facet_class() -> type:
    from airflow.providers.common.compat.openlineage.facet import RunFacet
    from attrs import define

    @define
    class RunwareRunFacet(RunFacet):
        """Model, prompt hash, taskUUIDs and cost of the images one task instance produced."""

        model: str
        promptSha256: str  # OpenLineage facet fields are camelCase on the wire
        images: int
        totalCostUsd: float
        taskUUIDs: list[str]

    return RunwareRunFacet


def operator_lineage(model: str, prompt: str, images: Sequence[Mapping[str, Any]]) -> Any:
    """An ``OperatorLineage`` with one output dataset per stored image, or None without OpenLineage."""
    try:
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    outputs = [
        Dataset(*_namespace_and_name(str(image["storage_uri"])))
        for image in images
        if image.get("storage_uri")
    ]
    facet = _runware_run_facet_class()(
        model=model,
        promptSha256=prompt_sha256(prompt),
        images=len(images),
        totalCostUsd=round(sum(float(image.get("cost") or 0.0) for image in images), 6),
        taskUUIDs=[str(image.get("task_uuid")) for image in images],
    )
    return OperatorLineage(outputs=outputs, run_facets={"runware": facet})
