"""Output locations: where Runware PUTs finished images, and how we check that they arrived.

Runware's ``uploadEndpoint`` is a URL to which it sends one plain ``PUT`` of the image's raw bytes, with
no headers we control. So each image gets its own presigned PUT URL in the user's storage, and after the
result arrives we ask the storage (through the official Airflow provider hook) whether the object is
really there: a missing or empty object is an error, not a success.

One :class:`OutputLocation` subclass per URI scheme. :func:`parse_output_location` picks it from the
``output_location`` string; adding a store (``gs://``, ``wasbs://``) means one new subclass plus one line in
``_LOCATION_TYPES``. Cloud SDKs are imported inside methods only: this module is imported by the operator,
and DAG parsing must not pay for boto3.

Presigned URLs are bearer secrets. They live only in :attr:`UploadTarget.upload_url` (hidden from
``repr``), are registered with Airflow's secrets masker as soon as they exist, and never appear in log
lines, exception text or anything meant for XCom; those use :attr:`UploadTarget.uri` instead.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from airflow_provider_runware.exceptions import RunwareValidationError
from airflow_provider_runware.storage.azure import AzureBlobOutputLocation
from airflow_provider_runware.storage.base import (
    OBJECT_NAME_PLACEHOLDER,
    PLANNED_SCHEMES,
    SUPPORTED_FORMS,
    OutputLocation,
    UploadTarget,
    register_secret_url,
    strip_secrets,
)
from airflow_provider_runware.storage.gcs import GcsOutputLocation
from airflow_provider_runware.storage.http import HttpOutputLocation
from airflow_provider_runware.storage.s3 import S3OutputLocation

_LOCATION_TYPES: dict[str, type[OutputLocation]] = {
    "s3": S3OutputLocation,
    "gs": GcsOutputLocation,
    "gcs": GcsOutputLocation,
    "wasbs": AzureBlobOutputLocation,
    "wasb": AzureBlobOutputLocation,
    "abfss": AzureBlobOutputLocation,
    "abfs": AzureBlobOutputLocation,
    "https": HttpOutputLocation,
    "http": HttpOutputLocation,
}


def parse_output_location(output_location: str, storage_conn_id: str | None) -> OutputLocation:
    """Pick the :class:`OutputLocation` for ``output_location`` by its scheme; no I/O.

    Surrounding whitespace (a common template artefact) is ignored. Call ``validate()`` on the result
    before submitting anything to Runware.
    """
    value = (output_location or "").strip()
    scheme = urlsplit(value).scheme.lower() if "://" in value else ""
    location_type = _LOCATION_TYPES.get(scheme)
    if location_type is None:
        raise RunwareValidationError(_unsupported_message(value, scheme), parameter="output_location")
    return location_type.from_uri(value, storage_conn_id)


def _unsupported_message(value: str, scheme: str) -> str:
    shown = strip_secrets(value)
    if not scheme:
        return f"output_location {shown!r} has no URI scheme; supported: {SUPPORTED_FORMS}"
    if scheme in PLANNED_SCHEMES:
        return f"output_location {shown!r}: {scheme}:// is not supported yet; supported: {SUPPORTED_FORMS}"
    return f"output_location {shown!r}: scheme {scheme!r} is not supported; supported: {SUPPORTED_FORMS}"


__all__ = [
    "OBJECT_NAME_PLACEHOLDER",
    "AzureBlobOutputLocation",
    "GcsOutputLocation",
    "HttpOutputLocation",
    "OutputLocation",
    "S3OutputLocation",
    "UploadTarget",
    "parse_output_location",
    "register_secret_url",
    "strip_secrets",
]
