"""The emulator answers every row of the shared bad-input table exactly as the client rejects it:
HTTP 400 with the same code and parameter, and without generating (or billing) anything; and it
generates every row of the good-input table, as Runware would."""

from __future__ import annotations

import pytest
from bad_inputs import BadInput, GoodInput, bad_input_params, good_input_params
from emulator_handle import EmulatorHandle

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("row", bad_input_params())
def test_emulator_rejects_bad_input(runware: EmulatorHandle, row: BadInput) -> None:
    task = row.task()
    response = runware.post([task])

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert "data" not in body
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert (error["code"], error["parameter"]) == (row.code, row.parameter)
    assert error["taskUUID"] == task["taskUUID"]
    assert error["taskType"] == "imageInference"
    assert error["documentation"].startswith("https://")
    assert row.shows in error["message"]
    assert row.rule in error["message"]
    for secret in row.hides:
        assert secret not in response.text

    assert runware.requests("generation") == []
    [logged] = runware.tasks_of_type("imageInference")
    assert logged["status"] == 400
    assert logged["taskUUID"] == task["taskUUID"]
    poll = runware.post([{"taskType": "getResponse", "taskUUID": task["taskUUID"]}])
    assert poll.json()["errors"][0]["code"] == "taskNotFound", "a rejected task is not stored"


@pytest.mark.parametrize("row", good_input_params())
def test_emulator_accepts_good_input(runware: EmulatorHandle, row: GoodInput) -> None:
    task = row.task()
    response = runware.post([task])

    assert response.status_code == 200, (row.why, response.text)
    [item] = response.json()["data"]
    assert item["taskUUID"] == task["taskUUID"]
