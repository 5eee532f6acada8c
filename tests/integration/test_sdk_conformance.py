"""Runware's official Python SDK (runware-sdk 1.8.0, REST transport) works against the emulator unchanged:
a sync request, an async request it polls itself, and a validation error it parses.

The SDK lives in its own environment (``.venv-sdk``, created by ``make test``) because its import name
``runware`` clashes with an older package; the test runs ``tests/sdk_conformance_client.py`` there.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_handle import REPO_ROOT, EmulatorHandle

pytestmark = pytest.mark.integration

SDK_PYTHON = REPO_ROOT / ".venv-sdk" / "bin" / "python"
CLIENT_SCRIPT = Path(__file__).resolve().parent.parent / "sdk_conformance_client.py"


@dataclass(frozen=True)
class SdkRun:
    printed: dict[str, Any]
    log: list[dict[str, Any]]

    def api_entries(self, task_type: str, task_uuid: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.log
            if e["kind"] == "api" and e["taskType"] == task_type and e["taskUUID"] == task_uuid
        ]


@pytest.fixture(scope="module")
def sdk_run(emulator: EmulatorHandle) -> SdkRun:
    """What the SDK printed after its three scenarios (run once) and the emulator's request log."""
    if not SDK_PYTHON.exists():
        pytest.fail(
            f"{SDK_PYTHON} is missing: `make test` creates it (python3 -m venv .venv-sdk && "
            ".venv-sdk/bin/pip install runware-sdk==1.8.0). The SDK conformance check never skips."
        )
    emulator.reset()
    completed = subprocess.run(
        [str(SDK_PYTHON), str(CLIENT_SCRIPT), emulator.base_url, emulator.api_key],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return SdkRun(json.loads(completed.stdout), emulator.requests())


def test_sdk_version_is_the_pinned_one(sdk_run: SdkRun) -> None:
    assert sdk_run.printed["sdk_version"] == "1.8.0"


def test_sdk_sync_request(sdk_run: SdkRun) -> None:
    scenario = sdk_run.printed["sync"]
    [item] = scenario["results"]
    assert item["taskUUID"] == scenario["taskUUID"]
    assert item["cost"] == 0.016
    assert httpx.get(item["imageURL"], trust_env=False).status_code == 200
    [submitted] = sdk_run.api_entries("imageInference", scenario["taskUUID"])
    assert submitted["task"]["deliveryMethod"] == "sync"
    assert submitted["status"] == 200


def test_sdk_async_request_polls_until_every_image(sdk_run: SdkRun) -> None:
    scenario = sdk_run.printed["async"]
    items = scenario["results"]
    assert len(items) == 2
    assert {item["taskUUID"] for item in items} == {scenario["taskUUID"]}
    assert len({item["imageUUID"] for item in items}) == 2
    assert {item["status"] for item in items} == {"success"}
    [submitted] = sdk_run.api_entries("imageInference", scenario["taskUUID"])
    assert submitted["task"]["deliveryMethod"] == "async", "the SDK defaults to async delivery"
    polls = sdk_run.api_entries("getResponse", scenario["taskUUID"])
    assert polls, "the SDK polled with getResponse"
    assert {e["status"] for e in polls} == {200}


def test_sdk_surfaces_the_validation_error(sdk_run: SdkRun) -> None:
    scenario = sdk_run.printed["invalid"]
    assert "results" not in scenario
    error = scenario["error"]
    assert error["code"] == "validation", "the SDK maps invalidWidth to its validation category"
    assert error["parameter"] == "width"
    assert error["status_code"] == 400
    assert error["task_uuid"] == scenario["taskUUID"]
    assert error["retryable"] is False
    assert "500x500" in error["message"]
    [submitted] = sdk_run.api_entries("imageInference", scenario["taskUUID"])
    assert submitted["status"] == 400
    generated = {e["taskUUID"] for e in sdk_run.log if e["kind"] == "generation"}
    assert generated == {sdk_run.printed["sync"]["taskUUID"], sdk_run.printed["async"]["taskUUID"]}
