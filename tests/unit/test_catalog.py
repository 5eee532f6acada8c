"""Catalog rules beyond the shared bad-input table: lifecycle, prices, fallbacks."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path

import pytest

from airflow_provider_runware.catalog.image_models import DEFAULT_MODEL, GENERIC_RULES, MODELS, get_model_spec
from airflow_provider_runware.tasks.image_inference import validate_image_inference


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
    for size in (256, 512, 1024):
        assert validate_image_inference(task(width=size, height=size)) == []


EXAMPLES = json.loads((Path(__file__).parent.parent / "data" / "dalle2_examples.json").read_text())[
    "examples"
]


def test_dalle2_estimate_never_undershoots_the_page_or_its_examples() -> None:
    """The page prices 1K at $0.016, its four 1024x1024 examples report 0.02: the higher wins.
    OpenAI's own list prices ($0.016/$0.018/$0.020) cover the smaller sizes."""
    spec = get_model_spec("openai:2@2")
    examples_cost = max(example["response"]["cost"] for example in EXAMPLES)
    assert spec.estimate_cost(1, 1024, 1024) == max(0.016, examples_cost) == 0.02
    assert spec.estimate_cost(1, 512, 512) == 0.018
    assert spec.estimate_cost(1, 256, 256) == 0.016
    assert spec.estimate_cost(3) == 0.06, "without a size, the dearest size"


@pytest.mark.parametrize(
    ("model", "size", "price"),
    [
        ("google:2@3", (1408, 768), 0.02),
        ("google:2@3", None, 0.02),
        ("google:2@1", (1024, 1024), 0.04),
        ("google:2@1", (1408, 768), None),
        ("google:2@1", None, None),
        ("bfl:2@2", (2752, 1536), 0.06),
        ("bfl:2@2", None, 0.06),
        ("bytedance:5@0", (1024, 1024), 0.03),
        ("bytedance:5@0", (4096, 4096), None),
        ("openai:4@1", (1024, 1024), None),
    ],
)
def test_prices_only_where_a_page_documents_them(
    model: str, size: tuple[int, int] | None, price: float | None
) -> None:
    """A size the page does not price has no estimate, so max_cost_usd refuses rather than guesses."""
    width, height = size or (None, None)
    assert get_model_spec(model).estimate_cost(1, width, height) == price


def test_every_catalog_model_names_the_runware_page_it_came_from() -> None:
    for spec in MODELS.values():
        assert spec.source_url is not None
        assert spec.source_url.startswith("https://runware.ai/docs/"), spec.air_id
    assert DEFAULT_MODEL in MODELS
    default = MODELS[DEFAULT_MODEL]
    assert not default.lifecycle.deprecated
    assert default.estimate_cost(1) is not None, "the quickstart's max_cost_usd must be enforceable"


def test_deprecated_model_warning_names_the_replacement() -> None:
    warning = get_model_spec("openai:2@2").lifecycle_warning(date(2026, 5, 11))
    assert warning is not None
    assert "deprecated" in warning
    assert "openai:gpt-image@2" in warning
    assert "2026-05-12" in warning
    assert get_model_spec("openai:gpt-image@2").lifecycle_warning() is None


@pytest.mark.parametrize("model", ["openai:2@2", "openai:2@3"])
@pytest.mark.parametrize("today", [date(2026, 5, 12), date(2026, 12, 1)])
def test_past_the_deactivation_date_the_warning_says_retired_since(model: str, today: date) -> None:
    warning = get_model_spec(model).lifecycle_warning(today)
    assert warning is not None
    assert "retired since 2026-05-12" in warning
    assert "deprecated" not in warning
    assert "migrate to openai:gpt-image@2" in warning


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
    assert get_model_spec("runware:101@1").estimate_cost(2, 1024, 1024) is None


def test_all_violations_are_reported_together() -> None:
    found = validate_image_inference(task(width=500, numberResults=0, outputQuality=100))
    assert [v.parameter for v in found] == ["width", "outputQuality", "numberResults"]


def test_query_strings_are_never_echoed() -> None:
    (violation,) = validate_image_inference(task(uploadEndpoint="ftp://bucket/key?X-Amz-Signature=secret"))
    assert "secret" not in violation.message()


def test_the_docs_image_model_table_says_what_the_catalog_says_about_image_inputs() -> None:
    import re
    from pathlib import Path

    models_page = (Path(__file__).parents[2] / "docs" / "models.md").read_text()
    start = models_page.index("\n## Image models\n")
    table = models_page[start : models_page.index("\n## ", start + 1)]
    rows = re.findall(r"^\| `([^`]+)` \|[^|]*\|[^|]*\|[^|]*\| ([^|]+) \|", table, flags=re.MULTILINE)
    assert {air_id for air_id, _ in rows} == set(MODELS)
    for air_id, documented in rows:
        inputs = MODELS[air_id].image_inputs
        if inputs is None:
            assert documented == "not read", air_id
        elif inputs.reference_images:
            assert documented == f"referenceImages ({inputs.reference_images})", air_id
        else:
            assert (documented, inputs.seed_image, inputs.mask_image) == ("none", False, False), air_id
