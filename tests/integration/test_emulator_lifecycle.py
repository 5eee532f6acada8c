"""The emulator disagrees with us where Runware would: retired models past their date, the current
models it serves, the inputs Runware accepts in any letter case, and the modes (date, shapes) a test
can switch. Checked over real HTTP against the emulator subprocess."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from bad_inputs import valid_task
from emulator_handle import BEFORE_DALLE2_RETIREMENT, EmulatorHandle

pytestmark = pytest.mark.integration

IMAGEN_4_FAST = "google:2@3"


def test_the_session_emulator_lives_before_dalle2_retirement(runware: EmulatorHandle) -> None:
    assert runware.config()["today"] == BEFORE_DALLE2_RETIREMENT
    assert runware.post([valid_task()]).status_code == 200


@pytest.mark.parametrize("today", ["2026-05-12", "2026-12-01"])
def test_a_model_past_its_deactivation_date_is_refused_naming_the_replacement(
    runware: EmulatorHandle, today: str
) -> None:
    runware.config(today=today)
    task = valid_task()
    response = runware.post([task])

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["code"], error["parameter"], error["taskUUID"]) == (
        "modelDisabled",
        "model",
        task["taskUUID"],
    )
    assert "openai:gpt-image@2" in error["message"]
    assert runware.requests("generation") == [], "nothing generated, nothing billed"


def test_the_day_before_deactivation_the_model_still_runs(runware: EmulatorHandle) -> None:
    runware.config(today="2026-05-11")
    assert runware.post([valid_task()]).status_code == 200


def test_the_retired_answer_can_be_played_differently(runware: EmulatorHandle) -> None:
    runware.config(today="2026-06-01", retired_code="unknownModel", retired_status=404)
    response = runware.post([valid_task()])

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "unknownModel"


def test_a_reset_keeps_the_start_up_date(runware: EmulatorHandle) -> None:
    runware.config(today="2026-06-01", error_shape="flat")
    runware.reset()
    assert runware.config()["today"] == BEFORE_DALLE2_RETIREMENT
    assert runware.config()["error_shape"] == "nested"


@pytest.mark.parametrize(
    "modes",
    [{"today": "12/05/2026"}, {"error_shape": "xml"}, {"balance_shape": "text"}, {"weather": "sunny"}],
)
def test_bad_modes_are_refused(runware: EmulatorHandle, modes: dict[str, Any]) -> None:
    with httpx.Client(trust_env=False) as client:
        response = client.post(f"{runware.root_url}/_emulator/config", json=modes)
    assert response.status_code == 400
    assert runware.config()["today"] == BEFORE_DALLE2_RETIREMENT


def test_a_current_model_is_served_at_its_documented_sizes_and_price(runware: EmulatorHandle) -> None:
    wide = valid_task(model=IMAGEN_4_FAST, width=1408, height=768, includeCost=True)
    square = valid_task(model=IMAGEN_4_FAST, width=1024, height=1024, includeCost=True)
    items = runware.post([wide, square]).json()["data"]

    assert [item["cost"] for item in items] == [0.02, 0.02], "the model page: $0.02 at every size"
    refused = runware.post([valid_task(model=IMAGEN_4_FAST, width=512, height=512)])
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["code"] == "invalidWidth"


def test_lowercase_output_format_and_uppercase_task_uuid_are_accepted(runware: EmulatorHandle) -> None:
    task = valid_task(outputFormat="png", taskUUID=str(uuid.uuid4()).upper())
    response = runware.post([task])

    assert response.status_code == 200, response.text
    [item] = response.json()["data"]
    assert item["taskUUID"] == task["taskUUID"]
    assert item["imageURL"].endswith(".png")


@pytest.mark.parametrize(
    ("safety", "checked"),
    [
        ({"checkContent": True}, True),
        ({"mode": "fast"}, True),
        ({"checkContent": True, "mode": "none"}, False),
        ({"checkContent": False, "mode": "fast"}, True),
        ({"checkContent": False}, False),
    ],
)
def test_safety_mode_decides_over_check_content(
    runware: EmulatorHandle, safety: dict[str, Any], checked: bool
) -> None:
    """The docs: checkContent "when enabled, defaults to fast mode"; mode "none" disables checking."""
    [item] = runware.post([valid_task(safety=safety)]).json()["data"]
    assert ("NSFWContent" in item) is checked


def test_unknown_models_get_sizes_and_safety_modes_the_generic_rules_used_to_refuse(
    runware: EmulatorHandle,
) -> None:
    task = valid_task(model="bytedance:seedream@4.5", width=2560, height=1440, safety={"mode": "full"})
    assert runware.post([task]).status_code == 200
