"""Turning operator arguments into Runware ``imageInference`` tasks, and checking them early.

Kept apart from the operator so DAG-parse-time checks (literal arguments) and execute-time checks
(rendered templates) run the very same rules, and so the sensor and tests can build requests too.
Pure Python on purpose: it is imported when a DAG file is parsed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_provider_runware.catalog import Violation, get_model_spec, validate_image_inference

PLACEHOLDER_UUID = "00000000-0000-4000-8000-000000000000"
BULKY_OUTPUT_TYPES = ("base64Data", "dataURI")
# Operator argument -> wire parameter it sets; extra_params may not set these behind the operator's back.
CORE_PARAMETERS = {
    "positive_prompt": "positivePrompt",
    "model": "model",
    "width": "width",
    "height": "height",
    "number_results": "numberResults",
    "output_format": "outputFormat",
    "output_type": "outputType",
    "output_quality": "outputQuality",
    "include_cost": "includeCost",
    "safety": "safety",
    "ttl": "ttl",
}
# What one row of the operator's batch form (``requests=[...]``) may set.
ROW_FIELDS = frozenset({*CORE_PARAMETERS, "extra_params"})
MANAGED_PARAMETERS = ("taskType", "taskUUID", "deliveryMethod", "uploadEndpoint", "webhookURL")


@dataclass
class InferenceArguments:
    """The operator's request-shaping arguments, before or after template rendering."""

    positive_prompt: Any
    model: Any
    width: Any
    height: Any
    number_results: Any = 1
    output_format: Any = "JPG"
    output_type: Any = "URL"
    output_quality: Any = None
    include_cost: Any = True
    safety: Any = None
    ttl: Any = None
    extra_params: Mapping[str, Any] = field(default_factory=dict)

    def wire_task(self, task_uuid: str = PLACEHOLDER_UUID) -> dict[str, Any]:
        """The whole request as one wire task (numberResults as asked; the operator splits it later)."""
        task: dict[str, Any] = {"taskType": "imageInference", "taskUUID": task_uuid}
        for argument, parameter in CORE_PARAMETERS.items():
            value = getattr(self, argument)
            if value is not None:
                task[parameter] = _coerce_rendered(parameter, value)
        task.update(self.extra_params or {})
        return task

    def violations(self, skip_arguments: Iterable[str] = ()) -> list[Violation]:
        skipped = {CORE_PARAMETERS.get(name, name) for name in skip_arguments}
        found = [
            v for v in validate_image_inference(self.wire_task()) if v.parameter.split(".")[0] not in skipped
        ]
        found.extend(self._extra_params_violations())
        return found

    def _extra_params_violations(self) -> list[Violation]:
        extra = self.extra_params
        if extra is None:
            return []
        if not isinstance(extra, Mapping):
            return [
                Violation("extra_params", extra, "a dict of extra Runware parameters", "invalidExtraParams")
            ]
        clashes = sorted(set(extra) & (set(CORE_PARAMETERS.values()) | set(MANAGED_PARAMETERS)))
        return [
            Violation(
                f"extra_params.{name}",
                extra[name],
                "set through the operator's own argument (or managed by the provider), not extra_params",
                "invalidExtraParams",
            )
            for name in clashes
        ]

    @property
    def expected_images(self) -> int:
        value = _coerce_rendered("numberResults", self.number_results)
        return value if isinstance(value, int) else 1

    def with_row(self, row: Any, position: int) -> tuple[InferenceArguments | None, list[Violation]]:
        """This request with one row of the batch form applied: the row's values win, its
        ``extra_params`` are merged over the operator's. Returns the problems instead of raising, so
        every bad row of a batch is named at once."""
        where = f"requests[{position}]"
        if not isinstance(row, Mapping):
            rule = "a dict of operator arguments, e.g. {'positive_prompt': ..., 'width': ..., 'height': ...}"
            return None, [Violation(where, row, rule, "invalidRequests")]
        unknown = sorted(set(row) - ROW_FIELDS)
        if unknown:
            rule = f"one of {', '.join(sorted(ROW_FIELDS))}"
            return None, [
                Violation(f"{where}.{name}", row[name], rule, "invalidRequests") for name in unknown
            ]
        extra = {**(self.extra_params or {}), **(row.get("extra_params") or {})}
        return replace(self, **{**row, "extra_params": extra}), []

    def estimated_cost(self, images: int) -> float | None:
        """The catalog's price for this size (its dearest documented one when the size is unknown)."""
        width = _coerce_rendered("width", self.width)
        height = _coerce_rendered("height", self.height)
        return get_model_spec(str(self.model)).estimate_cost(
            images, width if isinstance(width, int) else None, height if isinstance(height, int) else None
        )


def requests_from(
    base: InferenceArguments, requests: Any, skip_arguments: Iterable[str] = ()
) -> tuple[list[InferenceArguments], list[Violation]]:
    """The requests of one task instance: ``base`` alone, or ``base`` with each row of the batch
    form (a list of dicts, or its JSON) applied; and every rule they break, named by row."""
    if requests is None:
        return [base], base.violations(skip_arguments=skip_arguments)
    rows = requests
    if isinstance(rows, str):
        try:
            rows = json.loads(rows)
        except ValueError:
            rows = None
    if not isinstance(rows, list) or not rows:
        return [], [
            Violation("requests", requests, "a non-empty list of dicts (or its JSON)", "invalidRequests")
        ]
    result, problems = [], []
    for position, row in enumerate(rows):
        arguments, violations = base.with_row(row, position)
        if arguments is not None:
            result.append(arguments)
            violations = [
                replace(v, parameter=f"requests[{position}].{v.parameter}")
                for v in arguments.violations(skip_arguments=skip_arguments)
            ]
        problems += violations
    return result, problems


def is_templated(value: Any) -> bool:
    """Values Airflow will render or resolve later cannot be judged when the DAG is parsed."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(is_templated(v) for v in value.values())
    return not isinstance(value, int | float | bool | type(None) | list | tuple)


def _coerce_rendered(parameter: str, value: Any) -> Any:
    """Templates render to strings; integer parameters written as ``"{{ params.width }}"`` mean ints.

    Only whole-number strings are converted, so ``"512.5"`` or ``"big"`` still reach validation and
    fail there with the value named.
    """
    integer_parameters = {"width", "height", "numberResults", "outputQuality", "ttl"}
    if parameter in integer_parameters and isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value
