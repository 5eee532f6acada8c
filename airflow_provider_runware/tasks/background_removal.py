"""Runware's ``removeBackground``: one cut-out per input image (PNG keeps the transparency).

Its models and settings table live in :mod:`airflow_provider_runware.catalog.background_removal_models`.
Pure Python: the operators build these when a DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from airflow_provider_runware.catalog.background_removal_models import (
    BACKGROUND_REMOVAL_MODELS,
    BACKGROUND_SETTINGS_BOUNDS,
    BACKGROUND_SETTINGS_FLAGS,
    BACKGROUND_SETTINGS_MODELS,
)
from airflow_provider_runware.catalog.rules import Violation, check_bool, check_int
from airflow_provider_runware.tasks.base import FileTaskArguments, image_tool_violations


def validate_background_removal(task: Mapping[str, Any]) -> list[Violation]:
    """Every rule a ``removeBackground`` task (wire form) breaks; empty when it is acceptable."""
    violations = list(image_tool_violations(task, BACKGROUND_REMOVAL_MODELS))
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


@dataclass(kw_only=True)
class BackgroundRemovalArguments(FileTaskArguments):
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
