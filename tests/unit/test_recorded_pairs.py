"""The client's parsing against an oracle that shares no code with it: request/response pairs recorded
from Runware's docs and runware-sdk 1.8.0 (tests/data/runware_pairs.json, tests/data/dalle2_examples.json),
each with what a correct client makes of it, written by hand from the source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_runware.api.schemas import ApiResponse, PollState
from airflow_provider_runware.exceptions import RunwareError
from airflow_provider_runware.hooks.runware import (
    describe_account,
    read_balance,
    read_response,
    summarize_submission,
)

DATA = Path(__file__).parent.parent / "data"
PAIRS = json.loads((DATA / "runware_pairs.json").read_text())["pairs"]
DALLE2_EXAMPLES = json.loads((DATA / "dalle2_examples.json").read_text())["examples"]


def pairs_with(key: str) -> list[Any]:
    return [pytest.param(pair, id=pair["id"]) for pair in PAIRS if key in pair.get("client", {})]


def body(pair: dict[str, Any]) -> bytes:
    return json.dumps(pair["response"]).encode()


def parsed(pair: dict[str, Any]) -> ApiResponse:
    return read_response(pair["status"], {}, body(pair))


@pytest.mark.parametrize("pair", pairs_with("raises"))
def test_account_wide_errors_raise_with_runwares_fields(pair: dict[str, Any]) -> None:
    expected = pair["client"]["raises"]
    with pytest.raises(RunwareError) as caught:
        read_response(pair["status"], {}, body(pair))
    error = caught.value
    assert (error.code, error.category.value, error.parameter) == (
        expected["code"],
        expected["category"],
        expected["parameter"],
    )
    assert error.http_status == pair["status"]


@pytest.mark.parametrize("pair", pairs_with("balance"))
def test_balances_in_every_documented_shape(pair: dict[str, Any]) -> None:
    [details] = parsed(pair).data
    amount = read_balance(details["balance"])
    assert amount is not None
    assert amount[0] == pair["client"]["balance"]
    assert describe_account(details) == pair["client"]["connection_message"]


@pytest.mark.parametrize("pair", pairs_with("done"))
def test_poll_answers_fold_into_images_and_errors(pair: dict[str, Any]) -> None:
    expected = pair["client"]
    task_uuid = pair["request"][0]["taskUUID"]
    state = PollState.expecting({task_uuid: expected["expected"]})
    state.merge(parsed(pair))

    assert state.done is expected["done"]
    images = [image.to_wire() for image in state.results()]
    assert [
        {"image_uuid": i["imageUUID"], "cost": i.get("cost"), "seed": i.get("seed")} for i in images
    ] == expected["images"]
    errors = [
        {key: error[key] for key in expected_error}
        for error, expected_error in zip(state.error_dicts(), expected["errors"], strict=True)
    ]
    assert errors == expected["errors"]


@pytest.mark.parametrize("pair", pairs_with("already_submitted"))
def test_conflicts_resolve_to_the_task_already_submitted(pair: dict[str, Any]) -> None:
    result = summarize_submission(parsed(pair), pair["request"])
    assert result.already_submitted == pair["client"]["already_submitted"]
    assert [error.code for error in result.errors] == pair["client"]["submit_errors"]


@pytest.mark.parametrize("example", DALLE2_EXAMPLES, ids=[e["title"] for e in DALLE2_EXAMPLES])
def test_the_model_pages_examples_parse_with_their_cost(example: dict[str, Any]) -> None:
    response = example["response"]
    state = PollState.expecting({response["taskUUID"]: 1})
    state.merge(ApiResponse.parse(json.dumps({"data": [response]}), 200))
    [image] = state.results()
    assert (image.image_uuid, image.image_url, image.cost) == (
        response["imageUUID"],
        response["imageURL"],
        response["cost"],
    )
    assert state.done
