"""Generate N images with Runware's official Python SDK (``runware-sdk`` 1.8.0), the SDK's own way.

Runs in the isolated ``.venv-sdk`` (the SDK imports as ``runware``, which clashes with an older package)
and imports nothing from this project; ``versus_sdk.py`` starts it. Every image is one ``client.run``
(async delivery, the SDK's default: it submits, then polls getResponse itself), all of them concurrent
with ``asyncio.gather``. Prints one JSON object: the task UUIDs and the wall time from creating the
client to the last result (interpreter start-up and imports excluded). Usage::

    .venv-sdk/bin/python benchmarks/sdk_images.py http://127.0.0.1:PORT/v1 API_KEY N PROMPT
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from typing import Any

from runware import Runware


async def main(base_url: str, api_key: str, count: int, prompt: str) -> dict[str, Any]:
    tasks = [
        {
            "taskType": "imageInference",
            "taskUUID": str(uuid.uuid4()),
            "model": "openai:2@2",
            "positivePrompt": f"{prompt} #{index}",
            "width": 256,
            "height": 256,
            "numberResults": 1,
            "includeCost": True,
        }
        for index in range(count)
    ]
    started = time.time()
    client = Runware(api_key=api_key, transport="rest", http_base_url=base_url, max_retries=0)
    async with client:
        results = await asyncio.gather(*(client.run(task) for task in tasks))
    finished = time.time()
    assert all(len(items) == 1 for items in results), results
    return {
        "task_uuids": [task["taskUUID"] for task in tasks],
        "started": started,
        "finished": finished,
        "wall": finished - started,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))))
