"""The one result type reads the video and text shapes Runware documents, and tells a finished video,
a text result, a processing placeholder, a failure and an async acknowledgement apart."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_runware.api.schemas import TaskResult
from airflow_provider_runware.run.records import result_fields
from airflow_provider_runware.tasks.base import ResultKind

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
    video = TaskResult.model_validate({**DOCS_VIDEO, "status": "success"})
    assert video.kind is ResultKind.VIDEO
    assert video.key == DOCS_VIDEO["videoUUID"]
    assert (video.seed, video.cost) == (552434557, 0.49)
    assert video.to_wire()["videoURL"] == DOCS_VIDEO["videoURL"]


def test_the_older_media_fields_and_unknown_fields_are_kept() -> None:
    item = {"taskType": "videoInference", "taskUUID": TASK, "mediaUUID": "m-1", "mediaURL": "https://x/m.mp4"}
    video = TaskResult.model_validate({**item, "new": 1})
    assert video.kind is ResultKind.VIDEO
    assert video.key == "m-1"
    assert video.to_wire()["new"] == 1
    assert result_fields(item)["video_url"] == "https://x/m.mp4"


@pytest.mark.parametrize("status", ["processing", "pending"])
def test_a_processing_video_is_not_a_result(status: str) -> None:
    processing = {"taskType": "videoInference", "taskUUID": TASK, "status": status, "progress": 40}
    assert TaskResult.model_validate(processing).kind is None


@pytest.mark.parametrize("item", [DOCS_CAPTION, DOCS_ENHANCED])
def test_documented_text_results(item: dict[str, Any]) -> None:
    text = TaskResult.model_validate(item)
    assert text.kind is ResultKind.TEXT
    assert text.cost == 0
    assert result_fields(item) == {"text": item["text"], "cost": 0}


def test_age_detection_captions_carry_structured_data() -> None:
    item = {
        "taskType": "caption",
        "taskUUID": TASK,
        "structuredData": {"ageGroup": "adult", "confidence": 0.9},
    }
    assert TaskResult.model_validate(item).kind is ResultKind.TEXT
    assert result_fields(item)["structured_data"] == {"ageGroup": "adult", "confidence": 0.9}


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        (DOCS_VIDEO, ResultKind.VIDEO),
        ({**DOCS_VIDEO, "status": "success"}, ResultKind.VIDEO),
        (
            {"taskType": "imageInference", "taskUUID": TASK, "imageUUID": "i-1", "imageURL": "u"},
            ResultKind.IMAGE,
        ),
        ({"taskUUID": TASK, "status": "error", "videoUUID": "v-1"}, None),
        ({"taskType": "videoInference", "taskUUID": TASK}, None),
    ],
)
def test_result_kind(item: dict[str, Any], kind: ResultKind | None) -> None:
    assert TaskResult.model_validate(item).kind is kind
