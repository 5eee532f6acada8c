"""Drive the emulator with Runware's official Python SDK (``runware-sdk`` 1.8.0) and print what it saw.

Runs in the isolated ``.venv-sdk`` (the SDK imports as ``runware``, which clashes with an older package),
so it imports nothing from this project. Usage::

    .venv-sdk/bin/python tests/sdk_conformance_client.py http://127.0.0.1:PORT/v1 API_KEY

Prints one JSON object: the SDK version, then for each scenario either ``results`` (the SDK's items) or
``error`` (the SDK's RunwareError fields). Scenarios that need the emulator in a particular mode set it
through its control API (``/_emulator/faults``, ``/_emulator/config``) with the standard library.
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
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


def _control(base_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """POST (or GET, without a body) to the emulator's control API next to ``base_url``."""
    url = base_url.removesuffix("/v1") + f"/_emulator/{path}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _error_fields(error: RunwareError) -> dict[str, Any]:
    return {
        "type": type(error).__name__,
        "code": error.code,
        "parameter": error.parameter,
        "message": error.message,
        "status_code": error.status_code,
        "task_uuid": error.task_uuid,
        "task_type": error.task_type,
        "retryable": error.retryable,
    }


async def _scenario(client: Runware, task: dict[str, Any]) -> dict[str, Any]:
    outcome: dict[str, Any] = {"taskUUID": task["taskUUID"]}
    try:
        outcome["results"] = await client.run(task)
    except RunwareError as error:
        outcome["error"] = _error_fields(error)
    return outcome


async def _utility(call: Any, params: dict[str, Any]) -> dict[str, Any]:
    outcome: dict[str, Any] = {"taskUUID": params["taskUUID"]}
    try:
        outcome["results"] = await call(params)
    except RunwareError as error:
        outcome["error"] = _error_fields(error)
    return outcome


async def _failed_generation(client: Runware, base_url: str, code: str) -> dict[str, Any]:
    """A task whose image fails with ``code``, reported nested in getResponse (the emulator's default)."""
    _control(base_url, "faults", {"kind": "fail_generation", "code": code, "message": f"emulated {code}"})
    return await _scenario(client, _task())


async def _conflict_named_in_context(client: Runware, base_url: str) -> dict[str, Any]:
    """The same async task submitted twice while the emulator names the reused UUID only in context."""
    _control(base_url, "config", {"conflict_shape": "context_only"})
    task = _task(deliveryMethod="async")
    first = await _scenario(client, dict(task))
    second = await _scenario(client, dict(task))
    _control(base_url, "config", {"conflict_shape": "full"})
    return {"taskUUID": task["taskUUID"], "first": first, "second": second}


async def _tool_chain(client: Runware) -> dict[str, Any]:
    """generate -> removeBackground (the docs' ``inputImage``) -> upscale (the SDK's own ``inputs.image``
    form, 4x on SwinIR), each input the previous output's imageUUID; then 4x on Clarity, which the
    upscale page says only SwinIR supports."""
    generated = await _scenario(client, _task())
    image_uuid = generated["results"][0]["imageUUID"]
    cut_out = await _scenario(
        client,
        {
            "taskType": "removeBackground",
            "taskUUID": str(uuid.uuid4()),
            "model": "runware:109@1",
            "inputImage": image_uuid,
            "includeCost": True,
        },
    )
    upscale = {"taskType": "upscale", "model": "runware:503@1", "upscaleFactor": 4}
    upscaled = await _scenario(
        client,
        {**upscale, "taskUUID": str(uuid.uuid4()), "inputs": {"image": cut_out["results"][0]["imageUUID"]}},
    )
    refused = await _scenario(
        client, {**upscale, "taskUUID": str(uuid.uuid4()), "model": "runware:500@1", "inputImage": image_uuid}
    )
    return {"generated": generated, "removeBackground": cut_out, "upscale": upscaled, "refused": refused}


async def main(base_url: str, api_key: str) -> dict[str, Any]:
    client = Runware(api_key=api_key, transport="rest", http_base_url=base_url, max_retries=0)
    async with client:
        sync = await _scenario(client, _task(deliveryMethod="sync"))
        return {
            "sdk_version": version("runware-sdk"),
            "sync": sync,
            # No deliveryMethod: the SDK defaults to async, acknowledges and polls getResponse.
            "async": await _scenario(client, _task(numberResults=2)),
            "invalid": await _scenario(client, _task(deliveryMethod="sync", width=500, height=500)),
            "nested_safety_error": await _failed_generation(
                client, base_url, "providerContentPolicyViolation"
            ),
            "nested_provider_error": await _failed_generation(client, base_url, "modelUnavailable"),
            "conflict_in_context": await _conflict_named_in_context(client, base_url),
            "account": await _utility(
                client.account_management, {"taskUUID": str(uuid.uuid4()), "operation": "getDetails"}
            ),
            "task_details": await _utility(client.get_task_details, {"taskUUID": sync["taskUUID"]}),
            "tools": await _tool_chain(client),
        }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
