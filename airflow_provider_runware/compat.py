"""Airflow names that moved between the Airflow 3 lines, imported from where each line keeps them.

The provider supports Airflow 3.0 to 3.3. The task SDK gained names line by line: ``airflow.sdk.BaseHook``
arrived in 3.1, the exception classes in ``airflow.sdk.exceptions`` in 3.1 (``AirflowException``) and
3.2 (the rest), ``airflow.sdk.conf`` in 3.2, ``airflow.sdk.log.mask_secret`` in 3.1, the metrics facade
``airflow.sdk.observability.stats`` in 3.2. Each name is taken from its newest home first, so a line
that has it never sees a deprecation warning, and from the older home otherwise. ``common.compat`` has
the same shims, but only in releases far newer than the ones the Airflow 3.0 and 3.1 constraint files
pin, so the provider carries these few lines itself.

The exception classes come from *one* module on every line: the task runner decides "fail without
retry" by ``isinstance`` against its own line's ``AirflowFailException``, and a class from the other
module would not match it on 3.0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import BaseHook, Connection, conf
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException
else:
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # Airflow 3.0
        from airflow.hooks.base import BaseHook

    try:
        from airflow.sdk.exceptions import (
            AirflowException,
            AirflowFailException,
            AirflowNotFoundException,
        )
    except ImportError:  # Airflow 3.0 and 3.1
        from airflow.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException

    try:
        from airflow.sdk import conf
    except ImportError:  # Airflow 3.0 and 3.1
        from airflow.configuration import conf

__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "BaseHook",
    "aget_connection",
    "conf",
    "mask_secret",
    "redact",
    "stats",
]


def mask_secret(secret: Any, name: str | None = None) -> None:
    """Register a value with the task's secrets masker (imported on first use: workers only)."""
    _masker("mask_secret")(secret, name)


def redact(value: Any, name: str | None = None) -> Any:
    """What the masker would print for ``value``."""
    return _masker("redact")(value, name)


def _masker(name: str) -> Callable[..., Any]:
    from airflow.sdk import log as sdk_log

    function: Callable[..., Any] | None = getattr(sdk_log, name, None)
    if function is None:  # Airflow 3.0
        from airflow.sdk.execution_time import secrets_masker

        function = getattr(secrets_masker, name)
    return function


def stats() -> Any:
    """Airflow's metrics facade, configured by the deployment (StatsD, Datadog, OpenTelemetry or none).

    ``airflow.sdk.observability.stats`` from 3.2 (3.3 deprecates ``airflow.stats``, which re-exports
    it); ``airflow.stats`` on 3.0 and 3.1. Imported on first use: only workers send metrics, and the
    task runner of every line configures this very object before a task starts.
    """
    try:
        from airflow.sdk.observability.stats import Stats
    except ImportError:  # Airflow 3.0 and 3.1
        from airflow.stats import Stats
    return Stats


async def aget_connection(conn_id: str, hook: BaseHook) -> tuple[Connection, dict[str, Any]]:
    """The connection and its extras, resolved without blocking the triggerer's event loop.

    From Airflow 3.3.2 both are asynchronous (``Connection.aextra_dejson`` came with asynchronous
    secret masking). Before that, the async lookup masks secrets with a synchronous call to the
    supervisor, which deadlocks when another trigger's call is in flight, so the sync lookup runs in a
    worker thread through ``sync_to_async``, as those lines' own providers do.
    """
    from airflow.sdk import Connection

    if hasattr(Connection, "aextra_dejson"):
        conn = await hook.aget_connection(conn_id)
        return conn, dict(await conn.aextra_dejson())
    from asgiref.sync import sync_to_async

    def lookup() -> tuple[Connection, dict[str, Any]]:
        conn = hook.get_connection(conn_id)
        return conn, dict(conn.extra_dejson)

    return await sync_to_async(lookup)()
