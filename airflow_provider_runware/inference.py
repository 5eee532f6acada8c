"""Turning operator arguments into Runware ``imageInference`` tasks, and checking them early.

Kept apart from the operator so DAG-parse-time checks (literal arguments) and execute-time checks
(rendered templates) run the very same rules, and so the sensor and tests can build requests too.
Pure Python on purpose: it is imported when a DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from airflow_provider_runware.arguments import ImageTaskArguments, as_reference_list, coerce_rendered
from airflow_provider_runware.catalog import (
    Violation,
    get_model_spec,
    validate_image_inference,
    validate_image_inputs,
)


@dataclass(kw_only=True)
class InferenceArguments(ImageTaskArguments):
    """``imageInference``: text-to-image, and image-to-image, inpainting or editing where the model
    takes image inputs (the catalog says which)."""

    TASK_TYPE: ClassVar[str] = "imageInference"
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

    @property
    def expected_images(self) -> int:
        value = coerce_rendered("numberResults", self.number_results)
        return value if isinstance(value, int) else 1

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
