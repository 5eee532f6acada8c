"""The sensor's ``task_uuids``: what users pass (an XCom list, a JSON list, a comma-separated string) is
parsed, and anything else fails with the validation error that names the value, never a Python crash."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_runware.exceptions import RunwareValidationError
from airflow_provider_runware.sensors.runware import parse_task_uuids

A = "0f8e1c52-3b7a-4d2e-9a61-5c4b3a291d10"
B = "7d2c9e41-1a5b-4c8f-b0d3-2e6f7a8b9c01"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param([A, B], [A, B], id="list"),
        pytest.param((A,), [A], id="tuple"),
        pytest.param([f" {A} ", "", B], [A, B], id="list-blank-entries-dropped"),
        pytest.param(f'["{A}", "{B}"]', [A, B], id="json-list"),
        pytest.param(f'  ["{A}"]  ', [A], id="json-list-padded"),
        pytest.param(f"{A}, {B}", [A, B], id="comma-separated"),
        pytest.param(f"{A},", [A], id="trailing-comma"),
        pytest.param(A, [A], id="one-uuid"),
    ],
)
def test_what_users_pass_is_parsed(value: Any, expected: list[str]) -> None:
    assert parse_task_uuids(value) == expected


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        pytest.param([], "at least one taskUUID", id="empty-list"),
        pytest.param("", "at least one taskUUID", id="empty-string"),
        pytest.param("   ", "at least one taskUUID", id="blank-string"),
        pytest.param("[]", "at least one taskUUID", id="empty-json-list"),
        pytest.param(" , ", "at least one taskUUID", id="only-commas"),
        pytest.param(["", " "], "at least one taskUUID", id="list-of-blanks"),
        pytest.param(5, "must be a list of taskUUIDs", id="int"),
        pytest.param(None, "must be a list of taskUUIDs", id="none"),
        pytest.param({"task_uuid": A}, "must be a list of taskUUIDs", id="dict"),
        pytest.param("[not json", "must be a list of taskUUIDs", id="malformed-json"),
    ],
)
def test_anything_else_is_a_validation_error_naming_the_value(value: Any, rule: str) -> None:
    with pytest.raises(RunwareValidationError) as raised:
        parse_task_uuids(value)
    assert f"task_uuids={value!r} is invalid" in str(raised.value)
    assert rule in str(raised.value)
    assert raised.value.parameter == "task_uuids"
