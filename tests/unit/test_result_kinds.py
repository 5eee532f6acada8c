"""Results that are not images: videos and texts, read from Runware's documented item shapes.

The items below are copied from Runware's pages (cited per item), not produced by our emulator, so
the parser is checked against the API's own examples rather than against itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_runware.api.schemas import ApiResponse, PollState, TaskResult
from airflow_provider_runware.hooks.runware import summarize_submission
from airflow_provider_runware.run.records import result_records
from airflow_provider_runware.tasks.base import ResultKind

VIDEO_UUID = "12c20a98-991b-459f-b3a3-41741a7dfd19"
# https://runware.ai/docs/models/minimax-hailuo-2-3/examples (getResponse adds "status": "success")
VIDEO_ITEM = {
    "taskType": "videoInference",
    "taskUUID": VIDEO_UUID,
    "videoUUID": "bfe8f918-e001-4d15-99ed-57b2abf769b5",
    "videoURL": "https://vm.runware.ai/video/os/a12d13/ws/5/vi/bfe8f918-e001-4d15-99ed-57b2abf769b5.mp4",
    "seed": 552434557,
    "cost": 0.49,
}
# https://runware.ai/docs/utilities/task-responses: a task still running
PROCESSING_ITEM = {
    "taskType": "videoInference",
    "taskUUID": VIDEO_UUID,
    "status": "processing",
    "progress": 40,
}
CAPTION_UUID = "f0a5b1c2-3d4e-4f60-8a7b-9c0d1e2f3a4b"
# https://runware.ai/docs/en/utilities/image-to-text
CAPTION_ITEM = {
    "taskType": "imageCaption",
    "taskUUID": CAPTION_UUID,
    "text": "arafed troll in the jungle with a backpack and a stick",
    "cost": 0,
}
PROMPT_UUID = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"


def _poll(expected: dict[str, int], *items: dict[str, Any]) -> PollState:
    return PollState.expecting(expected).merged(ApiResponse(data=list(items)))


def test_a_processing_video_is_not_a_result_and_keeps_the_task_waiting() -> None:
    state = _poll({VIDEO_UUID: 1}, PROCESSING_ITEM)
    assert state.pending == [VIDEO_UUID]
    assert state.results() == []


def test_a_finished_video_ends_its_task_once_however_often_it_is_polled() -> None:
    state = _poll({VIDEO_UUID: 1}, PROCESSING_ITEM)
    for _ in range(3):
        state.merge(ApiResponse(data=[{**VIDEO_ITEM, "status": "success"}]))
    [video] = state.results()
    assert state.done
    assert video.kind is ResultKind.VIDEO
    assert video.video_url == VIDEO_ITEM["videoURL"]
    assert result_records(state.result_dicts()) == [
        {
            "task_uuid": VIDEO_UUID,
            "video_uuid": VIDEO_ITEM["videoUUID"],
            "video_url": VIDEO_ITEM["videoURL"],
            "seed": 552434557,
            "cost": 0.49,
        }
    ]


def test_a_text_result_has_no_uuid_and_is_told_apart_by_its_text() -> None:
    first = {
        "taskType": "promptEnhance",
        "taskUUID": PROMPT_UUID,
        "text": "a red fox, golden hour",
        "cost": 0,
    }
    second = {**first, "text": "a red fox in snow, cinematic light"}
    state = _poll({PROMPT_UUID: 2}, first, first, second)
    assert state.done
    assert sorted(result.text or "" for result in state.results()) == sorted([first["text"], second["text"]])
    assert {result.kind for result in state.results()} == {ResultKind.TEXT}


def test_the_caption_record_is_its_text_and_cost() -> None:
    state = _poll({CAPTION_UUID: 1}, CAPTION_ITEM)
    assert result_records(state.result_dicts()) == [
        {"task_uuid": CAPTION_UUID, "text": CAPTION_ITEM["text"], "cost": 0}
    ]


@pytest.mark.parametrize(
    "item",
    [
        {"taskType": "videoInference", "taskUUID": VIDEO_UUID},  # the async acknowledgement
        {**VIDEO_ITEM, "status": "error"},
        {"taskType": "imageCaption", "taskUUID": CAPTION_UUID, "status": "processing"},
    ],
)
def test_acknowledgements_and_unfinished_items_are_not_results(item: dict[str, Any]) -> None:
    assert TaskResult.model_validate(item).key is None


def test_a_submission_answered_at_once_carries_its_results() -> None:
    """Runware may answer a caption in the POST itself: the answer is a result, not only an ack."""
    answer = ApiResponse(data=[CAPTION_ITEM, {"taskType": "videoInference", "taskUUID": VIDEO_UUID}])
    submitted = summarize_submission(answer, [{"taskUUID": CAPTION_UUID}, {"taskUUID": VIDEO_UUID}])
    assert submitted.accepted == [CAPTION_UUID, VIDEO_UUID]
    assert [item["taskUUID"] for item in submitted.finished] == [CAPTION_UUID]
    assert submitted.finished[0]["text"] == CAPTION_ITEM["text"]


def test_video_base64_never_crosses_a_process_boundary() -> None:
    item = {**VIDEO_ITEM, "videoBase64Data": "AAAA" * 1000}
    [result] = _poll({VIDEO_UUID: 1}, item).result_dicts()
    assert "videoBase64Data" not in result
