"""What every Runware task an operator submits has in common, before and after rendering.

One subclass per task type (one module each in this package) says which operator arguments map to
which wire parameters, which of them are image inputs, which rules apply and what its results are
(images, videos or texts); the batch form, templating, ``extra_params`` and the per-result ledger work
the same for all of them. Pure Python on purpose: the operators build these when a DAG file is parsed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any, ClassVar

from airflow_provider_runware.catalog.image_models import get_model_spec
from airflow_provider_runware.catalog.modelspec import IntRange
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
    redact_url,
)

PLACEHOLDER_UUID = "00000000-0000-4000-8000-000000000000"
BULKY_OUTPUT_TYPES = ("base64Data", "dataURI")
MANAGED_PARAMETERS = ("taskType", "taskUUID", "deliveryMethod", "uploadEndpoint", "webhookURL")
IMAGE_OUTPUT_FORMATS = ("JPG", "PNG", "WEBP")
INTEGER_PARAMETERS = frozenset(
    {"width", "height", "numberResults", "outputQuality", "ttl", "upscaleFactor", "duration", "fps"}
    | {"promptMaxLength", "promptVersions"}
)


class ResultKind(StrEnum):
    """What a task type's results are: files (images, videos) that can be stored at an output location,
    or a short text returned in XCom. The wire types (``api.schemas.TaskResult``) read the same kinds."""

    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"


@dataclass(kw_only=True)
class TaskArguments:
    """An operator's request-shaping arguments for one task type; values may still be templates."""

    TASK_TYPE: ClassVar[str]
    # Parameters every task of this family takes (operator argument -> wire parameter).
    COMMON_PARAMETERS: ClassVar[Mapping[str, str]] = {"model": "model", "include_cost": "includeCost"}
    # Operator argument -> wire parameter, besides COMMON_PARAMETERS; extra_params may not set these.
    PARAMETERS: ClassVar[Mapping[str, str]]
    # The arguments that are image inputs (a URI, URL or imageUUID each, or a list of them).
    IMAGE_INPUTS: ClassVar[tuple[str, ...]] = ()
    # What one result is; files (images, videos) can be stored at an output location, texts go to XCom.
    RESULT: ClassVar[ResultKind] = ResultKind.IMAGE
    # The wire parameter that asks one task for several results (``numberResults``): the run asks each
    # result as its own task (its own taskUUID, ledger entry and upload URL), so it sends 1.
    COUNT_PARAMETER: ClassVar[str | None] = None

    model: Any
    include_cost: Any = True
    extra_params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def wire_names(cls) -> dict[str, str]:
        return {**cls.COMMON_PARAMETERS, **cls.PARAMETERS}

    @classmethod
    def row_fields(cls) -> frozenset[str]:
        """What one row of the operator's batch form (``requests=[...]``) may set."""
        return frozenset({*cls.wire_names(), "extra_params"})

    def wire_task(self, task_uuid: str = PLACEHOLDER_UUID) -> dict[str, Any]:
        """The whole request as one wire task, image inputs as the user wrote them."""
        task: dict[str, Any] = {"taskType": self.TASK_TYPE, "taskUUID": task_uuid}
        for argument, parameter in self.wire_names().items():
            value = getattr(self, argument)
            if value is not None:
                task[parameter] = coerce_rendered(parameter, value)
        task.update(self.extra_params or {})
        return task

    def rule_violations(self, task: Mapping[str, Any]) -> list[Violation]:
        """The task type's own rules, judged on the wire form (shared with the emulator)."""
        raise NotImplementedError

    def checked_wire_task(self, task: dict[str, Any]) -> dict[str, Any]:
        """The final wire task (inputs resolved, upload URL set), judged once more just before the POST:
        what is sent must pass the rules, whatever rendering and resolution made of it."""
        from airflow_provider_runware.catalog.rules import raise_for_violations

        raise_for_violations(
            self.rule_violations(task), task_uuid=task.get("taskUUID"), task_type=self.TASK_TYPE
        )
        return task

    def violations(self, skip_arguments: Iterable[str] = ()) -> list[Violation]:
        names = self.wire_names()
        skipped = {names.get(name, name) for name in skip_arguments}
        found = [
            v for v in self.rule_violations(self.wire_task()) if v.parameter.split(".")[0] not in skipped
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
        clashes = sorted(set(extra) & (set(self.wire_names().values()) | set(MANAGED_PARAMETERS)))
        return [
            Violation(
                f"extra_params.{name}",
                extra[name],
                "set through the operator's own argument (or managed by the provider), not extra_params",
                "invalidExtraParams",
            )
            for name in clashes
        ]

    def image_input_references(self) -> list[tuple[str, Any]]:
        """Every image input as ``(argument[index], reference)``, in a stable order."""
        found: list[tuple[str, Any]] = []
        for argument in self.IMAGE_INPUTS:
            value = getattr(self, argument)
            if isinstance(value, list | tuple):
                found.extend((f"{argument}[{position}]", item) for position, item in enumerate(value))
            elif value is not None:
                found.append((argument, value))
        return found

    def input_displays(self) -> dict[str, Any]:
        """Each image input as the record shows it: a URI, a URL without its secrets, or a UUID."""
        from airflow_provider_runware.storage.base import strip_secrets

        shown: dict[str, Any] = {}
        for argument in self.IMAGE_INPUTS:
            value = getattr(self, argument)
            if isinstance(value, list):
                shown[argument] = [strip_secrets(str(item)) for item in value]
            elif value is not None:
                shown[argument] = strip_secrets(str(value))
        return shown

    @property
    def expected_results(self) -> int:
        """How many results the request asks for: the (rendered) argument behind ``COUNT_PARAMETER``,
        else 1."""
        if self.COUNT_PARAMETER is None:
            return 1
        argument = next(name for name, wire in self.PARAMETERS.items() if wire == self.COUNT_PARAMETER)
        value = coerce_rendered(self.COUNT_PARAMETER, getattr(self, argument))
        return value if isinstance(value, int) else 1

    def estimated_cost(self, images: int) -> float | None:
        """What ``images`` results cost at most; ``None`` when no documented price covers them."""
        return get_model_spec(str(self.model)).estimate_cost(images)

    def record_fields(self) -> dict[str, Any]:
        """What the per-result XCom record says about the request (small, no secrets)."""
        return {"model": self.model}

    def file_format(self) -> str | None:
        """The format of each result file (``JPG``, ``MP4``); ``None`` when results are not files."""
        return None

    def place_inputs(self, task: dict[str, Any], resolved: Iterator[str]) -> None:
        """Swap each image input of the wire ``task`` for what Runware can fetch (a presigned GET, a URL
        or a UUID), taken from ``resolved`` in the order of :meth:`image_input_references`."""
        for argument in self.IMAGE_INPUTS:
            parameter = self.wire_names()[argument]
            if parameter not in task:
                continue
            if isinstance(task[parameter], list):
                task[parameter] = [next(resolved) for _ in task[parameter]]
            else:
                task[parameter] = next(resolved)

    def with_row(self, row: Any, position: int) -> tuple[TaskArguments | None, list[Violation]]:
        """This request with one row of the batch form applied: the row's values win, its
        ``extra_params`` are merged over the operator's. Returns the problems instead of raising, so
        every bad row of a batch is named at once."""
        where = f"requests[{position}]"
        if not isinstance(row, Mapping):
            rule = "a dict of operator arguments, e.g. " + self.row_example()
            return None, [Violation(where, row, rule, "invalidRequests")]
        allowed = self.row_fields()
        unknown = sorted(set(row) - allowed)
        if unknown:
            rule = f"one of {', '.join(sorted(allowed))}"
            return None, [
                Violation(f"{where}.{name}", row[name], rule, "invalidRequests") for name in unknown
            ]
        extra = {**(self.extra_params or {}), **(row.get("extra_params") or {})}
        return replace(self, **{**row, "extra_params": extra}), []

    @classmethod
    def row_example(cls) -> str:
        names = [f.name for f in fields(cls) if f.name in cls.PARAMETERS][:3]
        return "{" + ", ".join(f"{name!r}: ..." for name in names) + "}"


@dataclass(kw_only=True)
class FileTaskArguments(TaskArguments):
    """Task types whose results are files (images, videos): Runware can PUT each one to an output
    location, and the request says the file's format, delivery type and quality."""

    COMMON_PARAMETERS: ClassVar[Mapping[str, str]] = {
        **TaskArguments.COMMON_PARAMETERS,
        "output_format": "outputFormat",
        "output_type": "outputType",
        "output_quality": "outputQuality",
        "ttl": "ttl",
    }

    output_format: Any = "JPG"
    output_type: Any = "URL"
    output_quality: Any = None
    ttl: Any = None

    def record_fields(self) -> dict[str, Any]:
        return {**super().record_fields(), "format": self.output_format}

    def file_format(self) -> str | None:
        return str(self.output_format)


def requests_from(
    base: TaskArguments, requests: Any, skip_arguments: Iterable[str] = ()
) -> tuple[list[TaskArguments], list[Violation]]:
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
    if isinstance(value, list | tuple):
        return any(is_templated(v) for v in value)
    return not isinstance(value, int | float | bool | type(None))


def coerce_rendered(parameter: str, value: Any) -> Any:
    """Templates render to strings; integer parameters written as ``"{{ params.width }}"`` mean ints.

    Only whole-number strings are converted, so ``"512.5"`` or ``"big"`` still reach validation and
    fail there with the value named.
    """
    if parameter in INTEGER_PARAMETERS and isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def as_reference_list(value: Any) -> Any:
    """A list-valued image input rendered from a template arrives as its JSON (or one reference)."""
    if not isinstance(value, str):
        return list(value) if isinstance(value, tuple) else value
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            return value
        return parsed
    return [text] if text else value


def image_tool_violations(task: Mapping[str, Any], models: Mapping[str, str]) -> Iterable[Violation]:
    """The rules every image tool (one ``inputImage`` in, one image out) shares; ``models`` are
    the page's list, named in the rule when the model id is malformed."""
    yield from check_task_uuid(task)
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
    yield from check_choice(task, "outputFormat", IMAGE_OUTPUT_FORMATS)
    yield from check_choice(task, "deliveryMethod", DELIVERY_METHODS)
    yield from check_int(task, "outputQuality", IntRange(20, 99))
    yield from check_int(task, "ttl", IntRange(60))
    yield from check_bool(task, "includeCost")
    yield from check_url(task, "webhookURL")
    yield from check_url(task, "uploadEndpoint")
