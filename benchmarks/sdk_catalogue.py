"""The catalogue example's job done by a plain script on Runware's SDK (``runware-sdk`` 1.8.0).

P8's baseline (``catalogue_celery.py`` starts it in the isolated ``.venv-sdk``; it imports nothing from
this project). The same rows and prompts as ``example_dags/runware_catalogue_batches.py``, one
``client.run`` per row (the SDK's own submit-and-poll), at most ``in_flight`` at once behind an
``asyncio.Semaphore``; each image is then downloaded and written to ``out_dir``, as a script that keeps
its images must. Prints one JSON object: rows done and the wall time from creating the client to the
last image written (interpreter start-up and imports excluded). Usage::

    .venv-sdk/bin/python benchmarks/sdk_catalogue.py BASE_URL API_KEY CSV ROWS IN_FLIGHT WIDTH HEIGHT OUT_DIR
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from runware import Runware


def prompts(catalogue: Path, rows: int) -> list[str]:
    with catalogue.open(newline="") as handle:
        read = list(csv.DictReader(handle))[:rows]
    return [f"Product photo of a {row['product']}, {row['scene']}, {row['angle']}" for row in read]


async def one_row(
    client: Runware,
    http: aiohttp.ClientSession,
    gate: asyncio.Semaphore,
    index: int,
    prompt: str,
    size: tuple[int, int],
    out_dir: Path,
) -> None:
    task = {
        "taskType": "imageInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "openai:2@2",
        "positivePrompt": prompt,
        "width": size[0],
        "height": size[1],
        "numberResults": 1,
        "includeCost": True,
    }
    async with gate:
        [image] = await client.run(task)
        async with http.get(image["imageURL"]) as response:
            response.raise_for_status()
            extension = image["imageURL"].rsplit(".", 1)[-1]
            (out_dir / f"row-{index}.{extension}").write_bytes(await response.read())


async def main(argv: list[str]) -> dict[str, Any]:
    base_url, api_key, catalogue, rows, in_flight, width, height, out_dir = argv
    texts = prompts(Path(catalogue), int(rows))
    gate = asyncio.Semaphore(int(in_flight))
    started = time.time()
    # The SDK's own retry policy, as a plain script has it: with hundreds of connections it can reuse
    # one just as the server closes it for being idle ("Can not write request body"; it ended one
    # `make bench` run with max_retries=0), and retrying that is the SDK's answer.
    client = Runware(api_key=api_key, transport="rest", http_base_url=base_url)
    async with client, aiohttp.ClientSession() as http:
        await asyncio.gather(
            *(
                one_row(client, http, gate, index, text, (int(width), int(height)), Path(out_dir))
                for index, text in enumerate(texts)
            )
        )
    finished = time.time()
    return {"rows": len(texts), "started": started, "finished": finished, "wall": finished - started}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:]))))
