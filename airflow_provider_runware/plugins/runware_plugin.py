"""The AirflowPlugin the provider declares (provider info ``plugins`` and the ``airflow.plugins``
entry point).

Airflow's plugins manager imports it wherever plugins load (every task process does, for macros), so
importing it is cheap: the FastAPI app (``app.py``) is built when the api-server reads ``fastapi_apps``
to mount it at ``/runware``. From Airflow 3.1, which has plugin views, a **Gallery** tab is added to
the DAG run and task instance pages (``external_views``, shown in an iframe of the same origin; see
:data:`GALLERY_HREF` for why its href is relative).
Airflow 3.0 has no plugin views: there the gallery is the app's plain page, opened through the
operators' "Gallery" extra link, as it is on every line.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_runware.plugins.urls import URL_PREFIX, ui_relative

# Relative, without a leading slash: Airflow's UI (3.1 to 3.3) sets an external view's href, with its
# placeholders filled in, as the iframe's src as it is, and its page carries
# ``<base href="{{ backend_server_base_url }}">`` (the api-server's own path, from ``[api] base_url``).
# The browser resolves a relative src against that base, so the tab opens
# ``<base_url path>/runware/...`` wherever Airflow is served; "/runware/..." would leave the sub-path out.
GALLERY_HREF = ui_relative(URL_PREFIX + "/runs/{DAG_ID}/{RUN_ID}/gallery")
EXTERNAL_VIEWS: list[dict[str, Any]] = [
    {
        "name": "Gallery",
        "href": GALLERY_HREF,
        "destination": "dag_run",
        "url_route": "runware-gallery",
    },
    {
        "name": "Gallery",
        "href": GALLERY_HREF + "?task_id={TASK_ID}&map_index={MAP_INDEX}",
        "destination": "task_instance",
        "url_route": "runware-gallery-task",
    },
]


class _FastApiApps:
    """``fastapi_apps``, built when first read (the api-server mounting the app), on the class or an
    instance alike: every task process loads plugins for their macros, and must not pay for FastAPI."""

    def __get__(self, instance: object, owner: type | None = None) -> list[dict[str, Any]]:
        from airflow_provider_runware.plugins.app import app

        return [{"app": app, "url_prefix": URL_PREFIX, "name": "Runware gallery"}]


class RunwarePlugin(AirflowPlugin):
    """Runware gallery: images, thumbnails and results of every run, behind Airflow's own auth."""

    name = "runware"
    fastapi_apps = _FastApiApps()
    if hasattr(AirflowPlugin, "external_views"):  # Airflow 3.1+
        external_views = EXTERNAL_VIEWS
