"""Runware's ``upscale``: one image ``upscale_factor`` times larger per input image (at most 4096x4096).

Its models, factors and settings table live in :mod:`airflow_provider_runware.catalog.upscale_models`.
Pure Python: the operators build these when a DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from airflow_provider_runware.catalog.rules import Violation
from airflow_provider_runware.catalog.upscale_models import (
    FOUR_TIMES_MODELS,
    UPSCALE_FACTORS,
    UPSCALE_MODELS,
    UPSCALE_SETTINGS,
)
from airflow_provider_runware.tasks.base import FileTaskArguments, image_tool_violations


def validate_upscale(task: Mapping[str, Any]) -> list[Violation]:
    """Every rule an ``upscale`` task (wire form) breaks; empty when it is acceptable."""
    violations = list(image_tool_violations(task, UPSCALE_MODELS))
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
class UpscaleArguments(FileTaskArguments):
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
