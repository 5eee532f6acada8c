"""Runware's ``imageCaption`` (image to text): its wire rules, shared with the emulator.

From the image-to-text page (:data:`~airflow_provider_runware.catalog.caption_models.DOCS`): one
``inputImage`` (a URL, data URI, base64 or imageUUID), an optional ``model`` and ``prompt`` (for the
vision-language models), ``includeCost``, ``webhookURL``. runware-sdk 1.8.0 calls the task type ``caption``
and sends the image as ``inputs.image``; the older SDK sends several images as ``inputImages``: all are
accepted. Pure Python: imported when a DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from airflow_provider_runware.catalog.caption_models import CAPTION_MODELS
from airflow_provider_runware.catalog.rules import (
    AIR_ID_PATTERN,
    DELIVERY_METHODS,
    Violation,
    check_bool,
    check_choice,
    check_task_uuid,
    check_url,
    redact_url,
)
from airflow_provider_runware.tasks.base import ResultKind, TaskArguments

TASK_TYPE = "imageCaption"
IMAGE_RULE = "an image reference (a URL, data URI, base64 or imageUUID)"


def caption_inputs_of(task: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Every input image as ``(parameter, reference)``: ``inputImage``, ``inputImages[i]``,
    ``inputs.image`` or ``inputs.images[i]``."""
    found: list[tuple[str, Any]] = []
    inputs = task.get("inputs")
    sources: list[tuple[str, Any]] = [
        ("inputImage", task.get("inputImage")),
        ("inputImages", task.get("inputImages")),
    ]
    if isinstance(inputs, Mapping):
        sources += [("inputs.image", inputs.get("image")), ("inputs.images", inputs.get("images"))]
    for parameter, value in sources:
        if value is None:
            continue
        if parameter.endswith("images") or parameter.endswith("Images"):
            if isinstance(value, list):
                found += [(f"{parameter}[{index}]", item) for index, item in enumerate(value)]
            else:
                found.append((parameter, value))
        else:
            found.append((parameter, value))
    return found


def _input_violations(task: Mapping[str, Any]) -> Iterable[Violation]:
    inputs = caption_inputs_of(task)
    if not inputs:
        yield Violation("inputImage", None, f"given: {IMAGE_RULE}", "missingInputImage")
    for parameter, value in inputs:
        if not isinstance(value, str) or not value.strip():
            yield Violation(parameter, redact_url(value), IMAGE_RULE, "invalidInputImage")


def validate_image_caption(task: Mapping[str, Any]) -> list[Violation]:
    """Every rule an ``imageCaption`` task (wire form) breaks; empty when it is acceptable."""
    violations: list[Violation] = []
    violations.extend(check_task_uuid(task))
    if "model" in task:
        model = task["model"]
        if not isinstance(model, str) or not AIR_ID_PATTERN.match(model):
            listed = ", ".join(f"{air} ({name})" for air, name in CAPTION_MODELS.items())
            violations.append(Violation("model", model, f"an AIR id such as {listed}", "invalidModel"))
    violations += _input_violations(task)
    if "prompt" in task:
        prompt = task["prompt"]
        ok = (isinstance(prompt, str) and prompt.strip()) or (
            isinstance(prompt, list) and prompt and all(isinstance(p, str) and p.strip() for p in prompt)
        )
        if not ok:
            violations.append(
                Violation("prompt", prompt, "a non-empty string (or list of strings)", "invalidPrompt")
            )
    violations += check_choice(task, "deliveryMethod", DELIVERY_METHODS)
    violations += check_bool(task, "includeCost")
    violations += check_url(task, "webhookURL")
    return violations


@dataclass(kw_only=True)
class ImageCaptionArguments(TaskArguments):
    """``imageCaption``: one description (text) per input image."""

    TASK_TYPE: ClassVar[str] = TASK_TYPE
    RESULT: ClassVar[ResultKind] = ResultKind.TEXT
    PARAMETERS: ClassVar[Mapping[str, str]] = {"input_image": "inputImage", "prompt": "prompt"}
    IMAGE_INPUTS: ClassVar[tuple[str, ...]] = ("input_image",)

    input_image: Any
    prompt: Any = None

    def rule_violations(self, task: Mapping[str, Any]) -> list[Violation]:
        return validate_image_caption(task)

    def estimated_cost(self, images: int) -> float | None:
        """The image-to-text page states no price: ``max_cost_usd`` refuses rather than guess."""
        return None
