"""The emulator speaks videoInference, imageCaption and promptEnhance over real HTTP, in Runware's
documented shapes: videos are acknowledged and polled (``processing`` until done), decode with PyAV
with the promised frame count and size, start on the frame image when one is given, land in S3 through
``uploadEndpoint``; captions are derived from the input image and stable; enhanced prompts come in the
number and length asked. Refusals come from the same rule functions the client uses.

One emulator for the module, with videos made in 0.4 s (``--video-seconds``) so the file stays fast.
"""

from __future__ import annotations

import base64
import io
import time
import uuid
from collections.abc import Iterator
from typing import Any

import av
import httpx
import pytest
from emulator_handle import EMULATOR_API_KEY, EmulatorHandle, running_emulator
from PIL import Image, ImageChops

from airflow_provider_runware.emulator.video_render import CLIP_SECONDS, FPS
from airflow_provider_runware.tasks.prompt_enhance import validate_prompt_enhance
from airflow_provider_runware.tasks.video_inference import validate_video_inference

pytestmark = pytest.mark.integration

MAGENTA = (200, 30, 120)
TEAL = (20, 160, 150)


@pytest.fixture(scope="module")
def fast_video_emulator() -> Iterator[EmulatorHandle]:
    with running_emulator(
        EMULATOR_API_KEY, "--video-seconds", "0.4", "--generation-seconds", "0.05"
    ) as handle:
        yield handle


@pytest.fixture
def emu(fast_video_emulator: EmulatorHandle) -> EmulatorHandle:
    fast_video_emulator.reset()
    return fast_video_emulator


def png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def video_task(**overrides: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "google:3@3",
        "positivePrompt": "a paper boat drifting down a rainy street",
        "width": 1920,
        "height": 1080,
        "duration": 8,
        "includeCost": True,
    }
    task.update(overrides)
    return {key: value for key, value in task.items() if value is not None}


def poll(emu: EmulatorHandle, task_uuid: str, timeout: float = 15.0) -> list[dict[str, Any]]:
    """getResponse until no item is processing; the last answer's items."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = emu.post([{"taskType": "getResponse", "taskUUID": task_uuid}]).json()
        items: list[dict[str, Any]] = body.get("data", []) + body.get("errors", [])
        if items and all(item.get("status") not in ("processing", "pending") for item in items):
            return items
        time.sleep(0.05)
    raise AssertionError(f"{task_uuid} still processing after {timeout} s")


def decode(data: bytes) -> tuple[list[Image.Image], str]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_image() for frame in container.decode(stream)]
        return frames, stream.codec_context.name


def mean_distance(picture: Image.Image, colour: tuple[int, int, int]) -> float:
    mean = picture.convert("RGB").resize((1, 1)).getpixel((0, 0))
    assert isinstance(mean, tuple)
    return float(sum((a - b) ** 2 for a, b in zip(mean, colour, strict=True)) ** 0.5)


def test_video_is_acknowledged_then_polled_to_a_decodable_mp4(emu: EmulatorHandle) -> None:
    emu.fault(kind="queue_delay", seconds=1.0)
    task = video_task(seed=42)
    ack = emu.post([task])
    assert ack.status_code == 200
    assert ack.json() == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
    [processing] = emu.post([{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]).json()["data"]
    assert processing == {"taskType": "videoInference", "taskUUID": task["taskUUID"], "status": "processing"}

    [item] = poll(emu, task["taskUUID"])
    assert item["status"] == "success"
    assert (item["seed"], item["cost"]) == (42, 0.8)  # Veo 3.1 Fast: $0.1/s at 1080p, 8 s
    assert item["videoURL"].endswith(f"/videos/{item['videoUUID']}.mp4")
    response = httpx.get(item["videoURL"], trust_env=False)
    assert response.headers["content-type"] == "video/mp4"
    frames, codec = decode(response.content)
    assert codec == "h264"
    assert len(frames) == CLIP_SECONDS * FPS
    assert frames[0].size == (320, 180)  # 1920x1080 scaled down, aspect kept


def test_same_request_same_pictures(emu: EmulatorHandle) -> None:
    tasks = [video_task(seed=5), video_task(seed=5), video_task(seed=6)]
    emu.post(tasks)
    files = [httpx.get(poll(emu, t["taskUUID"])[0]["videoURL"], trust_env=False).content for t in tasks]
    same, again, other = (decode(data)[0] for data in files)
    assert all(ImageChops.difference(a, b).getbbox() is None for a, b in zip(same, again, strict=True))
    assert ImageChops.difference(same[0], other[0]).getbbox() is not None


def test_first_and_last_frames_show_the_frame_images(
    emu: EmulatorHandle, s3_client: Any, s3_bucket: str
) -> None:
    """The first frame image comes from a presigned S3 GET URL (downloaded like every image input)."""
    s3_client.put_object(Bucket=s3_bucket, Key="frames/first.png", Body=png(MAGENTA))
    url = s3_client.generate_presigned_url(
        "get_object", Params={"Bucket": s3_bucket, "Key": "frames/first.png"}, ExpiresIn=300
    )
    frames_in = [{"inputImage": url, "frame": "first"}, {"inputImage": data_uri(png(TEAL)), "frame": "last"}]
    task = video_task(width=None, height=None, inputs={"frameImages": frames_in}, outputFormat="mov")
    assert emu.post([task]).status_code == 200
    [item] = poll(emu, task["taskUUID"])
    assert item["videoURL"].endswith(".mov")
    frames, _ = decode(httpx.get(item["videoURL"], trust_env=False).content)
    assert frames[0].size == (64, 48)  # no size asked: the frame image's own (small enough to keep)
    assert mean_distance(frames[0], MAGENTA) < 12
    assert mean_distance(frames[-1], TEAL) < 12
    assert mean_distance(frames[10], MAGENTA) > 1  # something moves in between
    downloads = [entry for entry in emu.requests("input") if entry["source"] == "url"]
    assert [(entry["status"], entry["target"]) for entry in downloads] == [(200, url.split("?", 1)[0])]


def test_upload_endpoint_put_lands_in_s3(emu: EmulatorHandle, s3_client: Any, s3_bucket: str) -> None:
    target = s3_client.generate_presigned_url(
        "put_object", Params={"Bucket": s3_bucket, "Key": "videos/boat.webm"}, ExpiresIn=300
    )
    task = video_task(model="minimax:4@2", width=1366, height=768, duration=6, outputFormat="WEBM")
    task["frameImages"] = [{"inputImage": data_uri(png(TEAL, (96, 54)))}]
    task["uploadEndpoint"] = target
    assert emu.post([task]).status_code == 200
    [item] = poll(emu, task["taskUUID"])
    assert item["cost"] == 0.19  # MiniMax Hailuo 2.3 Fast, 768p, 6 s
    stored = s3_client.get_object(Bucket=s3_bucket, Key="videos/boat.webm")["Body"].read()
    assert stored == httpx.get(item["videoURL"], trust_env=False).content
    frames, codec = decode(stored)
    assert codec == "vp8"
    assert frames[0].size == (320, 178)  # 1366x768 scaled to a 320-pixel width, even heights
    assert mean_distance(frames[0], TEAL) < 12
    [upload] = emu.requests("upload")
    assert (upload["videoUUID"], upload["status"], upload["bytes"]) == (item["videoUUID"], 200, len(stored))
    assert "X-Amz-Signature" not in upload["target"]


def test_refusals_are_the_rule_functions_verdicts(emu: EmulatorHandle) -> None:
    task = video_task(deliveryMethod="sync", duration=5)
    response = emu.post([task])
    assert response.status_code == 400
    errors = response.json()["errors"]
    expected = validate_video_inference(task)
    assert [(e["code"], e["parameter"], e["message"]) for e in errors] == [
        (v.code, v.parameter, v.message()) for v in expected
    ]
    assert {e["parameter"] for e in errors} == {"deliveryMethod", "duration"}
    assert all(e["taskUUID"] == task["taskUUID"] and e["taskType"] == "videoInference" for e in errors)


def test_a_frame_image_in_no_documented_form_is_refused_at_submission(emu: EmulatorHandle) -> None:
    task = video_task(width=None, height=None, frameImages=[{"inputImage": "https://example.com/x.png"}])
    response = emu.post([task])
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["code"], error["parameter"]) == ("invalidFrameImages", "frameImages[0].inputImage")


def test_failed_generation_and_unknown_task(emu: EmulatorHandle) -> None:
    emu.fault(kind="fail_generation", code="providerContentPolicyViolation", model="google:3@3")
    task = video_task()
    emu.post([task])
    [failed] = poll(emu, task["taskUUID"])
    assert failed["status"] == "error"
    assert failed["error"]["code"] == "providerContentPolicyViolation"
    unknown = emu.post([{"taskType": "getResponse", "taskUUID": str(uuid.uuid4())}])
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["code"] == "taskNotFound"


def caption_task(image: str, **overrides: Any) -> dict[str, Any]:
    return {"taskType": "imageCaption", "taskUUID": str(uuid.uuid4()), "inputImage": image, **overrides}


def test_captions_describe_the_image_and_are_stable(emu: EmulatorHandle) -> None:
    magenta = data_uri(png(MAGENTA))
    first = emu.post([caption_task(magenta, includeCost=True)]).json()["data"]
    again = emu.post([caption_task(magenta)]).json()["data"]
    teal = emu.post([caption_task(data_uri(png(TEAL, (80, 60))))]).json()["data"]
    assert set(first[0]) == {"taskType", "taskUUID", "text", "cost"}
    assert first[0]["cost"] == 0
    assert first[0]["text"] == again[0]["text"]
    assert "64x48" in first[0]["text"]
    assert "80x60" in teal[0]["text"]
    assert "teal" in teal[0]["text"]
    assert teal[0]["text"] != first[0]["text"]


def test_caption_in_runware_sdks_shape_and_async(emu: EmulatorHandle) -> None:
    image = data_uri(png(MAGENTA))
    [sdk_shaped] = emu.post(
        [
            {
                "taskType": "caption",
                "taskUUID": str(uuid.uuid4()),
                "model": "runware:150@2",
                "inputs": {"image": image},
            }
        ]
    ).json()["data"]
    assert sdk_shaped["taskType"] == "caption"
    task = caption_task(image, deliveryMethod="async")
    assert emu.post([task]).json()["data"] == [{"taskType": "imageCaption", "taskUUID": task["taskUUID"]}]
    [polled] = poll(emu, task["taskUUID"])
    assert polled["text"] == sdk_shaped["text"]
    refused = emu.post([caption_task(image, model="llava")])
    assert refused.json()["errors"][0]["code"] == "invalidModel"


def test_prompt_enhance_versions_count_length_and_stability(emu: EmulatorHandle) -> None:
    task = {
        "taskType": "promptEnhance",
        "taskUUID": str(uuid.uuid4()),
        "prompt": "a lighthouse keeper's cat watching a storm roll in over the bay at dusk",
        "promptMaxLength": 40,
        "promptVersions": 5,
        "includeCost": True,
    }
    items = emu.post([task]).json()["data"]
    assert len(items) == 5
    texts = [item["text"] for item in items]
    assert len(set(texts)) == 5
    assert all(len(text) <= 40 for text in texts)
    assert {item["taskUUID"] for item in items} == {task["taskUUID"]}
    polled = emu.post([{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]).json()["data"]
    assert [item["text"] for item in polled] == texts, "the same task always says the same"
    repeat = emu.post([{**task, "taskUUID": str(uuid.uuid4())}]).json()["data"]
    assert [item["text"] for item in repeat] != texts, "another task of the same prompt samples anew"
    bad = {**task, "taskUUID": str(uuid.uuid4()), "promptVersions": 9}
    [error] = emu.post([bad]).json()["errors"]
    [violation] = validate_prompt_enhance(bad)
    assert (error["code"], error["parameter"], error["message"]) == (
        violation.code,
        violation.parameter,
        violation.message(),
    )
