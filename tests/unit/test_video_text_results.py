"""The wire types for videoInference and text results read the shapes Runware documents, and
``result_kind`` tells a finished video, a text result, a processing placeholder, a failure and an async
acknowledgement apart (image results keep their own type, unchanged)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_runware.api.schemas import ImageResult, TextResult, VideoResult, result_kind

TASK = "12c20a98-991b-459f-b3a3-41741a7dfd19"
# https://runware.ai/docs/models/minimax-hailuo-2-3/examples ("Submerged Grand Piano Ballroom" response)
DOCS_VIDEO = {
    "taskType": "videoInference",
    "taskUUID": TASK,
    "videoUUID": "bfe8f918-e001-4d15-99ed-57b2abf769b5",
    "videoURL": "https://vm.runware.ai/video/os/a12d13/ws/5/vi/bfe8f918-e001-4d15-99ed-57b2abf769b5.mp4",
    "seed": 552434557,
    "cost": 0.49,
}
# https://runware.ai/docs/en/utilities/image-to-text (Response example)
DOCS_CAPTION = {
    "taskType": "imageCaption",
    "taskUUID": "f0a5574f-d653-47f1-ab42-e2c1631f1a47",
    "text": "arafed troll in the jungle with a backpack and a stick, cgi animation",
    "cost": 0,
}
# https://runware.ai/docs/en/utilities/prompt-enhancer (Response example, one of its four items)
DOCS_ENHANCED = {
    "taskType": "promptEnhance",
    "taskUUID": "9da1a4ad-c3de-4470-905d-5be5c042f98a",
    "text": "dog, ilya kuvshinov, artgerm",
    "cost": 0,
}


def test_a_documented_video_result() -> None:
    video = VideoResult.model_validate({**DOCS_VIDEO, "status": "success"})
    assert video.is_video
    assert video.result_uuid == DOCS_VIDEO["videoUUID"]
    assert video.video_url == DOCS_VIDEO["videoURL"]
    assert (video.seed, video.cost) == (552434557, 0.49)
    assert video.to_wire()["videoURL"] == DOCS_VIDEO["videoURL"]


def test_the_older_media_fields_and_unknown_fields_are_kept() -> None:
    video = VideoResult.model_validate(
        {
            "taskType": "videoInference",
            "taskUUID": TASK,
            "mediaUUID": "m-1",
            "mediaURL": "https://x/m.mp4",
            "new": 1,
        }
    )
    assert video.is_video
    assert video.result_uuid == "m-1"
    assert video.to_wire()["new"] == 1


def test_a_processing_video_is_not_a_result() -> None:
    processing = {"taskType": "videoInference", "taskUUID": TASK, "status": "processing", "progress": 40}
    assert not VideoResult.model_validate(processing).is_video
    assert result_kind(processing) == "processing"
    assert result_kind({**processing, "status": "pending"}) == "processing"


@pytest.mark.parametrize("item", [DOCS_CAPTION, DOCS_ENHANCED])
def test_documented_text_results(item: dict[str, Any]) -> None:
    text = TextResult.model_validate(item)
    assert text.is_text
    assert text.result_key == item["text"]
    assert text.cost == 0
    assert result_kind(item) == "text"


def test_age_detection_captions_carry_structured_data() -> None:
    item = {
        "taskType": "caption",
        "taskUUID": TASK,
        "structuredData": {"ageGroup": "adult", "confidence": 0.9},
    }
    assert TextResult.model_validate(item).is_text
    assert result_kind(item) == "text"


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        (DOCS_VIDEO, "video"),
        ({**DOCS_VIDEO, "status": "success"}, "video"),
        ({"taskType": "imageInference", "taskUUID": TASK, "imageUUID": "i-1", "imageURL": "u"}, "image"),
        ({"taskUUID": TASK, "status": "error", "error": {"code": "inferenceError"}}, "error"),
        ({"taskType": "videoInference", "taskUUID": TASK}, None),
    ],
)
def test_result_kind(item: dict[str, Any], kind: str | None) -> None:
    assert result_kind(item) == kind


def test_image_results_are_read_as_before() -> None:
    """A video item is no image: the image path (ImageResult.is_image) ignores it."""
    assert not ImageResult.model_validate(DOCS_VIDEO).is_image
