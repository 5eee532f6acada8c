"""Validating an ``imageInference`` task against the model's rules (the data lives in ``models``).

Both the client (before any HTTP call) and the bundled emulator (when answering) validate through
:func:`validate_image_inference`, so the two sides cannot drift apart. Rules work on the *wire* form of
a task (Runware's camelCase names, JSON types) because that is what the emulator receives and what the
client finally sends.

This module is imported at DAG-parse time by the operator, so it must stay pure Python: no pydantic
models, no HTTP, no image libraries.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_runware.models import DEFAULT_MODEL, GENERIC_RULES, MODELS
from airflow_provider_runware.modelspec import IntRange, Lifecycle, ModelSpec, Pricing

__all__ = [
    "DEFAULT_MODEL",
    "GENERIC_RULES",
    "MODELS",
    "IntRange",
    "Lifecycle",
    "ModelSpec",
    "Pricing",
    "Violation",
    "get_model_spec",
    "raise_for_violations",
    "validate_image_inference",
]

AIR_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*:[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$")
# A UUID in its canonical 8-4-4-4-12 form, any letter case (Runware does not ask for lowercase).
UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
OUTPUT_TYPES = ("URL", "base64Data", "dataURI")
DELIVERY_METHODS = ("sync", "async")
# Enums Runware matches without regard to case: its own examples send outputFormat "jpg".
CASE_INSENSITIVE_PARAMETERS = frozenset({"outputFormat"})
DOCS_URL = "https://runware.ai/docs/en/image-inference/api-reference"


def get_model_spec(air_id: str) -> ModelSpec:
    """Rules for ``air_id``; models the catalog does not know get the generic rules."""
    return MODELS.get(air_id, GENERIC_RULES)


def normalize_output_format(value: Any) -> Any:
    """``"jpg"`` means ``"JPG"`` to Runware; anything that is not a string is left for validation."""
    return value.upper() if isinstance(value, str) else value


@dataclass(frozen=True)
class Violation:
    """One broken rule, phrased so a DAG author can fix it without reading docs."""

    parameter: str
    value: Any
    rule: str
    code: str

    def message(self) -> str:
        shown = repr(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"{self.parameter}={shown} is invalid: must be {self.rule}"


def violation_code(kind: str, parameter: str) -> str:
    return f"{kind}{parameter[0].upper()}{parameter[1:]}"


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_uuid_v4(value: Any) -> bool:
    return isinstance(value, str) and bool(UUID_PATTERN.match(value)) and uuid.UUID(value).version == 4


def check_int(task: Mapping[str, Any], name: str, bounds: IntRange) -> Iterable[Violation]:
    if name not in task:
        return
    value = task[name]
    if not is_int(value) or not bounds.contains(value):
        yield Violation(name, value, bounds.describe(), violation_code("invalid", name))


def check_choice(task: Mapping[str, Any], name: str, choices: tuple[str, ...]) -> Iterable[Violation]:
    if name not in task:
        return
    value = task[name]
    if name in CASE_INSENSITIVE_PARAMETERS:
        allowed = {choice.upper() for choice in choices}
        ok = isinstance(value, str) and value.upper() in allowed
    else:
        ok = value in choices
    if not ok:
        rule = "one of " + ", ".join(choices)
        if name in CASE_INSENSITIVE_PARAMETERS:
            rule += " (any letter case)"
        yield Violation(name, value, rule, violation_code("invalid", name))


def check_bool(task: Mapping[str, Any], name: str) -> Iterable[Violation]:
    if name in task and not isinstance(task[name], bool):
        yield Violation(name, task[name], "a boolean (true or false)", violation_code("invalid", name))


def check_url(task: Mapping[str, Any], name: str) -> Iterable[Violation]:
    if name not in task:
        return
    value = task[name]
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/?#]+", value):
        yield Violation(name, redact_url(value), "an http(s) URL", violation_code("invalid", name))


def redact_url(value: Any) -> Any:
    """Never echo a query string back: it may hold a presigned signature or a webhook token."""
    if isinstance(value, str) and "?" in value:
        return value.split("?", 1)[0] + "?***"
    return value


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
    if not is_uuid_v4(task.get("taskUUID")):
        violations.append(
            Violation(
                "taskUUID", task.get("taskUUID"), "a UUID v4 (8-4-4-4-12 hex digits)", "invalidTaskUUID"
            )
        )
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


def raise_for_violations(
    violations: Sequence[Violation], task_uuid: str | None = None, task_type: str = "imageInference"
) -> None:
    """Turn catalog violations into one error that lists them all (fixing one at a time is tedious)."""
    if not violations:
        return
    from airflow_provider_runware.exceptions import RunwareValidationError

    first = violations[0]
    message = "; ".join(v.message() for v in violations)
    raise RunwareValidationError(
        f"Invalid {task_type} request: {message}",
        code=first.code,
        parameter=first.parameter if len(violations) == 1 else [v.parameter for v in violations],
        task_uuid=task_uuid,
    )
