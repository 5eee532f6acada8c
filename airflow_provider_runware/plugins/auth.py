"""Who may see a run's images: exactly who may read that DAG's XComs through Airflow's REST API.

Every route of the plugin's app depends on :func:`authorized_dag_reader`, which runs before any
lookup (so a refusal says nothing about whether a run, task or image exists):

1. **Authenticated**: the caller's JWT, read by Airflow's own ``get_user`` dependency from 3.1 on (the
   ``Authorization: Bearer`` header, else the UI's ``_token`` cookie). Airflow 3.0's ``get_user`` reads
   only the header and its UI keeps the token in the browser's local storage, so on 3.0 the plugin also
   accepts the ``_token`` cookie scoped to the plugin's own path (which its login page sets from local
   storage) and resolves it with the same ``auth_manager.get_user_from_token``. No token: 401; an
   expired one: 401; an invalid one: 403, as Airflow answers.
2. **Authorised**: ``auth_manager.is_authorized_dag(method="GET", access_entity=DagAccessEntity.XCOM,
   details=DagDetails(id=dag_id[, team_name]))``: what ``GET /api/v2/dags/{dag_id}/dagRuns/{run_id}/
   taskInstances/{task_id}/xcomEntries`` requires, since the gallery shows the tasks' XCom records.
   Refused: 403 ``Forbidden``, the same body for every URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request, status

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser

COOKIE_NAME = "_token"
FORBIDDEN = "Forbidden"


def _auth_manager() -> Any:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


async def _user_from_header_or_cookie(request: Request) -> BaseUser:
    """Airflow 3.0: the bearer header, else the ``_token`` cookie; resolved as Airflow resolves it."""
    from jwt import ExpiredSignatureError, InvalidTokenError

    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else request.cookies.get(COOKIE_NAME)
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated")
    try:
        return await _auth_manager().get_user_from_token(token)
    except ExpiredSignatureError:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Token Expired") from None
    except InvalidTokenError:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Invalid JWT token") from None


async def current_user(request: Request) -> BaseUser:
    """The caller, resolved the way this Airflow line's REST API resolves it.

    Airflow 3.1+: its own ``get_user`` (header, else cookie, or the user a trusted middleware already
    built), called with the bearer credentials read from the header as its dependency would read them.
    Airflow 3.0: see :func:`_user_from_header_or_cookie`. Imported on the first request, not when the
    plugin is loaded: every task process loads plugins (for their macros), and Airflow's security module
    costs seconds to import.
    """
    from airflow.api_fastapi.core_api import security

    if not hasattr(security, "bearer_scheme"):  # Airflow 3.0
        return await _user_from_header_or_cookie(request)
    from fastapi.security import HTTPAuthorizationCredentials

    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    bearer = HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials.strip()) if scheme else None
    return await security.get_user(request, None, bearer)


def is_allowed(user: BaseUser, dag_id: str) -> bool:
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    details: Any = DagDetails(id=dag_id)
    if hasattr(details, "team_name"):  # multi-team deployments (Airflow 3.2+)
        from airflow.models.dag import DagModel

        get_team_name = getattr(DagModel, "get_team_name", None)
        details = DagDetails(id=dag_id, team_name=get_team_name(dag_id) if get_team_name else None)
    return bool(
        _auth_manager().is_authorized_dag(
            method="GET", access_entity=DagAccessEntity.XCOM, details=details, user=user
        )
    )


async def authorized_dag_reader(request: Request) -> Any:
    """The caller, once allowed to read the DAG in the path; else 401/403 (nothing looked up yet)."""
    from starlette.concurrency import run_in_threadpool

    user = await current_user(request)
    dag_id = request.path_params.get("dag_id", "")
    if not await run_in_threadpool(is_allowed, user, dag_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, FORBIDDEN)
    return user
