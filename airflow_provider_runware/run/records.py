"""The small XCom record of one finished result, the same for the operators and the sensor.

A record never carries base64 data or a signed URL: it is what DAG authors read downstream, so its
keys say what the result is (``image_uuid``/``image_url``, ``video_uuid``/``video_url``, or ``text``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def result_fields(item: Mapping[str, Any], *, with_url: bool = True) -> dict[str, Any]:
    """What one Runware result item says about itself, under the record's snake_case keys.

    ``with_url=False`` leaves Runware's URL out: an operator with an output location reports the stored
    object's URI instead.
    """
    if "videoUUID" in item or "mediaUUID" in item:
        fields = {
            "video_uuid": item.get("videoUUID") or item.get("mediaUUID"),
            "seed": item.get("seed"),
            "cost": item.get("cost"),
        }
        url = {"video_url": item.get("videoURL") or item.get("mediaURL")}
    elif ("text" in item or "structuredData" in item) and "imageUUID" not in item:
        text = {"text": item.get("text"), "cost": item.get("cost")}
        return {**text, "structured_data": item["structuredData"]} if "structuredData" in item else text
    else:
        fields = {
            "image_uuid": item.get("imageUUID"),
            "seed": item.get("seed"),
            "cost": item.get("cost"),
            "nsfw": item.get("NSFWContent"),
        }
        url = {"image_url": item.get("imageURL")}
    return {**fields, **url} if with_url else fields


def result_records(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Runware's wire items as records, each with its taskUUID (the sensor's XCom)."""
    return [{"task_uuid": item.get("taskUUID"), **result_fields(item)} for item in items]
