"""Drive the emulator's videoInference, imageCaption and promptEnhance with Runware's official Python SDK
(``runware-sdk`` 1.8.0) and print what it saw. Like ``sdk_conformance_client.py`` it runs in the
isolated ``.venv-sdk`` and imports nothing from this project. Usage::

    .venv-sdk/bin/python tests/sdk_conformance_new_tasks.py http://127.0.0.1:PORT/v1 API_KEY FRAME_URL

``FRAME_URL`` is a loopback URL of a PNG the emulator can download (the frame image). Every task names
its ``taskType`` and an AIR model id, so the SDK resolves nothing over the network.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from importlib.metadata import version
from typing import Any

from runware import Runware, RunwareError


def _error_fields(error: RunwareError) -> dict[str, Any]:
    return {
        "type": type(error).__name__,
        "code": error.code,
        "parameter": error.parameter,
        "message": error.message,
        "status_code": error.status_code,
        "task_uuid": error.task_uuid,
    }


async def _scenario(client: Runware, task: dict[str, Any]) -> dict[str, Any]:
    task = {"taskUUID": str(uuid.uuid4()), **task}
    outcome: dict[str, Any] = {"taskUUID": task["taskUUID"]}
    try:
        outcome["results"] = await client.run(task)
    except RunwareError as error:
        outcome["error"] = _error_fields(error)
    return outcome


async def main(base_url: str, api_key: str, frame_url: str) -> dict[str, Any]:
    client = Runware(api_key=api_key, transport="rest", http_base_url=base_url, max_retries=0)
    video = {
        "taskType": "videoInference",
        "model": "google:3@3",
        "positivePrompt": "a paper boat drifting down a rainy street",
        "duration": 8,
        "includeCost": True,
        "seed": 7,
    }
    async with client:
        return {
            "sdk_version": version("runware-sdk"),
            # No deliveryMethod: the SDK defaults to async and polls getResponse until the video is done.
            "video": await _scenario(client, {**video, "width": 1920, "height": 1080}),
            "video_from_frame": await _scenario(
                client, {**video, "inputs": {"frameImages": [{"inputImage": frame_url, "frame": "first"}]}}
            ),
            "video_refused": await _scenario(client, {**video, "width": 1000, "height": 1000}),
            "caption": await _scenario(
                client, {"taskType": "imageCaption", "inputImage": frame_url, "includeCost": True}
            ),
            # runware-sdk 1.8.0's own shape for captions: taskType "caption", the image under inputs.
            "caption_sdk_shape": await _scenario(
                client, {"taskType": "caption", "model": "runware:150@2", "inputs": {"image": frame_url}}
            ),
            # Sync: the SDK keeps every item of the answer (polling would de-duplicate text items by
            # taskUUID, as they carry no UUID of their own).
            "prompt_enhance": await _scenario(
                client,
                {
                    "taskType": "promptEnhance",
                    "prompt": "dog",
                    "promptMaxLength": 64,
                    "promptVersions": 3,
                    "includeCost": True,
                    "deliveryMethod": "sync",
                },
            ),
            "prompt_enhance_refused": await _scenario(
                client, {"taskType": "promptEnhance", "prompt": "dog", "promptMaxLength": 500}
            ),
        }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))))
