"""Image inputs (seed, mask, reference images) given as a bucket URI, a URL or an earlier imageUUID.

Runware fetches an input image itself, from a URL in the task (or reuses an ``imageUUID`` it produced
earlier). So an input in the user's bucket is turned into a short-lived presigned GET URL, minted through
the same location classes, Airflow hooks and signing rules as the upload URLs (S3 SigV4 ``get_object``,
GCS V4 signed ``GET``, Azure read-only SAS), and registered with Airflow's secrets masker. Only
:meth:`ImageInput.display` (the URI, the URL without its query, or the UUID) may reach logs, XCom,
rendered fields or exception text.

Two steps, so that nothing is paid for when an input is missing:

* :func:`parse_image_input` is pure (no I/O, no SDK import) and runs at DAG-parse time too;
* :class:`InputResolver` checks bucket inputs exist and are non-empty (:meth:`InputResolver.check`,
  before anything is submitted), then gives the value that goes into the Runware task
  (:meth:`InputResolver.wire_value`). Both are cached, so an input shared by many rows is checked
  and signed once.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeAlias
from urllib.parse import urlsplit

from airflow_provider_runware.exceptions import (
    RunwareInputNotFoundError,
    RunwareUploadError,
    RunwareValidationError,
)
from airflow_provider_runware.storage.azure import (
    DEFAULT_WASB_CONN_ID,
    AzureBlobOutputLocation,
    split_azure_uri,
)
from airflow_provider_runware.storage.base import (
    MAX_OBJECT_KEY_BYTES,
    BucketOutputLocation,
    is_loopback_host,
    register_user_url_secrets,
    strip_secrets,
)
from airflow_provider_runware.storage.gcs import DEFAULT_GCP_CONN_ID, GCS_BUCKET_PATTERN, GcsOutputLocation
from airflow_provider_runware.storage.s3 import DEFAULT_AWS_CONN_ID, S3_BUCKET_PATTERN, S3OutputLocation

ObjectLocation: TypeAlias = BucketOutputLocation | AzureBlobOutputLocation

log = logging.getLogger(__name__)

UUID_V4_PATTERN = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.IGNORECASE
)
AZURE_INPUT_FORM = "wasbs://container@account.blob.core.windows.net/path/to/image.png"
ACCEPTED_INPUT_FORMS = (
    "an imageUUID (UUID v4) from an earlier Runware result, https://host/path/image.png, "
    "s3://bucket/key, gs://bucket/key, "
    f"{AZURE_INPUT_FORM} (also wasb://, abfs[s]://container@account.dfs.core.windows.net/...)"
)
BUCKET_KINDS = frozenset({"s3", "gs", "azure"})
KIND_OF_SCHEME = {
    "s3": "s3",
    "gs": "gs",
    "gcs": "gs",
    "wasbs": "azure",
    "wasb": "azure",
    "abfss": "azure",
    "abfs": "azure",
    "https": "url",
    "http": "url",
}
DEFAULT_CONN_IDS = {"s3": DEFAULT_AWS_CONN_ID, "gs": DEFAULT_GCP_CONN_ID, "azure": DEFAULT_WASB_CONN_ID}
# Presigned GET lifetimes are raised to the end of a bucket of this many seconds, so inputs shared by
# many rows (and asked for with slightly different expiries) reuse one URL.
EXPIRY_BUCKET_SECONDS = 60
SHOWN_VALUE_CHARS = 120


@dataclass(frozen=True)
class ImageInput:
    """One image input as the user gave it, already checked for shape (see :func:`parse_image_input`).

    ``parameter`` names the operator argument it came from (``"seed_image"``, ``"reference_images[1]"``,
    ``"requests[3].input_image"``), ``reference`` is the value as written (stripped of surrounding
    whitespace) and ``kind`` one of ``"uuid"``, ``"url"``, ``"s3"``, ``"gs"``, ``"azure"``.
    """

    parameter: str
    reference: str
    kind: str

    def display(self) -> str:
        """Safe for logs, XCom and exception text: the URI, the URL without its query, or the UUID."""
        if self.kind == "url":
            return strip_secrets(self.reference)
        if self.kind == "uuid":
            return self.reference.lower()
        return self.reference

    def __str__(self) -> str:
        return self.display()


def parse_image_input(reference: object, parameter: str) -> ImageInput:
    """Classify an image input without any I/O; refuse what Runware could never use.

    Accepted: a UUID v4 (an ``imageUUID`` Runware produced earlier, any case), ``https://`` URLs
    (``http://`` only for loopback hosts), ``s3://bucket/key``, ``gs://bucket/key`` (also ``gcs://``)
    and ``wasbs://container@account.blob.core.windows.net/blob`` (also ``wasb://``, ``abfs[s]://``). A
    bucket URI must name an object, not a folder. Anything else raises :class:`RunwareValidationError`
    naming ``parameter``, the value (without secrets) and the accepted forms.
    """
    if not isinstance(reference, str):
        hint = (
            " (pass a URI or URL of the image, not its bytes)"
            if isinstance(reference, bytes | bytearray)
            else ""
        )
        raise RunwareValidationError(
            f"{parameter} must be a string, got {type(reference).__name__}{hint}; "
            f"accepted: {ACCEPTED_INPUT_FORMS}",
            parameter=parameter,
        )
    value = reference.strip()
    if UUID_V4_PATTERN.fullmatch(value):
        return ImageInput(parameter, value, "uuid")
    scheme = urlsplit(value).scheme.lower() if "://" in value else ""
    kind = KIND_OF_SCHEME.get(scheme)
    if kind == "url":
        _check_url(value, parameter)
    elif kind in ("s3", "gs"):
        _check_bucket_uri(value, kind, parameter)
    elif kind == "azure":
        _check_azure_uri(value, parameter)
    else:
        raise RunwareValidationError(_unsupported(value, parameter, scheme), parameter=parameter)
    return ImageInput(parameter, value, kind)


def _shown(value: str) -> str:
    shown = strip_secrets(value) if "://" in value else value
    return shown if len(shown) <= SHOWN_VALUE_CHARS else f"{shown[:SHOWN_VALUE_CHARS]}..."


def _unsupported(value: str, parameter: str, scheme: str) -> str:
    if not value:
        problem = "is empty"
    elif value.lower().startswith("data:") or (not scheme and len(value) > SHOWN_VALUE_CHARS):
        problem = "looks like inline image data; put the image in a bucket (or at a URL) and pass its URI"
    elif scheme:
        problem = f"has the unsupported scheme {scheme!r}"
    elif re.fullmatch(r"[0-9a-fA-F-]{36}", value):
        problem = "is a UUID but not a version-4 imageUUID as Runware returns them"
    else:
        problem = "is neither a URI nor an imageUUID"
    return f"{parameter} {_shown(value)!r} {problem}; accepted: {ACCEPTED_INPUT_FORMS}"


def _check_url(value: str, parameter: str) -> None:
    parts = urlsplit(value)
    host = parts.hostname or ""
    if not host:
        raise RunwareValidationError(
            f"{parameter} {_shown(value)!r} has no host; accepted: {ACCEPTED_INPUT_FORMS}",
            parameter=parameter,
        )
    if parts.scheme.lower() == "http" and not is_loopback_host(host):
        raise RunwareValidationError(
            f"{parameter} {_shown(value)!r} uses plain http: use https:// (http:// is accepted only for "
            "loopback hosts, for tests)",
            parameter=parameter,
        )


def _check_bucket_uri(value: str, kind: str, parameter: str) -> None:
    bucket, _, key = value.split("://", 1)[1].partition("/")
    pattern = S3_BUCKET_PATTERN if kind == "s3" else GCS_BUCKET_PATTERN
    form = f"{kind}://bucket/path/to/image.png"
    if not bucket or not pattern.fullmatch(bucket):
        raise RunwareValidationError(
            f"{parameter} {_shown(value)!r}: {bucket!r} is not a valid bucket name; expected {form}",
            parameter=parameter,
        )
    _check_key(value, key, parameter, form)


def _check_azure_uri(value: str, parameter: str) -> None:
    parts = split_azure_uri(value, parameter=parameter, form=AZURE_INPUT_FORM)
    _check_key(value, parts.path, parameter, AZURE_INPUT_FORM)


def _check_key(value: str, key: str, parameter: str, form: str) -> None:
    if not key or key.endswith("/"):
        raise RunwareValidationError(
            f"{parameter} {_shown(value)!r} names a folder, not an image: expected {form}",
            parameter=parameter,
        )
    if len(key.encode()) > MAX_OBJECT_KEY_BYTES:
        raise RunwareValidationError(
            f"{parameter} {_shown(value)!r}: the object key is longer than {MAX_OBJECT_KEY_BYTES} bytes; "
            f"expected {form}",
            parameter=parameter,
        )


@dataclass(frozen=True)
class ObjectRef:
    """Where a bucket input lives: ``store`` identifies the bucket (or container at an account)."""

    kind: str
    store: str
    key: str
    uri: str


def object_ref(image_input: ImageInput) -> ObjectRef:
    """Bucket and key of a bucket input (``kind`` s3, gs or azure); the uri in canonical form."""
    if image_input.kind == "azure":
        parts = split_azure_uri(image_input.reference, parameter=image_input.parameter, form=AZURE_INPUT_FORM)
        return ObjectRef("azure", parts.uri_base, parts.path, f"{parts.uri_base}{parts.path}")
    if image_input.kind in ("s3", "gs"):
        bucket, _, key = image_input.reference.split("://", 1)[1].partition("/")
        return ObjectRef(image_input.kind, bucket, key, f"{image_input.kind}://{bucket}/{key}")
    raise ValueError(f"{image_input.display()!r} is not a bucket input")


class InputResolver:
    """Checks image inputs before anything is paid for, and gives the values that go into Runware tasks.

    **Which connection reads a bucket input.** ``storage_conn_id`` belongs to the cloud of
    ``output_location``, since that is what it was given for. So a bucket input uses:

    * ``storage_conn_id`` when the input is in the same cloud as ``output_location`` (S3, GCS or Azure
      Blob), or when there is no bucket output location (none, or an ``https://`` one) to tie it to;
    * otherwise (or when ``storage_conn_id`` is not set) that cloud's default connection:
      ``aws_default``, ``google_cloud_default`` or ``wasb_default``.

    :meth:`conn_id_for` answers the question for one input. UUID and URL inputs use no connection.

    One resolver serves one task execution: checks and presigned URLs are cached per input (and per
    expiry bucket of :data:`EXPIRY_BUCKET_SECONDS`), so an input shared by a hundred rows is checked
    and signed once, and hooks and cloud clients are built once per bucket and connection.
    """

    def __init__(self, storage_conn_id: str | None, output_location: str | None) -> None:
        self.storage_conn_id = storage_conn_id or None
        self.output_cloud = _cloud_of(output_location)
        self._locations: dict[tuple[str, str, str], ObjectLocation] = {}
        self._checked: set[tuple[str, str]] = set()
        self._urls: dict[tuple[str, str, int], tuple[float, str]] = {}

    def conn_id_for(self, image_input: ImageInput) -> str | None:
        """The Airflow connection id that reads ``image_input``; ``None`` for UUID and URL inputs."""
        if image_input.kind not in BUCKET_KINDS:
            return None
        if self.storage_conn_id and self.output_cloud in (None, image_input.kind):
            return self.storage_conn_id
        return DEFAULT_CONN_IDS[image_input.kind]

    def check(self, image_input: ImageInput) -> None:
        """A bucket input exists and is non-empty, else :class:`RunwareInputNotFoundError` naming the
        parameter and the URI. UUID and URL inputs: nothing to check here (no I/O)."""
        if image_input.kind not in BUCKET_KINDS:
            return
        ref = object_ref(image_input)
        conn_id = self._conn_id(image_input)
        if (ref.uri, conn_id) in self._checked:
            return
        location = self._location(ref, conn_id)
        if isinstance(location, AzureBlobOutputLocation):
            location.check_account()  # else the blob would be looked up in the connection's account
        where = f"(read through connection {conn_id!r})"
        try:
            size = location.object_size(ref.key, ref.uri)
        except RunwareUploadError as err:
            detail = err.message.rpartition(": ")[2]
            raise RunwareInputNotFoundError(
                f"{image_input.parameter}: image input {ref.uri} could not be read {where}: {detail}",
                parameter=image_input.parameter,
            ) from err
        if size is None:
            raise RunwareInputNotFoundError(
                f"{image_input.parameter}: image input {ref.uri} does not exist {where}",
                parameter=image_input.parameter,
            )
        if size <= 0:
            raise RunwareInputNotFoundError(
                f"{image_input.parameter}: image input {ref.uri} is empty (0 bytes) {where}",
                parameter=image_input.parameter,
            )
        self._checked.add((ref.uri, conn_id))
        log.debug("Image input %s: %s, %d bytes", image_input.parameter, ref.uri, size)

    def wire_value(self, image_input: ImageInput, expires_in: timedelta) -> str:
        """What goes into the Runware task for ``image_input``.

        Bucket inputs: a presigned GET URL valid at least ``expires_in`` (checked first, see
        :meth:`check`), registered with the secrets masker. URL inputs: the URL itself, its query values
        registered with the masker (they may be tokens). UUID inputs: the UUID, lowercased.
        """
        if expires_in.total_seconds() < 1:
            raise RunwareValidationError(
                f"expires_in {expires_in} for {image_input.display()}: must be at least 1 second",
                parameter="expires_in",
            )
        if image_input.kind == "uuid":
            return image_input.reference.lower()
        if image_input.kind == "url":
            register_user_url_secrets(image_input.reference)
            return image_input.reference
        self.check(image_input)
        ref = object_ref(image_input)
        conn_id = self._conn_id(image_input)
        location = self._location(ref, conn_id)
        lifetime = _lifetime(expires_in, location.max_expiry)
        cache_key = (ref.uri, conn_id, int(lifetime.total_seconds()))
        now = time.monotonic()
        cached = self._urls.get(cache_key)
        if cached is not None and cached[0] + lifetime.total_seconds() - now >= expires_in.total_seconds():
            return cached[1]
        url = location.presign_get(ref.key, lifetime)
        self._urls[cache_key] = (now, url)
        return url

    def _conn_id(self, image_input: ImageInput) -> str:
        conn_id = self.conn_id_for(image_input)
        assert conn_id is not None  # bucket inputs only
        return conn_id

    def _location(self, ref: ObjectRef, conn_id: str) -> ObjectLocation:
        """The location object for the input's bucket (its hook and clients are reused across inputs)."""
        key = (ref.kind, ref.store, conn_id)
        location = self._locations.get(key)
        if location is None:
            location = location_for_object(ref, conn_id)
            self._locations[key] = location
        return location


def location_for_object(ref: ObjectRef, conn_id: str) -> ObjectLocation:
    """The location object (hook, clients, signing) for the bucket or container of ``ref``."""
    if ref.kind == "s3":
        return S3OutputLocation(ref.store, "", conn_id)
    if ref.kind == "gs":
        return GcsOutputLocation(ref.store, "", conn_id)
    parts = split_azure_uri(ref.uri, form=AZURE_INPUT_FORM)
    return AzureBlobOutputLocation(parts.container, parts.account, "", conn_id, uri_base=parts.uri_base)


def _cloud_of(output_location: str | None) -> str | None:
    """``"s3"``, ``"gs"`` or ``"azure"`` for a bucket output location; ``None`` for none or https."""
    value = (output_location or "").strip()
    if "://" not in value:
        return None
    kind = KIND_OF_SCHEME.get(value.split("://", 1)[0].lower())
    return kind if kind in BUCKET_KINDS else None


def _lifetime(expires_in: timedelta, max_expiry: timedelta | None) -> timedelta:
    """``expires_in`` rounded up to its expiry bucket, plus one bucket of slack (so a URL minted a
    moment ago still covers the same request), but never past the store's maximum when ``expires_in``
    itself is within it (an over-long request is left for the store to refuse)."""
    seconds = (math.ceil(expires_in.total_seconds() / EXPIRY_BUCKET_SECONDS) + 1) * EXPIRY_BUCKET_SECONDS
    lifetime = timedelta(seconds=seconds)
    if max_expiry is not None and expires_in <= max_expiry < lifetime:
        return max_expiry
    return lifetime
