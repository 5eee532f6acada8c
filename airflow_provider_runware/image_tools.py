"""Runware's ``removeBackground`` and ``upscale`` tasks: their models, rules and operator arguments.

Read from Runware's tool pages (``BACKGROUND_REMOVAL_DOCS``, ``UPSCALE_DOCS``). As for inference
models, a model the pages do not list is not refused (only its AIR id's shape is judged), and a rule
the pages do not state is not invented. The pages state no prices, so these tasks have no estimate
and ``max_cost_usd`` refuses them rather than guess; Runware's reported cost is logged per image.
Pure Python: the operators build these when a DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from airflow_provider_runware.arguments import ImageTaskArguments
from airflow_provider_runware.catalog import (
    AIR_ID_PATTERN,
    DELIVERY_METHODS,
    OUTPUT_TYPES,
    Violation,
    check_bool,
    check_choice,
    check_int,
    check_url,
    is_uuid_v4,
    redact_url,
)
from airflow_provider_runware.modelspec import IntRange

BACKGROUND_REMOVAL_DOCS = "https://runware.ai/docs/en/tools/remove-background"
UPSCALE_DOCS = "https://runware.ai/docs/en/tools/upscale"
OUTPUT_FORMATS = ("JPG", "PNG", "WEBP")
BACKGROUND_REMOVAL_MODELS = {
    "runware:109@1": "RemBG 1.4",
    "runware:110@1": "Bria RMBG 2.0",
    "runware:112@1": "BiRefNet v1 Base",
    "runware:112@2": "BiRefNet v1 Base - COD",
    "runware:112@3": "BiRefNet Dis",
    "runware:112@5": "BiRefNet General",
    "runware:112@6": "BiRefNet General Resolution 512x512 FP16",
    "runware:112@7": "BiRefNet HRSOD DHU",
    "runware:112@8": "BiRefNet Massive TR DIS5K TR TES",
    "runware:112@9": "BiRefNet Matting",
    "runware:112@10": "BiRefNet Portrait",
}
# "Currently only RemBG 1.4 model (runware:109@1) supports the settings object."
BACKGROUND_SETTINGS_MODELS = frozenset({"runware:109@1"})
BACKGROUND_SETTINGS_BOUNDS = {
    "alphaMattingForegroundThreshold": IntRange(1, 255),
    "alphaMattingBackgroundThreshold": IntRange(1, 255),
    "alphaMattingErodeSize": IntRange(1, 255),
}
BACKGROUND_SETTINGS_FLAGS = ("postProcessMask", "returnOnlyMask", "alphaMatting")
UPSCALE_MODELS = {
    "runware:500@1": "Clarity",
    "runware:501@1": "CCSR",
    "runware:502@1": "Stable Diffusion Latent Upscaler",
    "runware:503@1": "SwinIR",
}
UPSCALE_FACTORS = (2, 4)
# "Only SwinIR model supports 4x upscaling."
FOUR_TIMES_MODELS = frozenset({"runware:503@1"})
# The page's compatibility table of creative-upscaling settings per model.
UPSCALE_SETTINGS = {
    "runware:500@1": frozenset(
        {
            "positivePrompt",
            "negativePrompt",
            "strength",
            "controlNetWeight",
            "steps",
            "scheduler",
            "seed",
            "CFGScale",
        }
    ),
    "runware:501@1": frozenset(
        {"positivePrompt", "negativePrompt", "controlNetWeight", "steps", "seed", "CFGScale"}
    ),
    "runware:502@1": frozenset({"positivePrompt", "negativePrompt", "steps", "seed", "CFGScale", "clipSkip"}),
    "runware:503@1": frozenset(),
}


def _check_common(task: Mapping[str, Any], models: Mapping[str, str]) -> Iterable[Violation]:
    if not is_uuid_v4(task.get("taskUUID")):
        yield Violation(
            "taskUUID", task.get("taskUUID"), "a UUID v4 (8-4-4-4-12 hex digits)", "invalidTaskUUID"
        )
    model = task.get("model")
    if not isinstance(model, str) or not AIR_ID_PATTERN.match(model):
        listed = ", ".join(f"{air_id} ({name})" for air_id, name in models.items())
        yield Violation("model", model, f"an AIR id such as {listed}", "invalidModel")
    image = task.get("inputImage")
    if not isinstance(image, str) or not image.strip():
        yield Violation(
            "inputImage",
            redact_url(image),
            "an image reference (a URI, URL or imageUUID)",
            "invalidInputImage",
        )
    yield from check_choice(task, "outputType", OUTPUT_TYPES)
    yield from check_choice(task, "outputFormat", OUTPUT_FORMATS)
    yield from check_choice(task, "deliveryMethod", DELIVERY_METHODS)
    yield from check_int(task, "outputQuality", IntRange(20, 99))
    yield from check_int(task, "ttl", IntRange(60))
    yield from check_bool(task, "includeCost")
    yield from check_url(task, "webhookURL")
    yield from check_url(task, "uploadEndpoint")


def validate_background_removal(task: Mapping[str, Any]) -> list[Violation]:
    """Every rule a ``removeBackground`` task (wire form) breaks; empty when it is acceptable."""
    violations = list(_check_common(task, BACKGROUND_REMOVAL_MODELS))
    if "settings" not in task:
        return violations
    settings, model = task["settings"], task.get("model")
    if not isinstance(settings, Mapping):
        return [
            *violations,
            Violation("settings", settings, "an object of background-removal settings", "invalidSettings"),
        ]
    if model in BACKGROUND_REMOVAL_MODELS and model not in BACKGROUND_SETTINGS_MODELS:
        rule = f"left out: only {', '.join(sorted(BACKGROUND_SETTINGS_MODELS))} (RemBG 1.4) takes settings"
        violations.append(Violation("settings", dict(settings), rule, "unsupportedSettings"))
    for name, bounds in BACKGROUND_SETTINGS_BOUNDS.items():
        violations.extend(
            Violation(f"settings.{v.parameter}", v.value, v.rule, "invalidSettings")
            for v in check_int(settings, name, bounds)
        )
    for name in BACKGROUND_SETTINGS_FLAGS:
        violations.extend(
            Violation(f"settings.{v.parameter}", v.value, v.rule, "invalidSettings")
            for v in check_bool(settings, name)
        )
    rgba = settings.get("rgba")
    if "rgba" in settings and not (
        isinstance(rgba, list)
        and len(rgba) == 4
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgba[:3])
        and isinstance(rgba[3], int | float)
        and not isinstance(rgba[3], bool)
    ):
        violations.append(
            Violation(
                "settings.rgba", rgba, "[red, green, blue, alpha] with 0..255 colours", "invalidSettings"
            )
        )
    return violations


def validate_upscale(task: Mapping[str, Any]) -> list[Violation]:
    """Every rule an ``upscale`` task (wire form) breaks; empty when it is acceptable."""
    violations = list(_check_common(task, UPSCALE_MODELS))
    model = task.get("model")
    factor = task.get("upscaleFactor")
    if factor not in UPSCALE_FACTORS or isinstance(factor, bool):
        violations.append(Violation("upscaleFactor", factor, "2 or 4", "invalidUpscaleFactor"))
    elif factor == 4 and model in UPSCALE_MODELS and model not in FOUR_TIMES_MODELS:
        rule = f"2 for {model} ({UPSCALE_MODELS[model]}): only SwinIR (runware:503@1) upscales 4x"
        violations.append(Violation("upscaleFactor", factor, rule, "invalidUpscaleFactor"))
    settings = task.get("settings")
    if "settings" in task and not isinstance(settings, Mapping):
        violations.append(
            Violation("settings", settings, "an object of upscaling settings", "invalidSettings")
        )
    elif isinstance(settings, Mapping) and model in UPSCALE_SETTINGS:
        allowed = UPSCALE_SETTINGS[str(model)]
        for name in sorted(set(settings) - allowed):
            rule = f"left out: {model} ({UPSCALE_MODELS[str(model)]}) takes " + (
                ", ".join(sorted(allowed)) or "no settings"
            )
            violations.append(Violation(f"settings.{name}", settings[name], rule, "unsupportedSettings"))
    return violations


@dataclass(kw_only=True)
class BackgroundRemovalArguments(ImageTaskArguments):
    """``removeBackground``: one cut-out per input image (PNG keeps the transparency)."""

    TASK_TYPE: ClassVar[str] = "removeBackground"
    PARAMETERS: ClassVar[Mapping[str, str]] = {"input_image": "inputImage", "settings": "settings"}
    IMAGE_INPUTS: ClassVar[tuple[str, ...]] = ("input_image",)

    input_image: Any
    settings: Any = None
    output_format: Any = "PNG"

    def rule_violations(self, task: Mapping[str, Any]) -> list[Violation]:
        return validate_background_removal(task)

    def estimated_cost(self, images: int) -> float | None:
        return None


@dataclass(kw_only=True)
class UpscaleArguments(ImageTaskArguments):
    """``upscale``: one image ``upscale_factor`` times larger per input image (at most 4096x4096)."""

    TASK_TYPE: ClassVar[str] = "upscale"
    PARAMETERS: ClassVar[Mapping[str, str]] = {
        "input_image": "inputImage",
        "upscale_factor": "upscaleFactor",
        "settings": "settings",
    }
    IMAGE_INPUTS: ClassVar[tuple[str, ...]] = ("input_image",)

    input_image: Any
    upscale_factor: Any = 2
    settings: Any = None

    def rule_violations(self, task: Mapping[str, Any]) -> list[Violation]:
        return validate_upscale(task)

    def estimated_cost(self, images: int) -> float | None:
        return None

    def record_fields(self) -> dict[str, Any]:
        return {**super().record_fields(), "upscale_factor": self.upscale_factor}
