"""Runware's official Python SDK (runware-sdk 1.8.0, REST transport), an oracle that shares no code with
the emulator, submits videoInference, imageCaption (also in its own ``caption`` shape) and promptEnhance
to it unchanged: it polls videos to their ``videoUUID``/``videoURL``, reads text results, and parses the
refusals as its own errors. Runs ``tests/sdk_conformance_new_tasks.py`` in ``.venv-sdk`` (see
test_sdk_conformance.py), against an emulator whose videos take 0.4 s.
"""

from __future__ import annotations

import io
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from emulator_handle import EMULATOR_API_KEY, REPO_ROOT, running_emulator
from PIL import Image

pytestmark = pytest.mark.integration

SDK_PYTHON = REPO_ROOT / ".venv-sdk" / "bin" / "python"
CLIENT_SCRIPT = Path(__file__).resolve().parent.parent / "sdk_conformance_new_tasks.py"
FRAME_COLOUR = (30, 90, 200)


@pytest.fixture(scope="module")
def sdk_printed(s3_client: Any) -> Iterator[dict[str, Any]]:
    if not SDK_PYTHON.exists():
        pytest.fail(
            f"{SDK_PYTHON} is missing: `make test` creates it. The SDK conformance check never skips."
        )
    bucket = f"runware-sdk-frames-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    buffer = io.BytesIO()
    Image.new("RGB", (96, 54), FRAME_COLOUR).save(buffer, "PNG")
    s3_client.put_object(Bucket=bucket, Key="frame.png", Body=buffer.getvalue())
    frame_url = s3_client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "frame.png"}, ExpiresIn=600
    )
    with running_emulator(EMULATOR_API_KEY, "--video-seconds", "0.4") as emulator:
        completed = subprocess.run(
            [str(SDK_PYTHON), str(CLIENT_SCRIPT), emulator.base_url, emulator.api_key, frame_url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        printed: dict[str, Any] = json.loads(completed.stdout)
        printed["_log"] = emulator.requests()
        printed["_videos"] = {
            name: httpx.get(printed[name]["results"][0]["videoURL"], trust_env=False).content
            for name in ("video", "video_from_frame")
            if "results" in printed[name]
        }
        yield printed


def _first_frame(data: bytes) -> Image.Image:
    with av.open(io.BytesIO(data)) as container:
        return next(container.decode(container.streams.video[0])).to_image()


def test_sdk_version_is_the_pinned_one(sdk_printed: dict[str, Any]) -> None:
    assert sdk_printed["sdk_version"] == "1.8.0"


def test_sdk_polls_a_video_to_its_url(sdk_printed: dict[str, Any]) -> None:
    scenario = sdk_printed["video"]
    [item] = scenario["results"]
    assert item["taskUUID"] == scenario["taskUUID"]
    assert item["status"] == "success"
    assert (item["seed"], item["cost"]) == (7, 0.8)
    assert _first_frame(sdk_printed["_videos"]["video"]).size == (320, 180)
    submitted = [
        e for e in sdk_printed["_log"] if e["kind"] == "api" and e["taskUUID"] == scenario["taskUUID"]
    ]
    # The SDK sends deliveryMethod async itself, then polls getResponse with the same taskUUID.
    assert submitted[0]["task"]["deliveryMethod"] == "async"
    assert {e["taskType"] for e in submitted[1:]} == {"getResponse"}


def test_sdk_video_from_a_frame_image(sdk_printed: dict[str, Any]) -> None:
    [item] = sdk_printed["video_from_frame"]["results"]
    first = _first_frame(sdk_printed["_videos"]["video_from_frame"]).convert("RGB").resize((1, 1))
    mean = first.getpixel((0, 0))
    assert isinstance(mean, tuple)
    assert sum((a - b) ** 2 for a, b in zip(mean, FRAME_COLOUR, strict=True)) ** 0.5 < 12
    assert item["videoURL"].endswith(".mp4")


def test_sdk_parses_a_refused_video(sdk_printed: dict[str, Any]) -> None:
    scenario = sdk_printed["video_refused"]
    error = scenario["error"]
    # The SDK maps invalid* codes to its "validation" category, keeping parameter and message.
    assert (error["code"], error["parameter"], error["status_code"]) == ("validation", "width/height", 400)
    assert "1000x1000" in error["message"]
    assert error["task_uuid"] == scenario["taskUUID"]


def test_sdk_reads_captions_in_both_shapes(sdk_printed: dict[str, Any]) -> None:
    [documented] = sdk_printed["caption"]["results"]
    [sdk_shaped] = sdk_printed["caption_sdk_shape"]["results"]
    assert documented["taskType"] == "imageCaption"
    assert sdk_shaped["taskType"] == "caption"
    assert documented["text"] == sdk_shaped["text"]
    assert "96x54" in documented["text"]
    assert documented["cost"] == 0


def test_sdk_reads_every_enhanced_prompt(sdk_printed: dict[str, Any]) -> None:
    items = sdk_printed["prompt_enhance"]["results"]
    assert len(items) == 3
    assert len({item["text"] for item in items}) == 3
    assert all(len(item["text"]) <= 64 for item in items)
    error = sdk_printed["prompt_enhance_refused"]["error"]
    assert (error["code"], error["parameter"]) == ("validation", "promptMaxLength")
    assert "12..400" in error["message"]
