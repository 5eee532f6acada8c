"""Runware's ``imageInference``: text-to-image, and image-to-image, inpainting or editing where the
model takes image inputs. Its rules (judged on the wire form, shared with the emulator) and the
operator arguments that build it.

The model data lives in :mod:`airflow_provider_runware.catalog.image_models`. Pure Python on purpose:
it is imported when a DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from airflow_provider_runware.catalog.image_models import GENERIC_RULES, get_model_spec
from airflow_provider_runware.catalog.modelspec import ModelSpec
from airflow_provider_runware.catalog.rules import (
    AIR_ID_PATTERN,
    DELIVERY_METHODS,
    OUTPUT_TYPES,
    Violation,
    check_bool,
    check_choice,
    check_int,
    check_task_uuid,
    check_url,
    is_int,
    redact_url,
    violation_code,
)
from airflow_provider_runware.tasks.base import FileTaskArguments, as_reference_list, coerce_rendered

DOCS_URL = "https://runware.ai/docs/en/image-inference/api-reference"


def _check_prompt(task: Mapping[str, Any], spec: ModelSpec) -> Iterable[Violation]:
    if "positivePrompt" not in task:
        yield Violation("positivePrompt", None, "present (a text prompt)", "missingPositivePrompt")
        return
    prompt = task["positivePrompt"]
    bounds = spec.prompt_length
    upper = f"..{bounds.maximum}" if bounds.maximum is not None else " or more"
    rule = f"a string of {bounds.minimum}{upper} characters"
    if not isinstance(prompt, str) or not bounds.contains(len(prompt)):
        yield Violation("positivePrompt", prompt, rule, "invalidPositivePrompt")


def _check_size(task: Mapping[str, Any], spec: ModelSpec) -> Iterable[Violation]:
    has_width, has_height = "width" in task, "height" in task
    if not has_width or not has_height:
        missing = "height" if has_width else "width"
        yield Violation(
            missing,
            None,
            "present: width and height are required together",
            violation_code("missing", missing),
        )
        return
    width, height = task["width"], task["height"]
    for name, value in (("width", width), ("height", height)):
        if not is_int(value):
            yield Violation(name, value, "an integer", violation_code("invalid", name))
    if is_int(width) and is_int(height) and not spec.size_allowed(width, height):
        model = spec.air_id if spec.known else task.get("model")
        yield Violation("width", f"{width}x{height}", f"{spec.size_rule()} for {model}", "invalidWidth")


def _check_safety(task: Mapping[str, Any], spec: ModelSpec) -> Iterable[Violation]:
    if "safety" not in task:
        return
    safety = task["safety"]
    if not isinstance(safety, Mapping):
        yield Violation("safety", safety, "an object {checkContent, mode}", "invalidSafety")
        return
    if "checkContent" in safety and not isinstance(safety["checkContent"], bool):
        yield Violation("safety.checkContent", safety["checkContent"], "a boolean", "invalidSafety")
    if "mode" not in safety:
        return
    mode, modes = safety["mode"], spec.safety_modes
    if modes is None:
        if not isinstance(mode, str):
            yield Violation("safety.mode", mode, "a string", "invalidSafety")
    elif mode not in modes:
        yield Violation("safety.mode", mode, "one of " + ", ".join(modes), "invalidSafety")


IMAGE_INPUT_PARAMETERS = ("seedImage", "maskImage", "referenceImages")


def _check_image_inputs(task: Mapping[str, Any], spec: ModelSpec) -> Iterable[Violation]:
    """The inputs' shapes, and whether this model's page documents taking them at all."""
    for name in ("seedImage", "maskImage"):
        if name in task and (not isinstance(task[name], str) or not task[name].strip()):
            yield Violation(
                name,
                redact_url(task[name]),
                "an image reference (a non-empty string)",
                violation_code("invalid", name),
            )
    references = task.get("referenceImages")
    if "referenceImages" in task and (
        not isinstance(references, list)
        or not references
        or not all(isinstance(item, str) and item.strip() for item in references)
    ):
        yield Violation(
            "referenceImages", references, "a non-empty list of image references", "invalidReferenceImages"
        )
    if "maskImage" in task and "seedImage" not in task:
        yield Violation(
            "maskImage",
            redact_url(task["maskImage"]),
            "given with seedImage (inpainting edits the seed image)",
            "invalidMaskImage",
        )
    if "strength" in task:
        strength = task["strength"]
        if isinstance(strength, bool) or not isinstance(strength, int | float) or not 0 <= strength <= 1:
            yield Violation("strength", strength, "a number from 0 to 1", "invalidStrength")
    supported = spec.image_inputs
    if supported is None:
        return
    refused = {
        "seedImage": not supported.seed_image,
        "maskImage": not supported.mask_image,
        "referenceImages": not supported.reference_images,
    }
    for name in IMAGE_INPUT_PARAMETERS:
        if name in task and refused[name]:
            yield Violation(
                name,
                redact_url(task[name]) if isinstance(task[name], str) else task[name],
                f"left out: {spec.air_id} ({spec.name}) takes {supported.describe()}",
                "unsupportedImageInput",
            )
    if isinstance(references, list) and 0 < supported.reference_images < len(references):
        yield Violation(
            "referenceImages",
            f"{len(references)} images",
            f"at most {supported.reference_images} images for {spec.air_id} ({spec.name})",
            "invalidReferenceImages",
        )


def validate_image_inference(task: Mapping[str, Any]) -> list[Violation]:
    """Every rule ``task`` (wire form) breaks, in a stable order; empty when it is acceptable.

    Unknown extra parameters are not judged: new API features must not be blocked by an old catalog.
    """
    violations: list[Violation] = []
    violations.extend(check_task_uuid(task))
    model = task.get("model")
    if not isinstance(model, str) or not AIR_ID_PATTERN.match(model):
        violations.append(
            Violation("model", model, "an AIR id of the form source:id@version", "invalidModel")
        )
        spec = GENERIC_RULES
    else:
        spec = get_model_spec(model)
    violations.extend(_check_prompt(task, spec))
    violations.extend(_check_size(task, spec))
    violations.extend(check_choice(task, "outputType", OUTPUT_TYPES))
    violations.extend(check_choice(task, "outputFormat", spec.output_formats))
    violations.extend(check_choice(task, "deliveryMethod", DELIVERY_METHODS))
    violations.extend(check_int(task, "outputQuality", spec.output_quality))
    violations.extend(check_int(task, "numberResults", spec.number_results))
    violations.extend(check_int(task, "ttl", spec.ttl))
    violations.extend(check_bool(task, "includeCost"))
    violations.extend(check_url(task, "webhookURL"))
    violations.extend(check_url(task, "uploadEndpoint"))
    violations.extend(_check_safety(task, spec))
    return violations


def validate_image_inputs(task: Mapping[str, Any]) -> list[Violation]:
    """The image-input rules the client applies before paying (the emulator keeps its own table of
    which models take which inputs, so the two are checked against each other, not against
    themselves)."""
    model = task.get("model")
    spec = get_model_spec(model) if isinstance(model, str) else GENERIC_RULES
    return list(_check_image_inputs(task, spec))


@dataclass(kw_only=True)
class InferenceArguments(FileTaskArguments):
    """``imageInference``: text-to-image, and image-to-image, inpainting or editing where the model
    takes image inputs (the catalog says which)."""

    TASK_TYPE: ClassVar[str] = "imageInference"
    COUNT_PARAMETER: ClassVar[str | None] = "numberResults"
    PARAMETERS: ClassVar[Mapping[str, str]] = {
        "positive_prompt": "positivePrompt",
        "width": "width",
        "height": "height",
        "number_results": "numberResults",
        "safety": "safety",
        "seed_image": "seedImage",
        "mask_image": "maskImage",
        "reference_images": "referenceImages",
        "strength": "strength",
    }
    IMAGE_INPUTS: ClassVar[tuple[str, ...]] = ("seed_image", "mask_image", "reference_images")

    positive_prompt: Any
    width: Any
    height: Any
    number_results: Any = 1
    safety: Any = None
    seed_image: Any = None
    mask_image: Any = None
    reference_images: Any = None
    strength: Any = None

    def __post_init__(self) -> None:
        if self.reference_images is not None:
            self.reference_images = as_reference_list(self.reference_images)

    def rule_violations(self, task: Mapping[str, Any]) -> list[Violation]:
        return [*validate_image_inference(task), *validate_image_inputs(task)]

    def checked_wire_task(self, task: dict[str, Any]) -> dict[str, Any]:
        """Through the strict pydantic request type as well, which also sends the canonical spelling
        of values Runware reads case-insensitively (``jpg`` -> ``JPG``). Imported here: the parse path
        never loads pydantic schemas."""
        from airflow_provider_runware.api.schemas import ImageInferenceRequest

        return ImageInferenceRequest.from_wire(task).to_wire()

    def estimated_cost(self, images: int) -> float | None:
        """The catalog's price for this size (its dearest documented one when the size is unknown)."""
        width = coerce_rendered("width", self.width)
        height = coerce_rendered("height", self.height)
        return get_model_spec(str(self.model)).estimate_cost(
            images, width if isinstance(width, int) else None, height if isinstance(height, int) else None
        )

    def record_fields(self) -> dict[str, Any]:
        return {
            **super().record_fields(),
            "width": int(self.width),
            "height": int(self.height),
            "positive_prompt": self.positive_prompt,
        }
