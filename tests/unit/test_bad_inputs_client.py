"""The client rejects every row of the shared bad-input table before any HTTP call, accepts every row
of its good-input twin (what Runware accepts), and accepts the model page's own examples (plus
parameters it does not know yet)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bad_inputs import BadInput, GoodInput, bad_input_params, good_input_params, valid_task

from airflow_provider_runware.api.schemas import ImageInferenceRequest
from airflow_provider_runware.exceptions import RunwareValidationError

EXAMPLES = json.loads((Path(__file__).parent.parent / "data" / "dalle2_examples.json").read_text())[
    "examples"
]


@pytest.mark.parametrize("row", bad_input_params())
def test_bad_input_is_rejected_with_code_parameter_and_explanation(row: BadInput) -> None:
    task = row.task()
    with pytest.raises(RunwareValidationError) as caught:
        ImageInferenceRequest.from_wire(task)
    error = caught.value
    assert error.code == row.code
    assert error.parameter == row.parameter, "each row breaks exactly one rule"
    assert error.task_uuid == task["taskUUID"]
    message = str(error)
    assert row.parameter in message
    assert row.shows in message, "the message shows the offending value"
    assert row.rule in message, "the message states the rule"
    for secret in row.hides:
        assert secret not in message


@pytest.mark.parametrize("row", good_input_params())
def test_good_input_is_accepted_and_normalised(row: GoodInput) -> None:
    task = row.task()
    wire = ImageInferenceRequest.from_wire(task).to_wire()
    assert wire == {**task, **row.wire}, row.why


def test_several_violations_are_reported_together() -> None:
    task = valid_task(width=500, height=500, outputFormat="GIF", numberResults=0)
    with pytest.raises(RunwareValidationError) as caught:
        ImageInferenceRequest.from_wire(task)
    assert caught.value.parameter == ["width", "outputFormat", "numberResults"]
    assert caught.value.code == "invalidWidth"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["title"] for e in EXAMPLES])
def test_model_page_examples_validate(example: dict[str, Any]) -> None:
    request = ImageInferenceRequest.from_wire(example["request"])
    assert request.to_wire() == example["request"]
    assert request.expected_results == 1


def test_examples_document_one_image_per_response() -> None:
    assert len(EXAMPLES) == 4
    for example in EXAMPLES:
        assert example["response"]["taskUUID"] == example["request"]["taskUUID"]
        assert {"taskType", "taskUUID", "imageUUID", "imageURL"} <= example["response"].keys()


def test_unknown_extra_parameters_pass_through() -> None:
    extras = {"steps": 30, "CFGScale": 7.5, "futureFeature": {"enabled": True}, "seed": 1234}
    task = valid_task(**extras)
    request = ImageInferenceRequest.from_wire(task)
    assert request.to_wire() == task
    for name, value in extras.items():
        assert request.to_wire()[name] == value


def test_every_generic_rule_applies_to_unknown_models() -> None:
    task = valid_task(model="runware:101@1", width=1024, height=576, positivePrompt="ok")
    assert ImageInferenceRequest.from_wire(task).model == "runware:101@1"
