"""API-key checks: a Bearer header (what the official SDK sends) or a leading authentication task."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_runware.emulator.responses import AUTH_DOCS, ApiError, api_error
from airflow_provider_runware.emulator.state import Settings

AUTH_TASK = "authentication"


@dataclass(frozen=True)
class AuthResult:
    """The tasks left to run once authentication tasks are consumed, or the 401 that ends the request."""

    tasks: list[Any]
    error: ApiError | None = None
    used_task: bool = False


def _is_auth_task(task: Any) -> bool:
    return isinstance(task, Mapping) and task.get("taskType") == AUTH_TASK


def _header_key(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return authorization.strip()
    return token.strip()


def _unauthorized(code: str, message: str) -> ApiError:
    return api_error(401, code, message, parameter="apiKey", task_type=AUTH_TASK, documentation=AUTH_DOCS)


def authenticate(settings: Settings, authorization: str | None, tasks: list[Any]) -> AuthResult:
    """Find the key (authentication task first, else header) and check it against ``--api-key``.

    Without ``--api-key`` any non-empty key is accepted, so demos work with whatever key is at hand.
    """
    auth_tasks = [task for task in tasks if _is_auth_task(task)]
    remaining = [task for task in tasks if not _is_auth_task(task)]
    key = auth_tasks[0].get("apiKey") if auth_tasks else _header_key(authorization)
    if not isinstance(key, str) or not key:
        return AuthResult(
            remaining,
            _unauthorized(
                "missingApiKey",
                "No API key: send 'Authorization: Bearer <key>' or a first task "
                '{"taskType": "authentication", "apiKey": "<key>"}.',
            ),
        )
    if settings.api_key is not None and key != settings.api_key:
        return AuthResult(remaining, _unauthorized("invalidApiKey", "Invalid API key."))
    return AuthResult(remaining, used_task=bool(auth_tasks))
