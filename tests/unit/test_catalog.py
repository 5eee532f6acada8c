"""Catalog rules beyond the shared bad-input table: lifecycle, prices, fallbacks."""

from __future__ import annotations

import uuid

from airflow_provider_runware.catalog import GENERIC_RULES, get_model_spec, validate_image_inference


def task(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "taskType": "imageInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "openai:2@2",
        "positivePrompt": "a lighthouse at dawn",
        "width": 512,
        "height": 512,
    }
    return {**base, **overrides}


def test_dalle2_follows_its_model_page() -> None:
    spec = get_model_spec("openai:2@2")
    assert spec.allowed_sizes == {(256, 256), (512, 512), (1024, 1024)}
    assert spec.estimate_cost(3) == 0.048
    for size in (256, 512, 1024):
        assert validate_image_inference(task(width=size, height=size)) == []


def test_deprecated_model_warning_names_the_replacement() -> None:
    warning = get_model_spec("openai:2@2").lifecycle_warning()
    assert warning is not None
    assert "openai:gpt-image@2" in warning
    assert "2026-05-12" in warning
    assert get_model_spec("openai:gpt-image@2").lifecycle_warning() is None


def test_current_model_is_data_not_code() -> None:
    assert validate_image_inference(task(model="openai:gpt-image@2", width=1536, height=1024)) == []
    (violation,) = validate_image_inference(task(model="openai:gpt-image@2", width=1000, height=1024))
    assert violation.parameter == "width"
    assert "480..3840 in steps of 16" in violation.rule


def test_unknown_models_get_generic_rules_and_extra_params_pass() -> None:
    assert get_model_spec("runware:101@1") is GENERIC_RULES
    assert (
        validate_image_inference(task(model="runware:101@1", width=1024, height=640, steps=30, CFGScale=7))
        == []
    )
    assert get_model_spec("runware:101@1").estimate_cost(2) is None


def test_all_violations_are_reported_together() -> None:
    found = validate_image_inference(task(width=500, numberResults=0, outputQuality=100))
    assert [v.parameter for v in found] == ["width", "outputQuality", "numberResults"]


def test_query_strings_are_never_echoed() -> None:
    (violation,) = validate_image_inference(task(uploadEndpoint="ftp://bucket/key?X-Amz-Signature=secret"))
    assert "secret" not in violation.message()
