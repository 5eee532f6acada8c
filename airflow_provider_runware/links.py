"""The extra links: "Stored images" (the cloud console's folder) and "Gallery" (the plugin's page).

"Gallery" points at the provider's own gallery of the task instance's results
(:class:`RunwareGalleryLink`, pure URL building: ``plugins/urls.py``). The rest of this docstring is
about "Stored images".

As first-party providers do for their jobs (the amazon provider's ``BaseAwsLink``, google's
``StorageLink``), the operator calls :meth:`RunwareStoredImagesLink.persist` in ``execute``: it pushes a
small dict (cloud, bucket or container, folder, region or project, and a local endpoint if any) to XCom
under :data:`STORED_IMAGES_XCOM_KEY`. At the end of the task Airflow's task runner calls
:meth:`RunwareStoredImagesLink.get_link`, which reads that dict back and formats the URL; Airflow stores
the URL under the link's own ``xcom_key``, where the UI finds it. Nothing signed ever goes into either:
the link names a folder, and the console asks the user to sign in.

Where the link points:

* S3: ``https://s3.console.aws.amazon.com/s3/buckets/<bucket>?region=<region>&prefix=<folder>``;
* GCS: ``https://console.cloud.google.com/storage/browser/<bucket>/<folder>`` (``?project=`` when known);
* Azure: the storage account's Containers blade in the portal when the wasb connection's extras name
  ``subscription_id`` and ``resource_group_name`` (the portal addresses accounts by ARM resource id);
  otherwise the container's listing URL on the account's blob endpoint;
* a connection on a loopback endpoint (moto, a GCS emulator, Azurite: tests and the demo) or on another
  S3-compatible endpoint: that endpoint's own listing URL for the folder.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlencode, urlsplit

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

log = logging.getLogger(__name__)

STORED_IMAGES_XCOM_KEY = "runware_stored_images"
AWS_CONSOLE = "https://s3.console.aws.amazon.com/s3/buckets/{bucket}?{query}"
GCS_CONSOLE = "https://console.cloud.google.com/storage/browser/{bucket}/{prefix}"
AZURE_PORTAL = (
    "https://portal.azure.com/#@/resource/subscriptions/{subscription}/resourceGroups/{group}"
    "/providers/Microsoft.Storage/storageAccounts/{account}/containersList"
)


class RunwareStoredImagesLink(BaseOperatorLink):
    """Extra link "Stored images": the cloud-console folder that holds the task's output images."""

    name = "Stored images"
    key: ClassVar[str] = STORED_IMAGES_XCOM_KEY

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        data = XCom.get_value(key=self.key, ti_key=ti_key)
        return stored_images_url(data) if isinstance(data, dict) else ""

    @classmethod
    def persist(
        cls, context: Context, output_location: str, storage_conn_id: str | None, object_prefix: str
    ) -> None:
        """Push what the link needs for the images under ``output_location`` + ``object_prefix``.

        Best effort, like the first-party links: a link is never worth failing a paid-for task, so a
        problem is logged and the link stays empty. ``https://`` output locations have no console.
        """
        try:
            data = link_data(output_location, storage_conn_id, object_prefix)
        except Exception as err:
            log.warning("No 'Stored images' link for %s: %s", _safe(output_location), type(err).__name__)
            return
        if data is not None:
            context["ti"].xcom_push(key=cls.key, value=data)


class RunwareGalleryLink(BaseOperatorLink):
    """Extra link "Gallery": the task instance's results in the provider's gallery page (thumbnails,
    prompts, costs, states), served by the plugin in the api-server. Empty until the task pushed its
    gallery record (``run/gallery.py``), so it appears exactly when there is something to show."""

    name = "Gallery"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        from airflow_provider_runware.plugins.urls import gallery_path
        from airflow_provider_runware.run.gallery import GALLERY_XCOM_KEY

        if XCom.get_value(key=GALLERY_XCOM_KEY, ti_key=ti_key) is None:
            return ""
        return gallery_path(ti_key.dag_id, ti_key.run_id, ti_key.task_id, ti_key.map_index)


def link_data(output_location: str, storage_conn_id: str | None, object_prefix: str) -> dict[str, Any] | None:
    """The JSON dict :func:`stored_images_url` formats, from the location and its connection; ``None``
    for locations without a console (``https://``). Reads the connection, never signs anything."""
    from airflow_provider_runware.storage import (
        AzureBlobOutputLocation,
        GcsOutputLocation,
        S3OutputLocation,
        parse_output_location,
    )
    from airflow_provider_runware.storage.base import is_loopback_host, normalize_prefix

    location = parse_output_location(output_location, storage_conn_id)
    if isinstance(location, S3OutputLocation):
        prefix = normalize_prefix(f"{location.prefix}{object_prefix}")
        endpoint = location.hook.conn_config.get_service_endpoint_url(service_name="s3")
        region = location.hook.region_name if endpoint else location._signing_region()
        return {
            "cloud": "s3",
            "bucket": location.bucket,
            "prefix": prefix,
            "region": region or "us-east-1",
            "endpoint": _safe(endpoint) if endpoint else None,
        }
    if isinstance(location, GcsOutputLocation):
        prefix = normalize_prefix(f"{location.prefix}{object_prefix}")
        return {
            "cloud": "gs",
            "bucket": location.bucket,
            "prefix": prefix,
            "project": location.hook.project_id,
            "endpoint": _safe(location.emulator_host) if location.emulator_host else None,
        }
    if isinstance(location, AzureBlobOutputLocation):
        prefix = normalize_prefix(f"{location.prefix}{object_prefix}")
        endpoint = _safe(str(location.hook.get_conn().url)).rstrip("/")  # the connection's endpoint
        extras = location.hook.get_connection(location.wasb_conn_id).extra_dejson
        parts = urlsplit(endpoint)
        local = is_loopback_host(parts.hostname or "")
        return {
            "cloud": "azure",
            "account": location.account,
            "container": location.container,
            "prefix": prefix,
            "endpoint": endpoint,
            "local": local,
            "subscription_id": None if local else extras.get("subscription_id"),
            "resource_group": None if local else extras.get("resource_group_name"),
        }
    return None


def stored_images_url(data: dict[str, Any]) -> str:
    """Format the link from :func:`link_data`'s dict (pure: the task runner and tests call it)."""
    cloud = data.get("cloud")
    prefix = str(data.get("prefix") or "")
    if cloud == "s3":
        bucket = str(data["bucket"])
        if data.get("endpoint"):
            query = urlencode({"list-type": "2", "prefix": prefix})
            return f"{str(data['endpoint']).rstrip('/')}/{quote(bucket)}?{query}"
        region = str(data.get("region") or "us-east-1")
        query = urlencode({"region": region, "prefix": prefix, "showversions": "false"})
        return AWS_CONSOLE.format(bucket=quote(bucket), query=query)
    if cloud == "gs":
        bucket = str(data["bucket"])
        if data.get("endpoint"):
            query = urlencode({"prefix": prefix})
            return f"{str(data['endpoint']).rstrip('/')}/storage/v1/b/{quote(bucket)}/o?{query}"
        url = GCS_CONSOLE.format(bucket=quote(bucket), prefix=quote(prefix))
        return f"{url}?{urlencode({'project': data['project']})}" if data.get("project") else url
    if cloud == "azure":
        container = str(data["container"])
        if not data.get("local") and data.get("subscription_id") and data.get("resource_group"):
            return AZURE_PORTAL.format(
                subscription=quote(str(data["subscription_id"])),
                group=quote(str(data["resource_group"])),
                account=quote(str(data["account"])),
            )
        query = urlencode({"restype": "container", "comp": "list", "prefix": prefix})
        return f"{str(data['endpoint']).rstrip('/')}/{quote(container)}?{query}"
    return ""


def _safe(url: str) -> str:
    from airflow_provider_runware.storage.base import strip_secrets

    return strip_secrets(url)
