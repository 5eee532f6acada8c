"""Image inputs and the two image tools are judged before any HTTP call, naming parameter, value and rule."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from airflow_provider_runware.exceptions import RunwareValidationError
from airflow_provider_runware.operators.runware import (
    RunwareBackgroundRemovalOperator,
    RunwareImageInferenceOperator,
    RunwareUpscaleOperator,
)

PHOTO = "s3://catalogue/products/mug.png"
PHOTO_UUID = "6ba7b823-9dad-41d1-80b4-00c04fd430c8"
SIGNED_URL = "https://bucket.s3.amazonaws.com/mug.png?X-Amz-Signature=abc123"


def inference(**overrides: Any) -> RunwareImageInferenceOperator:
    arguments: dict[str, Any] = {
        "task_id": "restyle",
        "positive_prompt": "the mug on a marble kitchen counter, morning light",
        "model": "bytedance:5@0",
        "width": 1024,
        "height": 1024,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return RunwareImageInferenceOperator(**{**arguments, **overrides})


def refusal(build: Any, **overrides: Any) -> str:
    with pytest.raises(RunwareValidationError) as caught:
        build(**overrides)
    return str(caught.value)


def test_a_text_to_image_model_refuses_image_inputs_when_the_dag_is_parsed() -> None:
    message = refusal(inference, model="openai:2@2", width=512, height=512, seed_image=PHOTO)
    assert "seedImage='s3://catalogue/products/mug.png' is invalid" in message
    assert "openai:2@2 (DALL·E 2) takes no image inputs (text-to-image only)" in message


def test_an_editing_model_takes_reference_images_up_to_its_documented_count() -> None:
    assert inference(reference_images=[PHOTO] * 14).reference_images == [PHOTO] * 14
    message = refusal(inference, reference_images=[PHOTO] * 15)
    assert "referenceImages='15 images' is invalid: must be at most 14 images for bytedance:5@0" in message


def test_an_editing_model_without_a_seed_image_workflow_refuses_one() -> None:
    message = refusal(inference, seed_image=PHOTO_UUID)
    assert "takes up to 14 referenceImages" in message


def test_a_model_the_catalog_has_not_read_is_not_refused_inputs() -> None:
    op = inference(model="runware:101@1", seed_image=PHOTO, mask_image=PHOTO, strength=0.6)
    assert op.seed_image == PHOTO


def test_a_mask_needs_a_seed_image_and_strength_is_a_fraction() -> None:
    message = refusal(inference, model="runware:101@1", mask_image=PHOTO, strength=1.5)
    assert "maskImage='s3://catalogue/products/mug.png' is invalid: must be given with seedImage" in message
    assert "strength=1.5 is invalid: must be a number from 0 to 1" in message


def test_templated_inputs_are_judged_when_rendered() -> None:
    op = inference(model="openai:2@2", width=512, height=512, seed_image="{{ ti.xcom_pull('cutout') }}")
    assert op.seed_image.startswith("{{")


def test_reference_images_rendered_as_json_are_a_list() -> None:
    (request,) = inference(reference_images=f'["{PHOTO}", "{PHOTO_UUID}"]')._rows()[0]
    assert request.wire_task()["referenceImages"] == [PHOTO, PHOTO_UUID]
    assert request.image_input_references() == [
        ("reference_images[0]", PHOTO),
        ("reference_images[1]", PHOTO_UUID),
    ]


def test_background_removal_defaults_to_a_png_cut_out() -> None:
    op = RunwareBackgroundRemovalOperator(task_id="cut_out", input_image=PHOTO)
    (request,) = op._rows()[0]
    assert request.wire_task("c64351d5-4c59-42f7-95e1-eace013eddab") == {
        "taskType": "removeBackground",
        "taskUUID": "c64351d5-4c59-42f7-95e1-eace013eddab",
        "model": "runware:110@1",
        "inputImage": PHOTO,
        "outputFormat": "PNG",
        "outputType": "URL",
        "includeCost": True,
    }


def test_background_removal_settings_only_for_rembg() -> None:
    message = refusal(
        RunwareBackgroundRemovalOperator,
        task_id="cut_out",
        input_image=PHOTO,
        settings={"alphaMatting": True},
    )
    assert "only runware:109@1 (RemBG 1.4) takes settings" in message
    message = refusal(
        RunwareBackgroundRemovalOperator,
        task_id="cut_out",
        input_image=PHOTO,
        model="runware:109@1",
        settings={"alphaMattingErodeSize": 0, "rgba": [255, 255, 255]},
    )
    assert "settings.alphaMattingErodeSize=0 is invalid: must be an integer 1..255" in message
    assert "settings.rgba=[255, 255, 255] is invalid" in message


def test_background_removal_needs_an_input_image() -> None:
    message = refusal(RunwareBackgroundRemovalOperator, task_id="cut_out")
    assert message.startswith("Invalid removeBackground request: inputImage=None is invalid")


def test_upscale_factor_four_is_swinir_only() -> None:
    op = RunwareUpscaleOperator(task_id="upscale", input_image=PHOTO_UUID, upscale_factor=4)
    assert op._rows()[0][0].wire_task()["upscaleFactor"] == 4
    message = refusal(
        RunwareUpscaleOperator,
        task_id="upscale",
        input_image=PHOTO_UUID,
        upscale_factor=4,
        model="runware:501@1",
    )
    assert "upscaleFactor=4 is invalid: must be 2 for runware:501@1 (CCSR)" in message
    assert "upscaleFactor=3 is invalid: must be 2 or 4" in refusal(
        RunwareUpscaleOperator, task_id="upscale", input_image=PHOTO_UUID, upscale_factor=3
    )


def test_upscale_settings_follow_the_models_compatibility_table() -> None:
    message = refusal(
        RunwareUpscaleOperator,
        task_id="upscale",
        input_image=PHOTO_UUID,
        model="runware:501@1",
        settings={"steps": 20, "strength": 0.3},
    )
    assert "settings.strength=0.3 is invalid: must be left out: runware:501@1 (CCSR) takes" in message
    assert "settings.steps" not in message


def test_a_templated_upscale_factor_is_an_integer_once_rendered() -> None:
    op = RunwareUpscaleOperator(
        task_id="upscale", input_image=PHOTO_UUID, upscale_factor="{{ params.factor }}"
    )
    op.upscale_factor = "4"
    assert op._rows()[0][0].wire_task()["upscaleFactor"] == 4


def test_the_batch_form_names_each_bad_row_of_a_tool() -> None:
    message = refusal(
        RunwareUpscaleOperator,
        task_id="upscale",
        requests=[{"input_image": PHOTO}, {"input_image": PHOTO, "upscale_factor": 8}, {"prompt": "x"}],
    )
    assert "requests[1].upscaleFactor=8" in message
    assert (
        "requests[2].prompt='x' is invalid: must be one of extra_params, include_cost, input_image" in message
    )
    assert "requests[0]" not in message


def test_the_tools_have_no_price_so_a_cost_limit_cannot_be_enforced_on_a_guess() -> None:
    (request,) = RunwareUpscaleOperator(task_id="upscale", input_image=PHOTO)._rows()[0]
    assert request.estimated_cost(1) is None


def test_an_api_error_quoting_a_presigned_input_url_keeps_only_its_path() -> None:
    from airflow_provider_runware.api.schemas import ApiErrorItem

    error = ApiErrorItem.from_item(
        {
            "taskUUID": PHOTO_UUID,
            "error": {
                "code": "invalidSeedImage",
                "message": f"Could not download {SIGNED_URL} (403)",
            },
        }
    )
    assert error.message == "Could not download https://bucket.s3.amazonaws.com/mug.png (403)"
    assert "abc123" not in str(error.to_exception())
