"""The gallery plugin's URLs, for the extra link, the review form and the pages themselves.

Pure string work (plus one config read): importable from a worker or a DAG file without FastAPI. The
plugin's app is mounted at :data:`URL_PREFIX` under Airflow's ``[api] base_url`` path, so links are
host-relative paths that work wherever the Airflow UI is served.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

URL_PREFIX = "/runware"


def base_path() -> str:
    """The path part of ``[api] base_url`` (``""`` when Airflow is served at the host's root)."""
    from airflow_provider_runware.compat import conf

    base_url = conf.get("api", "base_url", fallback="") or ""
    return urlsplit(base_url).path.rstrip("/")


def ui_relative(path: str) -> str:
    """A path under the plugin's prefix as a URL relative to the Airflow UI's base (no leading slash),
    for the plugin's tabs: the UI page's ``<base href>`` is the ``[api] base_url`` path."""
    return path.lstrip("/")


def _part(value: str) -> str:
    return quote(value, safe="")


def run_path(dag_id: str, run_id: str) -> str:
    """``<base>/runware/runs/<dag_id>/<run_id>``: what every other URL hangs under."""
    return f"{base_path()}{URL_PREFIX}/runs/{_part(dag_id)}/{_part(run_id)}"


def gallery_path(dag_id: str, run_id: str, task_id: str | None = None, map_index: int | None = None) -> str:
    """The gallery of a run, or of one task (instance) of it."""
    query = {"task_id": task_id} if task_id else {}
    if task_id and map_index is not None:
        query["map_index"] = str(map_index)
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{run_path(dag_id, run_id)}/gallery{suffix}"


def image_relpath(task_id: str, map_index: int, image_index: int) -> str:
    """An image's path relative to the run's URLs (``tasks/<task>/<map_index>/images/<n>``)."""
    return f"tasks/{_part(task_id)}/{map_index}/images/{image_index}"


def image_path(dag_id: str, run_id: str, task_id: str, map_index: int, image_index: int) -> str:
    return f"{run_path(dag_id, run_id)}/{image_relpath(task_id, map_index, image_index)}"


def thumbnail_path(dag_id: str, run_id: str, task_id: str, map_index: int, image_index: int) -> str:
    """The 256 px thumbnail of an image, e.g. for a markdown ``![...](...)`` in a review form."""
    return f"{image_path(dag_id, run_id, task_id, map_index, image_index)}/thumbnail"
