"""Runware-shaped bodies: error items, the data/errors envelope and the HTTP status it maps to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse

from airflow_provider_runware.catalog.rules import Violation

DOCS_ROOT = "https://runware.ai/docs"
ERRORS_DOCS = f"{DOCS_ROOT}/platform/errors"
POLLING_DOCS = f"{DOCS_ROOT}/platform/task-polling"
AUTH_DOCS = f"{DOCS_ROOT}/platform/authentication"
ACCOUNT_DOCS = f"{DOCS_ROOT}/platform/account-management"


@dataclass
class ApiError:
    """One item of ``errors`` plus the HTTP status it would have on its own."""

    status: int
    body: dict[str, Any]


@dataclass
class Outcome:
    """What one task contributes to the response: result items and/or error items."""

    data: list[dict[str, Any]] = field(default_factory=list)
    errors: list[ApiError] = field(default_factory=list)

    def merge(self, other: Outcome) -> None:
        self.data.extend(other.data)
        self.errors.extend(other.errors)


def api_error(
    http_status: int,
    code: str,
    message: str,
    *,
    parameter: str | list[str] | None = None,
    task_type: str | None = None,
    task_uuid: Any = None,
    documentation: str = ERRORS_DOCS,
    **extra: Any,
) -> ApiError:
    """An error item with every field Runware documents (``parameter`` may be null)."""
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "parameter": parameter,
        "taskType": task_type,
        "taskUUID": task_uuid,
        "documentation": documentation,
        **extra,
    }
    return ApiError(http_status, body)


def violation_error(violation: Violation, *, task_type: str, task_uuid: Any, documentation: str) -> ApiError:
    """A 400 refusing one broken rule of the client's rule functions, as Runware words it."""
    return api_error(
        400,
        violation.code,
        violation.message(),
        parameter=violation.parameter,
        task_type=task_type,
        task_uuid=task_uuid,
        documentation=documentation,
    )


def failure(status: int, code: str, message: str, **fields: Any) -> Outcome:
    return Outcome(errors=[api_error(status, code, message, **fields)])


def http_status_of(outcome: Outcome) -> int:
    """200 when anything succeeded (a mixed batch too), else the status of the first error."""
    if outcome.data or not outcome.errors:
        return 200
    return outcome.errors[0].status


def envelope(outcome: Outcome) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if outcome.data or not outcome.errors:
        body["data"] = outcome.data
    if outcome.errors:
        body["errors"] = [error.body for error in outcome.errors]
    return body


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(payload, status_code=status, headers=headers)
