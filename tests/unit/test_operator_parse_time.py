"""What happens when a DAG file is parsed: cheap imports, early and clear validation."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from airflow_provider_runware.exceptions import RunwareValidationError
from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator

# Packages (and everything below them) a DAG file that imports the operators must not pay for: the
# provider's own run engine, wire types, HTTP hook, storage and emulator, and the heavy libraries.
HEAVY_PACKAGES = [
    "airflow_provider_runware.hooks",
    "airflow_provider_runware.api",
    "airflow_provider_runware.run",
    "airflow_provider_runware.storage",
    "airflow_provider_runware.emulator",
    "boto3",
    "botocore",
    "google.cloud.storage",
    "azure.storage.blob",
    "PIL",
    "av",
    "uvicorn",
]


def test_importing_and_constructing_every_operator_stays_cheap() -> None:
    code = (
        "import sys, json\n"
        "import airflow_provider_runware.operators.runware as o, airflow_provider_runware.sensors.runware\n"
        "import airflow_provider_runware.operators.video as v, airflow_provider_runware.operators.text as t\n"
        "o.RunwareImageInferenceOperator(task_id='t', positive_prompt='p', model='openai:2@2', width=256, "
        "height=256, output_location='s3://b/p/')\n"
        "v.RunwareVideoInferenceOperator(task_id='v', model='klingai:kling-video@3-standard', "
        "positive_prompt='p', duration=5, frame_images=['s3://b/x.png'], output_location='s3://b/v/')\n"
        "t.RunwareImageCaptionOperator(task_id='c', input_image='s3://b/x.png')\n"
        "t.RunwarePromptEnhanceOperator(task_id='e', prompt='a mug')\n"
        f"heavy = {HEAVY_PACKAGES!r}\n"
        "paid = [m for m in sys.modules if any(m == h or m.startswith(h + '.') for h in heavy)]\n"
        "print(json.dumps(sorted(paid)))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []


def make(**overrides: object) -> RunwareImageInferenceOperator:
    arguments: dict[str, object] = {
        "task_id": "generate",
        "positive_prompt": "a mug",
        "model": "openai:2@2",
        "width": 512,
        "height": 512,
    }
    return RunwareImageInferenceOperator(**{**arguments, **overrides})


def test_bad_literal_size_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(RunwareValidationError) as caught:
        make(width=500, height=500)
    assert caught.value.parameter == "width"
    assert "500x500" in str(caught.value)
    assert "256x256, 512x512, 1024x1024" in str(caught.value)


def test_templated_values_are_judged_later() -> None:
    operator = make(
        width="{{ params.width }}", positive_prompt="{{ params.prompt }}", model="{{ params.model }}"
    )
    assert operator.width == "{{ params.width }}"


def test_base64_output_without_a_location_is_refused() -> None:
    with pytest.raises(RunwareValidationError, match="XCom"):
        make(output_type="base64Data")


def test_extra_params_cannot_override_managed_parameters() -> None:
    with pytest.raises(RunwareValidationError, match=r"extra_params\.uploadEndpoint"):
        make(extra_params={"uploadEndpoint": "https://example.com/x"})
    assert make(extra_params={"steps": 30}).extra_params == {"steps": 30}


def test_number_of_results_follows_the_model_page() -> None:
    with pytest.raises(RunwareValidationError, match="numberResults=21"):
        make(number_results=21)


def test_deferrable_defaults_to_airflow_config() -> None:
    assert make().deferrable is False


def test_a_retired_model_warns_at_parse_time_naming_the_date_and_replacement() -> None:
    from airflow_provider_runware.operators.runware import RunwareModelLifecycleWarning

    with pytest.warns(RunwareModelLifecycleWarning, match=r"retired since 2026-05-12.*migrate to") as caught:
        make(model="openai:2@2")
    # It points at the DAG author's line (here, make's), not into the provider or Airflow.
    (warning,) = [w for w in caught if issubclass(w.category, RunwareModelLifecycleWarning)]
    assert warning.filename == __file__


def test_a_live_or_templated_model_does_not_warn() -> None:
    import warnings

    from airflow_provider_runware.operators.runware import RunwareModelLifecycleWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", RunwareModelLifecycleWarning)
        make(model="google:2@3", width=1024, height=1024)
        make(model="{{ params.model }}")


def test_the_batch_form_names_every_bad_row_when_the_dag_is_parsed() -> None:
    rows = [
        {"positive_prompt": "a mug", "width": 256, "height": 256},
        {"positive_prompt": "a lamp", "width": 500, "height": 500},
        {"positive_prompt": "a vase", "size": "big"},
    ]
    with pytest.raises(RunwareValidationError) as caught:
        make(positive_prompt=None, width=None, height=None, requests=rows)
    message = str(caught.value)
    assert "requests[1].width='500x500'" in message
    assert "requests[2].size='big'" in message
    assert "requests[0]" not in message


def test_the_batch_form_takes_the_operators_arguments_as_defaults() -> None:
    op = make(
        positive_prompt=None,
        extra_params={"seed": 1},
        requests=[{"positive_prompt": "a mug"}, {"positive_prompt": "a lamp", "extra_params": {"seed": 2}}],
    )
    first, second = op._rows()[0]
    assert (first.width, first.height, first.extra_params) == (512, 512, {"seed": 1})
    assert (second.positive_prompt, second.extra_params) == ("a lamp", {"seed": 2})


def test_a_templated_batch_is_judged_when_rendered_not_when_parsed() -> None:
    make(positive_prompt=None, width=None, height=None, requests="{{ ti.xcom_pull('rows') }}")
