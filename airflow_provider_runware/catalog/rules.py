"""The building blocks of every task type's rules: one broken rule (:class:`Violation`) and checks of
wire values (integers in range, choices, booleans, URLs) that name parameter, value and rule.

Rules judge the *wire* form of a task (Runware's camelCase names, JSON types): that is what the
emulator receives and what the client finally sends, so both sides validate through the same functions
and cannot drift apart. Imported at DAG-parse time: pure Python, no pydantic, HTTP or image libraries.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_runware.catalog.modelspec import IntRange

AIR_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*:[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$")
# A UUID in its canonical 8-4-4-4-12 form, any letter case (Runware does not ask for lowercase).
UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
OUTPUT_TYPES = ("URL", "base64Data", "dataURI")
DELIVERY_METHODS = ("sync", "async")
# Enums Runware matches without regard to case: its own examples send outputFormat "jpg".
CASE_INSENSITIVE_PARAMETERS = frozenset({"outputFormat"})


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


def check_task_uuid(task: Mapping[str, Any]) -> Iterable[Violation]:
    """Every task type's ``taskUUID`` is a UUID v4: Runware refuses anything else."""
    if not is_uuid_v4(task.get("taskUUID")):
        yield Violation(
            "taskUUID", task.get("taskUUID"), "a UUID v4 (8-4-4-4-12 hex digits)", "invalidTaskUUID"
        )


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
