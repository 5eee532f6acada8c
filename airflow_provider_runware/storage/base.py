"""What every output location shares: the upload target, the interface, and URL secret handling."""

from __future__ import annotations

import ipaddress
import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar, Literal, Protocol
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from airflow_provider_runware.exceptions import RunwareUploadError, RunwareValidationError

log = logging.getLogger(__name__)

OBJECT_NAME_PLACEHOLDER = "{object_name}"
# S3 keys, GCS object names and Azure blob names are all capped at 1024 bytes.
MAX_OBJECT_KEY_BYTES = 1024
"""Put this in an ``https://`` output_location to give every image its own URL."""

LOOPBACK_NAMES = frozenset({"localhost"})
# Query parameters of signed URLs whose values are credentials (compared case-insensitively).
SECRET_QUERY_PARAMS = frozenset(
    {
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
        "sig",
        "signature",
    }
)
SUPPORTED_FORMS = (
    "s3://bucket/prefix/, gs://bucket/prefix/, wasbs://container@account.blob.core.windows.net/prefix/ "
    "(also wasb://, abfs[s]://container@account.dfs.core.windows.net/prefix/), "
    "https://host/path (optionally containing {object_name})"
)
PLANNED_SCHEMES: frozenset[str] = frozenset()


@dataclass(frozen=True)
class UploadTarget:
    """One image's destination: a loggable ``uri`` plus the secret URL Runware PUTs to.

    ``upload_url`` is excluded from ``repr``/``str`` so that logging a target, or an exception that
    embeds one, cannot leak the signature. Only ``uri`` may go to logs or XCom.
    """

    uri: str
    upload_url: str = field(repr=False)

    def __str__(self) -> str:
        return self.uri


WRITE_URL_LIFETIME = timedelta(minutes=15)


class OutputLocation(ABC):
    """A place that can hand out presigned PUT targets and later confirm what landed there."""

    scheme: ClassVar[str]
    max_expiry: ClassVar[timedelta | None] = None
    """Longest presigned-URL lifetime the store accepts (``None``: not ours to choose)."""

    @classmethod
    @abstractmethod
    def from_uri(cls, output_location: str, storage_conn_id: str | None) -> OutputLocation:
        """Build from an ``output_location`` whose scheme already matched; no I/O."""

    @property
    @abstractmethod
    def display_uri(self) -> str:
        """The location without any secret part, for log lines and error messages."""

    @property
    def supports_many(self) -> bool:
        """Whether distinct object names get distinct URLs (so several images can share the location)."""
        return True

    @abstractmethod
    def validate(self) -> None:
        """Cheap checks before any Runware call, so a bad location fails before money is spent."""

    @abstractmethod
    def uri_for(self, object_name: str) -> str:
        """The loggable ``uri`` that :meth:`target_for` would give ``object_name``; no presigning, no I/O."""

    @abstractmethod
    def target_for(self, object_name: str, expires_in: timedelta) -> UploadTarget:
        """A PUT target for ``object_name`` (joined under the location's prefix), valid ``expires_in``."""

    def finalize(self, target: UploadTarget) -> None:
        """Complete an upload after Runware reports the image done (a no-op for most stores).

        Exists for stores where one plain PUT cannot create the object by itself (Azure Blob: the PUT
        stages a block, and the block list must then be committed). Called before :meth:`verify`.
        """
        return None

    @abstractmethod
    def verify(self, target: UploadTarget) -> int:
        """Size in bytes of the uploaded object; raise :class:`RunwareUploadError` if missing or empty.

        ``-1`` means the store offers no way to check. Only ``target.uri`` is read, so a resumed
        (deferred) task can rebuild the target as ``UploadTarget(uri, upload_url="")`` without ever
        storing the secret URL.
        """

    def write_object(self, object_name: str, data: bytes) -> str:
        """Store a small companion object (e.g. a manifest) beside the images, the way Runware does:
        one plain PUT of raw bytes to a presigned URL, then :meth:`finalize` (Azure commits the block).
        Returns the object's loggable uri."""
        import httpx

        target = self.target_for(object_name, WRITE_URL_LIFETIME)
        try:
            response = httpx.put(target.upload_url, content=data, timeout=60.0)
        except httpx.HTTPError as err:
            raise RunwareUploadError(f"Could not write {target.uri}: {type(err).__name__}") from err
        if not response.is_success:
            raise RunwareUploadError(f"Could not write {target.uri}: HTTP {response.status_code}")
        self.finalize(target)
        return target.uri

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.display_uri!r})"


class BucketOutputLocation(OutputLocation):
    """``scheme://bucket/prefix/`` stores (S3, GCS): one bucket, a key prefix, one Airflow connection.

    Subclasses say how to sign a PUT and how big an object is; parsing, naming, the checks every
    bucket store needs and the verification rule (present and non-empty) live here once.
    """

    default_conn_id: ClassVar[str]
    bucket_pattern: ClassVar[re.Pattern[str]]
    bucket_rule: ClassVar[str]
    connection_kind: ClassVar[str]

    def __init__(self, bucket: str, prefix: str, conn_id: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix)
        self.conn_id_given = conn_id is not None
        self.conn_id = conn_id or self.default_conn_id

    @classmethod
    def from_uri(cls, output_location: str, storage_conn_id: str | None) -> BucketOutputLocation:
        # Split by hand: urlsplit would treat "?" and "#" (legal in object keys) as URL syntax.
        bucket, _, prefix = output_location.split("://", 1)[1].partition("/")
        return cls(bucket, prefix, storage_conn_id)

    @property
    def display_uri(self) -> str:
        return f"{self.scheme}://{self.bucket}/{self.prefix}"

    def uri_for(self, object_name: str) -> str:
        return f"{self.scheme}://{self.bucket}/{join_key(self.prefix, object_name)}"

    def object_key(self, target: UploadTarget) -> str:
        """The key of ``target`` inside this bucket (refuses a uri of another location)."""
        head = f"{self.scheme}://"
        bucket, _, key = target.uri.removeprefix(head).partition("/")
        if not target.uri.startswith(head) or bucket != self.bucket or not key:
            raise ValueError(f"{target.uri!r} is not an object of {self.display_uri!r}")
        return key

    def verify(self, target: UploadTarget) -> int:
        return uploaded_size(self.object_size(self.object_key(target), target.uri), target.uri)

    @abstractmethod
    def object_size(self, key: str, uri: str) -> int | None:
        """Size of the stored object, ``None`` when absent; a failed check raises RunwareUploadError."""

    def target_for(self, object_name: str, expires_in: timedelta) -> UploadTarget:
        key = join_key(self.prefix, object_name)
        seconds = expiry_seconds(expires_in, self.max_expiry, self.display_uri)
        uri = f"{self.scheme}://{self.bucket}/{key}"
        return UploadTarget(uri=uri, upload_url=self._signed("PUT", key, seconds, uri))

    def presign_get(self, key: str, expires_in: timedelta) -> str:
        """A presigned GET URL for the object ``key`` (a full key, not joined under the prefix), valid
        ``expires_in``, already registered with the secrets masker. Used for image inputs."""
        uri = f"{self.scheme}://{self.bucket}/{key}"
        seconds = expiry_seconds(expires_in, self.max_expiry, uri)
        return self._signed("GET", key, seconds, uri)

    def _signed(self, method: Literal["PUT", "GET"], key: str, seconds: int, uri: str) -> str:
        url = self.sign_url(method, key, seconds, uri)
        register_secret_url(url)
        log.debug("Signed a %s for %s valid %d s", method, uri, seconds)
        return url

    @abstractmethod
    def sign_url(self, method: Literal["PUT", "GET"], key: str, seconds: int, uri: str) -> str:
        """A URL that lets its holder ``method`` the object ``key`` for ``seconds``, signed with the
        connection's credentials (``uri`` names the object in errors); the caller registers it with the
        secrets masker."""

    def check_bucket_name(self) -> None:
        if not self.bucket:
            raise RunwareValidationError(
                f"output_location {self.display_uri!r} has no bucket name: expected "
                f"{self.scheme}://bucket/prefix/ (the bucket goes right after {self.scheme}://)",
                parameter="output_location",
            )
        if not self.bucket_pattern.fullmatch(self.bucket):
            raise RunwareValidationError(
                f"output_location {self.display_uri!r}: {self.bucket!r} is not a valid bucket name "
                f"({self.bucket_rule})",
                parameter="output_location",
            )

    def check_connection_exists(self) -> None:
        from airflow_provider_runware.compat import AirflowNotFoundException, BaseHook

        try:
            BaseHook.get_connection(self.conn_id)
        except AirflowNotFoundException as err:
            raise RunwareValidationError(
                f"storage_conn_id {self.conn_id!r} does not exist: create a {self.connection_kind} "
                f"connection with that id (needed to sign uploads to {self.display_uri})",
                parameter="storage_conn_id",
            ) from err


class ObjectStoreLocation(Protocol):
    """What image inputs and publishing need from a bucket-like location (S3, GCS, Azure Blob)."""

    def object_size(self, key: str, uri: str) -> int | None: ...

    def presign_get(self, key: str, expires_in: timedelta) -> str: ...

    def write_object(self, object_name: str, data: bytes) -> str: ...


# -- helpers shared by the location types --------------------------------------------------------


def uploaded_size(size: int | None, uri: str) -> int:
    """The rule of :meth:`OutputLocation.verify` for a store that can check: ``size`` (the object's, ``None``
    when absent) must be there and above 0, else :class:`RunwareUploadError` names the object."""
    if size is None:
        raise RunwareUploadError(
            f"Upload missing: {uri} does not exist although Runware reported the image done"
        )
    if size <= 0:
        raise RunwareUploadError(f"Upload empty: {uri} exists but has 0 bytes")
    return size


def register_secret_url(url: str) -> None:
    """Register a presigned URL's credential values with Airflow's masker (defence in depth).

    What makes the URL a secret is its signature (and credential, security token or password); with
    those masked, a logged URL grants nothing. The URL itself is not registered: Airflow's masker
    recompiles one regular expression of every registered string on each new one, in the task process
    and again in its supervisor, so a 600-character URL per image made a 100-row chunk spend about
    30 s compiling before it could submit (quadratic in the chunk's size). Each value is registered
    raw and as written in the URL, so a log line that shows it URL-decoded or cut out of the URL is
    still masked. Outside a task (or on an Airflow without the helper) this is a no-op, never an error.
    """
    from airflow_provider_runware.compat import mask_secret

    # A signed URL whose credential is in no parameter we know is masked whole rather than not at all.
    # One call with every value: one message to the supervisor per URL, not one per value.
    try:
        mask_secret(_secret_query_values(url) or [url])
    except Exception as err:  # the masker must never break an upload
        log.debug("Could not register a URL secret with the masker: %s", type(err).__name__)


def register_user_url_secrets(url: str) -> None:
    """A URL the user gave us (webhook, ``https://`` output): whatever its query carries (token, key,
    sig) is a secret to the masker, whatever the parameter is called."""
    from airflow_provider_runware.compat import mask_secret

    mask_secret(url)
    for _, value in parse_qsl(urlsplit(url).query):
        mask_secret(value)


def _secret_query_values(url: str) -> list[str]:
    parts = urlsplit(url)
    values = [value for name, value in parse_qsl(parts.query) if name.lower() in SECRET_QUERY_PARAMS]
    # Also as written in the URL: a base64 signature (Azure's sig) differs once percent-encoded.
    values += [
        value
        for name, _, value in (pair.partition("=") for pair in parts.query.split("&"))
        if name.lower() in SECRET_QUERY_PARAMS
    ]
    if parts.password:
        values.append(parts.password)
    return list(dict.fromkeys(value for value in values if value))


def strip_secrets(url: str) -> str:
    """The URL without query, fragment or password: what may be logged or returned through XCom.

    A user name stays (``wasbs://container@account...`` names the container that way).
    """
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    netloc = f"{user}{at}{host}" if user else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback IP; any other name could resolve anywhere, so it does not count."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_prefix(prefix: str) -> str:
    """``"a/b"``, ``"/a/b/"`` and ``"a/b/"`` all mean the folder ``a/b/``; ``""`` means the bucket root."""
    prefix = prefix.lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else f"{prefix}/"


def check_object_name(object_name: str) -> None:
    if not object_name or object_name.startswith("/"):
        raise RunwareValidationError(
            f"object name {object_name!r} must be a non-empty relative path like 'campaign/img_0.jpg'",
            parameter="object_name",
        )


def join_key(prefix: str, object_name: str) -> str:
    check_object_name(object_name)
    key = f"{prefix}{object_name}"
    if len(key.encode()) > MAX_OBJECT_KEY_BYTES:
        raise RunwareValidationError(
            f"object key {key!r} is longer than the stores' limit of {MAX_OBJECT_KEY_BYTES} bytes",
            parameter="object_name",
        )
    return key


def expiry_seconds(expires_in: timedelta, max_expiry: timedelta | None, where: str) -> int:
    """Whole seconds of validity; refuse what the store would reject (or a URL that is already dead)."""
    seconds = int(expires_in.total_seconds())
    if seconds < 1:
        raise RunwareValidationError(
            f"expires_in {expires_in} for {where}: presigned URLs must be valid for at least 1 second",
            parameter="expires_in",
        )
    if max_expiry is not None and expires_in > max_expiry:
        raise RunwareValidationError(
            f"expires_in {expires_in} for {where} exceeds the maximum of {max_expiry} for presigned URLs "
            "of this store; shorten the operator's timeout or split the work",
            parameter="expires_in",
        )
    return seconds
