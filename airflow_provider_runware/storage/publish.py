"""Publishing approved images: server-side copies inside one cloud, and a JSON manifest beside them.

The bytes never pass through the worker: S3 ``CopyObject`` through :class:`S3Hook`, a GCS rewrite
through the google provider's client, and Azure *Copy Blob* from a short-lived read-only SAS on the
source (the target's service fetches it) through :class:`WasbHook`'s client, waited on until done. The
same location classes and connection handling as the outputs are used. Errors name both URIs, never a
signature; they are :class:`RunwareUploadError` (fatal: storage problems do not fix themselves between
retries).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

from airflow_provider_runware.exceptions import RunwareUploadError, RunwareValidationError
from airflow_provider_runware.storage.azure import AzureBlobOutputLocation, _code
from airflow_provider_runware.storage.gcs import GcsOutputLocation
from airflow_provider_runware.storage.inputs import (
    BUCKET_KINDS,
    DEFAULT_CONN_IDS,
    ImageInput,
    location_for_object,
    object_ref,
    parse_image_input,
)
from airflow_provider_runware.storage.s3 import S3OutputLocation

log = logging.getLogger(__name__)

# The read SAS an Azure copy fetches its source with; the copy of an image takes seconds.
COPY_SOURCE_SAS_LIFETIME = timedelta(minutes=15)
COPY_TIMEOUT = timedelta(minutes=10)
COPY_POLL_SECONDS = (0.2, 0.5, 1.0, 2.0)


def copy_object(source_uri: str, target_uri: str, storage_conn_id: str | None) -> str:
    """Copy one object to another key of the same cloud, server-side; return ``target_uri``.

    Both are object URIs (``s3://bucket/key``, ``gs://bucket/key``,
    ``wasbs://container@account.blob.core.windows.net/blob``). ``storage_conn_id`` (else the cloud's
    default connection) must be allowed to read the source and write the target; on Azure both must
    be in the connection's storage account, which signs the source's read SAS. A missing source, a
    refused copy or a failed Azure copy raises :class:`RunwareUploadError` naming both URIs.
    """
    source = _object_input(source_uri, "source_uri")
    target = _object_input(target_uri, "target_uri")
    if source.kind != target.kind:
        raise RunwareValidationError(
            f"Cannot copy {source.display()} to {target.display()} server-side: they are in different "
            f"clouds ({source.kind} and {target.kind})",
            parameter="target_uri",
        )
    src, dst = object_ref(source), object_ref(target)
    conn_id = storage_conn_id or DEFAULT_CONN_IDS[target.kind]
    source_location = location_for_object(src, conn_id)
    target_location = location_for_object(dst, conn_id)
    what = f"{src.uri} to {dst.uri}"
    try:
        size = source_location.object_size(src.key, src.uri)
    except RunwareUploadError as err:
        raise RunwareUploadError(f"Could not copy {what}: {err.message.rpartition(': ')[2]}") from err
    if size is None:
        raise RunwareUploadError(f"Could not copy {what}: the source does not exist")
    if isinstance(target_location, S3OutputLocation):
        _copy_s3(target_location, src.store, src.key, dst.key, what)
    elif isinstance(target_location, GcsOutputLocation):
        _copy_gcs(target_location, src.store, src.key, dst.key, what)
    else:
        assert isinstance(source_location, AzureBlobOutputLocation)
        assert isinstance(target_location, AzureBlobOutputLocation)
        _copy_azure(source_location, target_location, src.key, dst.key, what)
    log.info("Copied %s", what)
    return dst.uri


def write_manifest(
    target_uri: str, records: list[dict[str, Any]], *, storage_conn_id: str | None = None
) -> str:
    """Write ``records`` as a JSON document to the object ``target_uri`` through the location's own
    :meth:`~airflow_provider_runware.storage.OutputLocation.write_object` (a presigned PUT, committed
    on Azure); return its uri. ``storage_conn_id`` defaults to the cloud's default connection."""
    from airflow_provider_runware.storage import parse_output_location

    target = _object_input(target_uri, "target_uri")
    try:
        data = json.dumps(records, indent=2, sort_keys=True, ensure_ascii=False).encode()
    except (TypeError, ValueError) as err:
        raise RunwareValidationError(
            f"The manifest for {target.display()} is not JSON-serialisable: {err}", parameter="records"
        ) from err
    folder, _, name = target.reference.rpartition("/")
    location = parse_output_location(f"{folder}/", storage_conn_id)
    uri = location.write_object(name, data)
    log.info("Wrote the manifest %s (%d records)", uri, len(records))
    return uri


def _object_input(uri: str, parameter: str) -> ImageInput:
    parsed = parse_image_input(uri, parameter)
    if parsed.kind not in BUCKET_KINDS:
        raise RunwareValidationError(
            f"{parameter} {parsed.display()!r} is not an object in S3, GCS or Azure Blob Storage",
            parameter=parameter,
        )
    return parsed


def _copy_s3(
    location: S3OutputLocation, source_bucket: str, source_key: str, target_key: str, what: str
) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        location.hook.copy_object(
            source_bucket_key=source_key,
            dest_bucket_key=target_key,
            source_bucket_name=source_bucket,
            dest_bucket_name=location.bucket,
        )
    except ClientError as err:
        error = err.response.get("Error", {})
        raise RunwareUploadError(f"Could not copy {what}: {error.get('Code', 'error')}") from err
    except BotoCoreError as err:
        raise RunwareUploadError(f"Could not copy {what}: {type(err).__name__}") from err


def _copy_gcs(
    location: GcsOutputLocation, source_bucket: str, source_key: str, target_key: str, what: str
) -> None:
    """A rewrite (not copyTo): it works for any size and across locations and storage classes, in as
    many calls as the service asks for."""
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError
    from requests import RequestException

    client = location.client
    source = client.bucket(source_bucket).blob(source_key)
    target = client.bucket(location.bucket).blob(target_key)
    try:
        token, _, _ = target.rewrite(source, timeout=60)
        while token is not None:
            token, _, _ = target.rewrite(source, token=token, timeout=60)
    except (GoogleAPIError, GoogleAuthError, RequestException) as err:
        code = getattr(err, "code", None)
        raise RunwareUploadError(f"Could not copy {what}: {code or type(err).__name__}") from err


def _copy_azure(
    source: AzureBlobOutputLocation,
    target: AzureBlobOutputLocation,
    source_key: str,
    target_key: str,
    what: str,
) -> None:
    """Copy Blob from a short read SAS on the source, then wait until Azure reports the copy finished."""
    from azure.core.exceptions import AzureError

    source_url = source.presign_get(source_key, COPY_SOURCE_SAS_LIFETIME)
    client = target.blob_client(target_key)
    try:
        copy = client.start_copy_from_url(source_url)
        status = copy.get("copy_status")
        deadline = time.monotonic() + COPY_TIMEOUT.total_seconds()
        polls = 0
        while status == "pending":
            if time.monotonic() > deadline:
                client.abort_copy(str(copy["copy_id"]))
                raise RunwareUploadError(f"Could not copy {what}: not finished after {COPY_TIMEOUT}")
            time.sleep(COPY_POLL_SECONDS[min(polls, len(COPY_POLL_SECONDS) - 1)])
            polls += 1
            status = client.get_blob_properties().copy.status
    except AzureError as err:
        raise RunwareUploadError(f"Could not copy {what}: {_code(err)}") from err
    if status != "success":
        raise RunwareUploadError(f"Could not copy {what}: Azure reports the copy {status}")
