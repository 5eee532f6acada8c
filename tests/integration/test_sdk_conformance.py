"""Runware's official Python SDK (runware-sdk 1.8.0, REST transport) works against the emulator unchanged:
a sync request, an async request it polls itself, a validation error it parses, per-task failures in the
nested getResponse shape it reads (classified by its own error table), a conflict named only in its
context, the account balance as the object it types, getTaskDetails as it types it, and the image
tools (removeBackground, upscale) chained by imageUUID.

The SDK lives in its own environment (``.venv-sdk``, created by ``make test``) because its import name
``runware`` clashes with an older package; the test runs ``tests/sdk_conformance_client.py`` there.
"""

from __future__ import annotations

import io
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_handle import REPO_ROOT, EmulatorHandle
from PIL import Image

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
    """What the SDK printed after its scenarios (run once) and the emulator's request log."""
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
    assert item["cost"] == 0.016, "OpenAI's list price for DALL·E 2 at 256x256"
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
    assert scenario["taskUUID"] not in generated


@pytest.mark.parametrize(
    ("scenario", "sdk_code", "retryable"),
    [("nested_safety_error", "safety", False), ("nested_provider_error", "provider", True)],
)
def test_sdk_reads_the_nested_task_error_and_classifies_it_as_the_provider_does(
    sdk_run: SdkRun, scenario: str, sdk_code: str, retryable: bool
) -> None:
    """The SDK finds the code inside the nested ``error`` object: its class agrees with ours (safety is
    fatal for both; a provider capacity answer is retryable for both)."""
    from airflow_provider_runware.api.error_codes import category_for_code

    outcome = sdk_run.printed[scenario]
    assert "results" not in outcome
    error = outcome["error"]
    assert (error["code"], error["retryable"]) == (sdk_code, retryable)
    assert error["task_uuid"] == outcome["taskUUID"]
    assert error["message"].startswith("emulated ")
    raw_code = error["message"].removeprefix("emulated ")
    ours = category_for_code(raw_code)
    assert (ours == "transient") is retryable
    assert (ours == "safety") is (sdk_code == "safety")
    polls = sdk_run.api_entries("getResponse", outcome["taskUUID"])
    assert polls, "the failure came through getResponse"


def test_sdk_surfaces_a_conflict_named_only_in_its_context(sdk_run: SdkRun) -> None:
    """runware-sdk 1.8.0 (REST) reports it as a validation error without a taskUUID; the provider's
    hook reads ``context.taskUUID`` and polls instead (tests/integration/test_hook_api_shapes.py)."""
    outcome = sdk_run.printed["conflict_in_context"]
    assert len(outcome["first"]["results"]) == 1
    error = outcome["second"]["error"]
    assert (error["code"], error["parameter"], error["status_code"]) == ("validation", "taskUUID", 400)
    assert error["task_uuid"] is None, "the top-level taskUUID is absent in this shape"
    assert outcome["taskUUID"] in error["message"]
    generated = [e for e in sdk_run.log if e["kind"] == "generation" and e["taskUUID"] == outcome["taskUUID"]]
    assert len(generated) == 1, "the second submission generated nothing"


def test_sdk_reads_the_balance_object_it_types(sdk_run: SdkRun) -> None:
    [details] = sdk_run.printed["account"]["results"]
    assert details["taskType"] == "accountManagement"
    assert isinstance(details["balance"], dict), "runware-sdk 1.8.0 types balance as an object"
    assert set(details["balance"]) == {"amount", "currency"}


def test_sdk_reads_task_details_with_the_types_it_declares(sdk_run: SdkRun) -> None:
    [details] = sdk_run.printed["task_details"]["results"]
    assert isinstance(details["request"], list), "GetTaskDetailsResult.request: list[dict]"
    assert isinstance(details["response"], dict), "GetTaskDetailsResult.response: dict"
    assert details["request"][0]["taskUUID"] == sdk_run.printed["sync"]["taskUUID"]


SDK_TO_OURS = {
    "safety": {"safety"},
    "auth": {"authentication"},
    "quota": {"payment"},
    "rateLimit": {"transient"},
    "timeout": {"transient"},
    "serverError": {"transient"},
    "notFound": {"not_found"},
    "validation": {"validation"},
    # The SDK retries every provider error; we retry capacity answers, regenerate failed generations
    # on an Airflow retry, and stop for retired models and failed uploads (money already spent).
    "provider": {"transient", "generation", "storage", "model_retired"},
}
# Codes the SDK does not know ("unknown"): what we make of them, and why.
OUR_ADDITIONS = {
    "modelDeactivated": "model_retired",  # Runware's wording for a retired model; never comes back
    "timeoutProvider": "transient",  # Runware's docs name it as an error code; a provider timeout
}
SDK_CODES_SCRIPT = """
import json, sys
from runware import errors
codes = set(json.loads(sys.argv[1]))
for name in ("_SAFETY_CODES", "_AUTH_CODES", "_SERVER_ERROR_CODES", "_NOT_FOUND_CODES", "_PROVIDER_CODES"):
    codes |= getattr(errors, name)
print(json.dumps({code: errors.derive_code(code) for code in sorted(codes)}))
"""


def test_our_error_table_agrees_with_the_sdks_grouping() -> None:
    """Every code the SDK names, and every code our table names, lands in a category that matches the
    SDK's own (runware-sdk 1.8.0 ``derive_code``), computed by the SDK itself."""
    from airflow_provider_runware.api import error_codes

    ours = set().union(
        *(
            value
            for name, value in vars(error_codes).items()
            if name.endswith("_CODES") and isinstance(value, frozenset)
        )
    ) | {"invalidApiKey", "missingApiKey", "insufficientCredits", "rateLimitExceeded", "taskNotFound"}
    ours |= set(OUR_ADDITIONS)
    completed = subprocess.run(
        [str(SDK_PYTHON), "-c", SDK_CODES_SCRIPT, json.dumps(sorted(ours))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    sdk = json.loads(completed.stdout)
    assert len(sdk) > 60
    expected = {code: SDK_TO_OURS.get(sdk_code, {OUR_ADDITIONS.get(code)}) for code, sdk_code in sdk.items()}
    ours_by_code = {code: getattr(error_codes.category_for_code(code), "value", None) for code in sdk}
    disagreements = {
        code: (sdk[code], ours_by_code[code])
        for code, allowed in expected.items()
        if ours_by_code[code] not in allowed
    }
    assert disagreements == {}


def test_sdk_runs_the_image_tools_chained_by_image_uuid(sdk_run: SdkRun) -> None:
    """removeBackground and upscale through the SDK's own polling: the documented ``inputImage`` and the
    SDK's ``inputs.image`` form both work, each result names its input, and 4x really is 4x."""
    tools = sdk_run.printed["tools"]
    [generated] = tools["generated"]["results"]
    [cut_out] = tools["removeBackground"]["results"]
    [upscaled] = tools["upscale"]["results"]
    assert (cut_out["taskType"], cut_out["inputImageUUID"]) == ("removeBackground", generated["imageUUID"])
    assert cut_out["cost"] > 0
    assert (upscaled["taskType"], upscaled["inputImageUUID"]) == ("upscale", cut_out["imageUUID"])
    with Image.open(io.BytesIO(httpx.get(upscaled["imageURL"], trust_env=False).content)) as image:
        assert image.size == (1024, 1024), "the 256x256 DALL-E 2 image at 4x"
    [submitted] = sdk_run.api_entries("upscale", tools["upscale"]["taskUUID"])
    assert submitted["task"]["inputs"] == {"image": cut_out["imageUUID"]}
    error = tools["refused"]["error"]
    assert (error["code"], error["parameter"], error["retryable"]) == ("validation", "upscaleFactor", False)
