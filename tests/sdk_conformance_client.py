"""Drive the emulator with Runware's official Python SDK (``runware-sdk`` 1.8.0) and print what it saw.

Runs in the isolated ``.venv-sdk`` (the SDK imports as ``runware``, which clashes with an older package),
so it imports nothing from this project. Usage::

    .venv-sdk/bin/python tests/sdk_conformance_client.py http://127.0.0.1:PORT/v1 API_KEY

Prints one JSON object: the SDK version, then for each scenario either ``results`` (the SDK's items) or
``error`` (the SDK's RunwareError fields).
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from importlib.metadata import version
from typing import Any

from runware import Runware, RunwareError

MODEL = "openai:2@2"


def _task(**overrides: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "taskType": "imageInference",
        "taskUUID": str(uuid.uuid4()),
        "model": MODEL,
        "positivePrompt": "a paper boat on a pond, conformance check",
        "width": 256,
        "height": 256,
        "includeCost": True,
    }
    task.update(overrides)
    return task


async def _scenario(client: Runware, task: dict[str, Any]) -> dict[str, Any]:
    outcome: dict[str, Any] = {"taskUUID": task["taskUUID"]}
    try:
        outcome["results"] = await client.run(task)
    except RunwareError as error:
        outcome["error"] = {
            "type": type(error).__name__,
            "code": error.code,
            "parameter": error.parameter,
            "message": error.message,
            "status_code": error.status_code,
            "task_uuid": error.task_uuid,
            "task_type": error.task_type,
            "retryable": error.retryable,
        }
    return outcome


async def main(base_url: str, api_key: str) -> dict[str, Any]:
    client = Runware(api_key=api_key, transport="rest", http_base_url=base_url, max_retries=0)
    async with client:
        return {
            "sdk_version": version("runware-sdk"),
            "sync": await _scenario(client, _task(deliveryMethod="sync")),
            # No deliveryMethod: the SDK defaults to async, acknowledges and polls getResponse.
            "async": await _scenario(client, _task(numberResults=2)),
            "invalid": await _scenario(client, _task(deliveryMethod="sync", width=500, height=500)),
        }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
