"""The connection's max_images_in_flight: a task that the pool would not count is refused before it pays."""

from __future__ import annotations

import pytest

from airflow_provider_runware.exceptions import RunwareValidationError
from airflow_provider_runware.run.in_flight import check_in_flight_limit


def check(**overrides: object) -> None:
    arguments: dict[str, object] = {
        "limit": 600,
        "images": 100,
        "pool": "runware_images",
        "pool_slots": 100,
        "conn_id": "runware_default",
    }
    check_in_flight_limit(**{**arguments, **overrides})  # type: ignore[arg-type]


def test_a_task_holding_a_slot_per_image_in_a_pool_passes() -> None:
    check()
    check(limit=None, pool="default_pool", pool_slots=1)  # no limit: nothing to check


@pytest.mark.parametrize(
    ("overrides", "parameter", "says"),
    [
        ({"pool": "default_pool"}, "pool", "pool_slots=100"),
        ({"pool_slots": 1}, "pool_slots", "set pool_slots=100"),
        ({"images": 700}, "requests", "at most 600 images"),
    ],
)
def test_a_task_the_pool_would_not_count_is_refused_naming_the_fix(
    overrides: dict[str, object], parameter: str, says: str
) -> None:
    with pytest.raises(RunwareValidationError) as caught:
        check(**overrides)
    assert caught.value.parameter == parameter
    assert says in str(caught.value)
    assert "max_images_in_flight=600" in str(caught.value)
    assert "include-deferred" in str(caught.value)
