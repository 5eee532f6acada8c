"""Per-model request rules, prices and lifecycles, kept as data.

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
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from airflow_provider_runware.exceptions import RunwareValidationError

AIR_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*:[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$")
OUTPUT_TYPES = ("URL", "base64Data", "dataURI")
DELIVERY_METHODS = ("sync", "async")
SAFETY_MODES = ("none", "fast")
DOCS_URL = "https://runware.ai/docs/en/image-inference/api-reference"


@dataclass(frozen=True)
class IntRange:
    """Inclusive integer bounds, optionally on a step grid anchored at ``minimum``."""

    minimum: int
    maximum: int | None = None
    step: int = 1

    def contains(self, value: int) -> bool:
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            return False
        return (value - self.minimum) % self.step == 0

    def describe(self) -> str:
        upper = f"..{self.maximum}" if self.maximum is not None else " or more"
        grid = f" in steps of {self.step}" if self.step > 1 else ""
        return f"an integer {self.minimum}{upper}{grid}"


@dataclass(frozen=True)
class Lifecycle:
    """Runware retires models; users must hear about it before a scheduled DAG starts failing."""

    deprecated: bool = False
    deactivation_date: date | None = None
    replacement: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """What one model accepts. ``allowed_sizes`` wins over ``dimension`` when set."""

    air_id: str
    name: str
    prompt_length: IntRange
    dimension: IntRange
    allowed_sizes: frozenset[tuple[int, int]] | None = None
    output_formats: tuple[str, ...] = ("JPG", "PNG", "WEBP")
    output_quality: IntRange = IntRange(20, 99)
    number_results: IntRange = IntRange(1, 20)
    ttl: IntRange = IntRange(60)
    price_per_image_usd: float | None = None
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    known: bool = True

    def size_rule(self) -> str:
        if self.allowed_sizes:
            sizes = ", ".join(f"{w}x{h}" for w, h in sorted(self.allowed_sizes))
            return f"one of {sizes}"
        return f"width and height each {self.dimension.describe()}"

    def size_allowed(self, width: int, height: int) -> bool:
        if self.allowed_sizes is not None:
            return (width, height) in self.allowed_sizes
        return self.dimension.contains(width) and self.dimension.contains(height)

    def lifecycle_warning(self) -> str | None:
        """A sentence for the task log when the model is on its way out, else ``None``."""
        if not self.lifecycle.deprecated:
            return None
        when = self.lifecycle.deactivation_date
        parts = [f"Model {self.air_id} ({self.name}) is deprecated by Runware"]
        if when:
            tense = "was" if when <= date.today() else "is"
            parts.append(f"; its deactivation {tense} announced for {when.isoformat()}")
        if self.lifecycle.replacement:
            parts.append(f"; migrate to {self.lifecycle.replacement}")
        return "".join(parts) + "."

    def estimate_cost(self, number_of_images: int) -> float | None:
        if self.price_per_image_usd is None:
            return None
        return round(self.price_per_image_usd * number_of_images, 6)


GENERIC_RULES = ModelSpec(
    air_id="*",
    name="generic image model",
    prompt_length=IntRange(2, 3000),
    dimension=IntRange(128, 2048, 64),
    known=False,
)

MODELS: dict[str, ModelSpec] = {
    spec.air_id: spec
    for spec in (
        ModelSpec(
            air_id="openai:2@2",
            name="DALL·E 2",
            prompt_length=IntRange(1, 1000),
            dimension=IntRange(256, 1024),
            allowed_sizes=frozenset({(256, 256), (512, 512), (1024, 1024)}),
            price_per_image_usd=0.016,
            lifecycle=Lifecycle(
                deprecated=True, deactivation_date=date(2026, 5, 12), replacement="openai:gpt-image@2"
            ),
        ),
        ModelSpec(
            air_id="openai:gpt-image@2",
            name="GPT Image 2",
            prompt_length=IntRange(2, 32000),
            dimension=IntRange(480, 3840, 16),
        ),
    )
}


def get_model_spec(air_id: str) -> ModelSpec:
    """Rules for ``air_id``; models the catalog does not know get the generic rules."""
    return MODELS.get(air_id, GENERIC_RULES)


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


def _code(kind: str, parameter: str) -> str:
    return f"{kind}{parameter[0].upper()}{parameter[1:]}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_uuid_v4(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == value


def _check_int(task: Mapping[str, Any], name: str, bounds: IntRange) -> Iterable[Violation]:
    if name not in task:
        return
    value = task[name]
    if not _is_int(value) or not bounds.contains(value):
        yield Violation(name, value, bounds.describe(), _code("invalid", name))


def _check_choice(task: Mapping[str, Any], name: str, choices: tuple[str, ...]) -> Iterable[Violation]:
    if name in task and task[name] not in choices:
        yield Violation(name, task[name], "one of " + ", ".join(choices), _code("invalid", name))


def _check_bool(task: Mapping[str, Any], name: str) -> Iterable[Violation]:
    if name in task and not isinstance(task[name], bool):
        yield Violation(name, task[name], "a boolean (true or false)", _code("invalid", name))


def _check_url(task: Mapping[str, Any], name: str) -> Iterable[Violation]:
    if name not in task:
        return
    value = task[name]
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/?#]+", value):
        yield Violation(name, _redact_url(value), "an http(s) URL", _code("invalid", name))


def _redact_url(value: Any) -> Any:
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
    rule = f"a string of {bounds.minimum}..{bounds.maximum} characters"
    if not isinstance(prompt, str) or not bounds.contains(len(prompt)):
        yield Violation("positivePrompt", prompt, rule, "invalidPositivePrompt")


def _check_size(task: Mapping[str, Any], spec: ModelSpec) -> Iterable[Violation]:
    has_width, has_height = "width" in task, "height" in task
    if not has_width or not has_height:
        missing = "height" if has_width else "width"
        yield Violation(
            missing, None, "present: width and height are required together", _code("missing", missing)
        )
        return
    width, height = task["width"], task["height"]
    for name, value in (("width", width), ("height", height)):
        if not _is_int(value):
            yield Violation(name, value, "an integer", _code("invalid", name))
    if _is_int(width) and _is_int(height) and not spec.size_allowed(width, height):
        yield Violation("width", f"{width}x{height}", f"{spec.size_rule()} for {spec.air_id}", "invalidWidth")


def _check_safety(task: Mapping[str, Any]) -> Iterable[Violation]:
    if "safety" not in task:
        return
    safety = task["safety"]
    if not isinstance(safety, Mapping):
        yield Violation("safety", safety, "an object {checkContent, mode}", "invalidSafety")
        return
    if "checkContent" in safety and not isinstance(safety["checkContent"], bool):
        yield Violation("safety.checkContent", safety["checkContent"], "a boolean", "invalidSafety")
    if "mode" in safety and safety["mode"] not in SAFETY_MODES:
        yield Violation("safety.mode", safety["mode"], "one of " + ", ".join(SAFETY_MODES), "invalidSafety")


def validate_image_inference(task: Mapping[str, Any]) -> list[Violation]:
    """Every rule ``task`` (wire form) breaks, in a stable order; empty when it is acceptable.

    Unknown extra parameters are not judged: new API features must not be blocked by an old catalog.
    """
    violations: list[Violation] = []
    if not _is_uuid_v4(task.get("taskUUID")):
        violations.append(
            Violation("taskUUID", task.get("taskUUID"), "a lowercase UUID v4", "invalidTaskUUID")
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
    violations.extend(_check_choice(task, "outputType", OUTPUT_TYPES))
    violations.extend(_check_choice(task, "outputFormat", spec.output_formats))
    violations.extend(_check_choice(task, "deliveryMethod", DELIVERY_METHODS))
    violations.extend(_check_int(task, "outputQuality", spec.output_quality))
    violations.extend(_check_int(task, "numberResults", spec.number_results))
    violations.extend(_check_int(task, "ttl", spec.ttl))
    violations.extend(_check_bool(task, "includeCost"))
    violations.extend(_check_url(task, "webhookURL"))
    violations.extend(_check_url(task, "uploadEndpoint"))
    violations.extend(_check_safety(task))
    return violations


def raise_for_violations(violations: Sequence[Violation], task_uuid: str | None = None) -> None:
    """Turn catalog violations into one error that lists them all (fixing one at a time is tedious)."""
    if not violations:
        return
    first = violations[0]
    message = "; ".join(v.message() for v in violations)
    raise RunwareValidationError(
        f"Invalid imageInference request: {message}",
        code=first.code,
        parameter=first.parameter if len(violations) == 1 else [v.parameter for v in violations],
        task_uuid=task_uuid,
    )
