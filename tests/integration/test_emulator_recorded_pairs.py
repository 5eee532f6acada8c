"""The emulator against an oracle that shares no code with it: for every recorded pair it can play
(tests/data/runware_pairs.json, from Runware's docs and runware-sdk 1.8.0), it answers the same
request with the same HTTP status and a body of the recorded shape: the same fields, nested the same
way, with values of the same JSON types."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from bad_inputs import valid_task
from emulator_handle import EmulatorHandle

pytestmark = pytest.mark.integration

PAIRS = json.loads((Path(__file__).parent.parent / "data" / "runware_pairs.json").read_text())["pairs"]


def conforms(actual: Any, recorded: Any, path: str = "$") -> list[str]:
    """Where ``actual`` departs from the shape of ``recorded`` (empty when it conforms)."""
    if recorded is None:
        return []
    if isinstance(recorded, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        problems = [f"{path}.{key}: missing" for key in recorded if key not in actual]
        for key in recorded:
            if key in actual:
                problems += conforms(actual[key], recorded[key], f"{path}.{key}")
        return problems
    if isinstance(recorded, list):
        if not isinstance(actual, list) or (recorded and not actual):
            return [f"{path}: expected a non-empty array, got {actual!r}"]
        problems = []
        for index, item in enumerate(actual):
            if all(conforms(item, shape) for shape in recorded):
                problems.append(f"{path}[{index}]: matches no recorded item: {item!r}")
        return problems
    kinds = {bool: "boolean", int: "number", float: "number", str: "string"}
    if kinds.get(type(actual)) != kinds.get(type(recorded)):
        return [f"{path}: expected a {kinds.get(type(recorded))}, got {actual!r}"]
    return []


def wait_until_terminal(runware: EmulatorHandle, task_uuid: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = runware.post([{"taskType": "getResponse", "taskUUID": task_uuid}]).json()
        items = body.get("data", []) + body.get("errors", [])
        if items and all(item.get("status") not in ("processing", "pending") for item in items):
            return
        time.sleep(0.05)
    raise AssertionError(f"{task_uuid} still processing")


def play(runware: EmulatorHandle, pair: dict[str, Any]) -> httpx.Response:
    """Set the emulator up as the pair says and send the pair's request (or its equivalent)."""
    setup = pair["emulator"]
    if setup.get("config"):
        runware.config(**setup["config"])
    if setup.get("fault"):
        runware.fault(**setup["fault"])
    request = pair["request"]
    if setup.get("submit_async"):
        task = valid_task(deliveryMethod="async", taskUUID=str(uuid.uuid4()))
        runware.post([task])
        if pair["client"]["done"]:
            wait_until_terminal(runware, task["taskUUID"])
        return runware.post([{"taskType": "getResponse", "taskUUID": task["taskUUID"]}])
    if setup.get("poll_request"):
        # Asynchronous task types (videoInference): submit the pair's own request, then getResponse,
        # after the task is done ("done") or while it is still running ("processing").
        task_uuid = request[0]["taskUUID"]
        assert runware.post(request).status_code == 200
        if setup["poll_request"] == "done":
            wait_until_terminal(runware, task_uuid)
        return runware.post([{"taskType": "getResponse", "taskUUID": task_uuid}])
    if setup.get("submit_twice"):
        runware.post(request)
    if setup.get("submit_sync_first"):
        runware.post(pair["response"]["data"][0]["request"])
    if setup.get("generate_input"):
        # The docs name an input image by a UUID only Runware knows: use one the emulator generated.
        [generated] = runware.post([valid_task()]).json()["data"]
        request = [{**request[0], setup["generate_input"]: generated["imageUUID"]}]
    if "api_key" in setup:
        return runware.post(request, api_key=setup["api_key"])
    return runware.post(request)


@pytest.mark.parametrize("pair", [pytest.param(p, id=p["id"]) for p in PAIRS if "emulator" in p])
def test_emulator_answers_in_the_recorded_shape(runware: EmulatorHandle, pair: dict[str, Any]) -> None:
    response = play(runware, pair)

    assert response.status_code == pair["status"], response.text
    assert conforms(response.json(), pair["response"]) == []


def test_the_shape_check_can_fail() -> None:
    """The comparison is not vacuous: a flat error where a nested one was recorded is caught."""
    nested = next(p for p in PAIRS if p["id"] == "get-response-nested-error")["response"]
    flat = {"errors": [{"code": "x", "message": "y", "taskUUID": "z", "status": "error"}]}
    assert conforms(flat, nested) != []
    number = {"data": [{**nested["data"][0], "status": 1}]}
    assert conforms(number, nested) != []
