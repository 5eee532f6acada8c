"""What makes a request "the same" for reuse, and how a user asks for fresh images on purpose."""

from __future__ import annotations

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator
from airflow_provider_runware.run.execution import fingerprint as request_fingerprint


def operator(**overrides: object) -> RunwareImageInferenceOperator:
    arguments: dict[str, object] = {
        "task_id": "generate",
        "positive_prompt": "a mug",
        "model": "openai:2@2",
        "width": 512,
        "height": 512,
        "output_location": "s3://bucket/campaign/",
    }
    return RunwareImageInferenceOperator(**{**arguments, **overrides})


def fingerprint(op: RunwareImageInferenceOperator) -> str:
    (request,) = op._rows()[0]
    return request_fingerprint(request, op.output_location, op.regenerate)


def test_identical_requests_share_a_fingerprint_and_so_their_images() -> None:
    assert fingerprint(operator()) == fingerprint(operator(deferrable=True, poll_interval=3))


def test_asking_for_more_images_reuses_the_ones_already_made() -> None:
    assert fingerprint(operator(number_results=2)) == fingerprint(operator(number_results=4))


def test_regenerate_is_the_explicit_way_to_pay_for_new_images() -> None:
    base = fingerprint(operator())
    assert fingerprint(operator(regenerate="v2")) != base
    assert fingerprint(operator(regenerate="v2")) == fingerprint(operator(regenerate="v2"))


def test_changing_what_is_asked_or_where_it_goes_means_new_images() -> None:
    base = fingerprint(operator())
    changed = [
        operator(positive_prompt="a cup"),
        operator(width=256, height=256),
        operator(output_format="PNG"),
        operator(output_location="s3://bucket/other/"),
        operator(extra_params={"seed": 7}),
    ]
    assert all(fingerprint(op) != base for op in changed)
