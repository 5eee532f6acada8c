"""The AirflowPlugin the provider declares in its provider info (``plugins``).

Airflow's plugins manager imports it in the api-server: the FastAPI app (``app.py``) is mounted at
``/runware``. From Airflow 3.1, which has plugin views, a **Gallery** tab is added to the DAG run and
task instance pages (``external_views``, shown in an iframe of the same origin). Airflow 3.0 has no
plugin views: there the gallery is the app's plain page, opened through the operators' "Gallery"
extra link, as it is on every line.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_runware.plugins.app import app
from airflow_provider_runware.plugins.urls import URL_PREFIX

GALLERY_HREF = URL_PREFIX + "/runs/{DAG_ID}/{RUN_ID}/gallery"
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


class RunwarePlugin(AirflowPlugin):
    """Runware gallery: images, thumbnails and results of every run, behind Airflow's own auth."""

    name = "runware"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "Runware gallery"}]
    if hasattr(AirflowPlugin, "external_views"):  # Airflow 3.1+
        external_views = EXTERNAL_VIEWS
