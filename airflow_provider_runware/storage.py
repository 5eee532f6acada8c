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

import ipaddress
import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from airflow_provider_runware.exceptions import RunwareUploadError, RunwareValidationError

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

__all__ = [
    "HttpOutputLocation",
    "OutputLocation",
    "S3OutputLocation",
    "UploadTarget",
    "parse_output_location",
]

log = logging.getLogger(__name__)

OBJECT_NAME_PLACEHOLDER = "{object_name}"
"""Put this in an ``https://`` output_location to give every image its own URL."""

DEFAULT_AWS_CONN_ID = "aws_default"
S3_MAX_EXPIRY = timedelta(days=7)
S3_MAX_KEY_BYTES = 1024
# Today's rule is 3-63 lowercase characters; older us-east-1 buckets may be longer, with capitals and "_".
S3_BUCKET_PATTERN = re.compile(r"[A-Za-z0-9._-]{3,255}")
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
SUPPORTED_FORMS = "s3://bucket/prefix/, https://host/path (optionally containing {object_name})"
PLANNED_SCHEMES = frozenset({"gs", "wasbs", "wasb", "abfs", "abfss"})


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

    @abstractmethod
    def verify(self, target: UploadTarget) -> int:
        """Size in bytes of the uploaded object; raise :class:`RunwareUploadError` if missing or empty.

        ``-1`` means the store offers no way to check. Only ``target.uri`` is read, so a resumed
        (deferred) task can rebuild the target as ``UploadTarget(uri, upload_url="")`` without ever
        storing the secret URL.
        """

    def write_object(self, object_name: str, data: bytes) -> str:
        """Store a small companion object (e.g. a manifest) beside the images, the way Runware does:
        one plain PUT of raw bytes to a presigned URL. Returns the object's loggable uri."""
        import httpx

        target = self.target_for(object_name, WRITE_URL_LIFETIME)
        try:
            response = httpx.put(target.upload_url, content=data, timeout=60.0)
        except httpx.HTTPError as err:
            raise RunwareUploadError(f"Could not write {target.uri}: {type(err).__name__}") from err
        if not response.is_success:
            raise RunwareUploadError(f"Could not write {target.uri}: HTTP {response.status_code}")
        return target.uri

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.display_uri!r})"


class S3OutputLocation(OutputLocation):
    """``s3://bucket/prefix/`` through the amazon provider's :class:`S3Hook`.

    URLs are always SigV4 (boto3 otherwise presigns SigV2, which newer regions reject) and sign only the
    ``host`` header: a signed Content-Type would have to be sent back identically by Runware, and we do
    not control its headers.
    """

    scheme = "s3"
    max_expiry = S3_MAX_EXPIRY

    def __init__(self, bucket: str, prefix: str, aws_conn_id: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = _normalize_prefix(prefix)
        self.conn_id_given = aws_conn_id is not None
        self.aws_conn_id = aws_conn_id or DEFAULT_AWS_CONN_ID

    @classmethod
    def from_uri(cls, output_location: str, storage_conn_id: str | None) -> S3OutputLocation:
        # Split by hand: urlsplit would treat "?" and "#" (legal in S3 keys) as URL syntax.
        bucket, _, prefix = output_location.split("://", 1)[1].partition("/")
        return cls(bucket=bucket, prefix=prefix, aws_conn_id=storage_conn_id)

    @property
    def display_uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @cached_property
    def hook(self) -> S3Hook:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.aws_conn_id)

    # -- validate ---------------------------------------------------------------------------------

    def validate(self) -> None:
        self._validate_bucket()
        self._validate_connection()
        self._validate_credentials()
        self._validate_bucket_exists()

    def _validate_bucket(self) -> None:
        if not self.bucket:
            raise RunwareValidationError(
                f"output_location {self.display_uri!r} has no bucket name: "
                "expected s3://bucket/prefix/ (the bucket goes right after s3://)",
                parameter="output_location",
            )
        if not S3_BUCKET_PATTERN.fullmatch(self.bucket):
            raise RunwareValidationError(
                f"output_location {self.display_uri!r}: {self.bucket!r} is not a valid bucket name "
                "(3 to 255 characters: ASCII letters, digits, '.', '-' and '_')",
                parameter="output_location",
            )

    def _validate_connection(self) -> None:
        """A named connection must exist; a missing ``aws_default`` means boto3's default credential chain."""
        if not self.conn_id_given:
            return
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            BaseHook.get_connection(self.aws_conn_id)
        except AirflowNotFoundException as err:
            raise RunwareValidationError(
                f"storage_conn_id {self.aws_conn_id!r} does not exist: create an Amazon Web Services "
                f"connection with that id (needed to presign uploads to {self.display_uri})",
                parameter="storage_conn_id",
            ) from err

    def _validate_credentials(self) -> None:
        """Presigning needs credentials; finding none now beats a failure after images were paid for."""
        from botocore.exceptions import BotoCoreError

        try:
            credentials = self.hook.get_session(region_name=self.hook.region_name).get_credentials()
        except BotoCoreError as err:
            raise RunwareValidationError(
                f"storage_conn_id {self.aws_conn_id!r}: could not load AWS credentials ({err})",
                parameter="storage_conn_id",
            ) from err
        if credentials is None:
            raise RunwareValidationError(
                f"storage_conn_id {self.aws_conn_id!r} gives no AWS credentials (no access key in the "
                "connection, and none in the environment, profile or instance role); presigning "
                f"uploads to {self.display_uri} needs them",
                parameter="storage_conn_id",
            )

    def _validate_bucket_exists(self) -> None:
        """Catch a misspelt bucket before images are paid for; only a clear "no such bucket" refuses.

        A write-only role may not be allowed to HEAD the bucket (403), and a network hiccup must not
        fail the task for good: both are logged and left to the upload check.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.hook.get_conn().head_bucket(Bucket=self.bucket)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise RunwareValidationError(
                    f"output_location {self.display_uri!r}: bucket {self.bucket!r} does not exist "
                    f"(as seen through connection {self.aws_conn_id!r})",
                    parameter="output_location",
                ) from err
            log.info("Could not confirm that bucket %r exists (%s); continuing", self.bucket, code)
        except BotoCoreError as err:
            log.warning("Could not confirm that bucket %r exists (%s); continuing", self.bucket, err)

    # -- presign ----------------------------------------------------------------------------------

    def uri_for(self, object_name: str) -> str:
        return f"s3://{self.bucket}/{_join_key(self.prefix, object_name)}"

    def target_for(self, object_name: str, expires_in: timedelta) -> UploadTarget:
        key = _join_key(self.prefix, object_name)
        seconds = _expiry_seconds(expires_in, self.max_expiry, self.display_uri)
        uri = f"s3://{self.bucket}/{key}"
        url = self._presign_put(key, seconds, uri)
        register_secret_url(url)
        log.debug("Presigned a PUT for %s valid %d s", uri, seconds)
        return UploadTarget(uri=uri, upload_url=url)

    @cached_property
    def _presign_client(self) -> Any:
        """An S3 client from the hook's connection (endpoint, credentials, config) but forced to SigV4.

        ``S3Hook.generate_presigned_url`` uses the hook's cached client, whose signature version comes
        from the connection; passing ``config=`` to the hook would replace the connection's
        ``config_kwargs`` entirely. So merge SigV4 into the connection's own config instead.
        """
        from botocore.config import Config

        config = self.hook.config.merge(Config(signature_version="s3v4"))
        return self.hook.get_client_type(region_name=self._signing_region(), config=config)

    def _signing_region(self) -> str | None:
        """The region SigV4 must name: the connection's, else the bucket's own (AWS refuses a mismatch)."""
        if self.hook.region_name or self.hook.conn_config.get_service_endpoint_url(service_name="s3"):
            return self.hook.region_name
        return self._bucket_region()

    def _bucket_region(self) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            location = self.hook.get_conn().get_bucket_location(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as err:
            log.warning(
                "Connection %r sets no region and the region of bucket %r could not be read (%s); "
                "presigning with boto3's default region",
                self.aws_conn_id,
                self.bucket,
                err,
            )
            return None
        return location.get("LocationConstraint") or "us-east-1"

    def _presign_put(self, key: str, seconds: int, uri: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            url = self._presign_client.generate_presigned_url(
                ClientMethod="put_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=seconds,
                HttpMethod="PUT",
            )
        except NoCredentialsError as err:
            raise RunwareValidationError(
                f"storage_conn_id {self.aws_conn_id!r} gives no AWS credentials to presign {uri}",
                parameter="storage_conn_id",
            ) from err
        except (BotoCoreError, ClientError) as err:
            raise RunwareUploadError(f"Could not presign a PUT URL for {uri}: {err}") from err
        if not isinstance(url, str) or not url:
            raise RunwareUploadError(f"Could not presign a PUT URL for {uri}: boto3 returned {url!r}")
        return url

    # -- verify -----------------------------------------------------------------------------------

    def verify(self, target: UploadTarget) -> int:
        key = self._key_of(target)
        head = self._head(key, target.uri)
        if head is None:
            raise RunwareUploadError(
                f"Upload missing: {target.uri} does not exist although Runware reported the image done"
            )
        size = int(head.get("ContentLength") or 0)
        if size <= 0:
            raise RunwareUploadError(f"Upload empty: {target.uri} exists but has 0 bytes")
        return size

    def _key_of(self, target: UploadTarget) -> str:
        bucket, _, key = target.uri.removeprefix("s3://").partition("/")
        if not target.uri.startswith("s3://") or bucket != self.bucket or not key:
            raise ValueError(f"{target.uri!r} is not an object of {self.display_uri!r}")
        return key

    def _head(self, key: str, uri: str) -> dict[str, Any] | None:
        """HEAD the object; ``None`` when absent. Denied or failing checks are upload errors too."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.hook.head_object(key=key, bucket_name=self.bucket)
        except ClientError as err:
            error = err.response.get("Error", {})
            raise RunwareUploadError(
                f"Could not check upload {uri}: {error.get('Code', 'error')} "
                f"{error.get('Message', '')}".rstrip()
            ) from err
        except BotoCoreError as err:
            raise RunwareUploadError(f"Could not check upload {uri}: {err}") from err


class HttpOutputLocation(OutputLocation):
    """The user's own upload URL, passed through unchanged.

    With ``{object_name}`` in it, each image gets its own URL; without, it is one fixed URL that can
    hold only one image. Nothing can be read back, so :meth:`verify` cannot check anything. Plain
    ``http://`` is accepted only for loopback hosts (tests): user content must travel encrypted.
    """

    scheme = "https"

    def __init__(self, url_template: str) -> None:
        self.url_template = url_template

    @classmethod
    def from_uri(cls, output_location: str, storage_conn_id: str | None) -> HttpOutputLocation:
        location = cls(output_location)
        location.validate()
        if storage_conn_id:
            log.info("storage_conn_id %r is not used for %s", storage_conn_id, location.display_uri)
        return location

    @property
    def display_uri(self) -> str:
        return strip_secrets(self.url_template)

    @property
    def supports_many(self) -> bool:
        return OBJECT_NAME_PLACEHOLDER in self.url_template

    def validate(self) -> None:
        parts = urlsplit(self.url_template)
        scheme = parts.scheme.lower()
        if not parts.hostname or OBJECT_NAME_PLACEHOLDER in parts.netloc:
            raise RunwareValidationError(
                f"output_location {self.display_uri!r} has no fixed host: expected https://host/path "
                f"({OBJECT_NAME_PLACEHOLDER} may appear in the path or query only)",
                parameter="output_location",
            )
        if scheme == "http" and not is_loopback_host(parts.hostname):
            raise RunwareValidationError(
                f"output_location {self.display_uri!r} uses plain http: uploads of user content must be "
                "encrypted, so use https:// (http:// is accepted only for loopback hosts, for tests)",
                parameter="output_location",
            )
        if scheme not in ("http", "https"):
            raise RunwareValidationError(
                f"output_location {self.display_uri!r} is not an http(s) URL", parameter="output_location"
            )

    def uri_for(self, object_name: str) -> str:
        return strip_secrets(self._url_for(object_name))

    def target_for(self, object_name: str, expires_in: timedelta) -> UploadTarget:
        """Fill in ``{object_name}``; ``expires_in`` is the URL owner's business here."""
        url = self._url_for(object_name)
        register_secret_url(url)
        return UploadTarget(uri=strip_secrets(url), upload_url=url)

    def _url_for(self, object_name: str) -> str:
        _check_object_name(object_name)
        return self.url_template.replace(OBJECT_NAME_PLACEHOLDER, quote(object_name, safe="/"))

    def verify(self, target: UploadTarget) -> int:
        log.info(
            "Upload to %s not verified: a plain https upload URL offers no way to read the object back",
            target.uri,
        )
        return -1


_LOCATION_TYPES: dict[str, type[OutputLocation]] = {
    "s3": S3OutputLocation,
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


# -- helpers shared by the location types --------------------------------------------------------


def register_secret_url(url: str) -> None:
    """Register a presigned URL and its credential parts with Airflow's masker (defence in depth).

    The masker replaces whole registered strings, so the signature is registered on its own too: a log
    line that shows it URL-decoded or cut out of the URL is then still masked. Outside a task (or on
    an Airflow without the helper) this is a no-op, never an error.
    """
    try:
        from airflow.providers.common.compat.sdk import mask_secret
    except ImportError:  # pragma: no cover - the compat provider is a hard dependency
        return
    for secret in (url, *_secret_query_values(url)):
        try:
            mask_secret(secret)
        except Exception as err:  # the masker must never break an upload
            log.debug("Could not register a URL secret with the masker: %s", type(err).__name__)


def _secret_query_values(url: str) -> list[str]:
    parts = urlsplit(url)
    values = [value for name, value in parse_qsl(parts.query) if name.lower() in SECRET_QUERY_PARAMS]
    if parts.password:
        values.append(parts.password)
    return [value for value in values if value]


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


def _normalize_prefix(prefix: str) -> str:
    """``"a/b"``, ``"/a/b/"`` and ``"a/b/"`` all mean the folder ``a/b/``; ``""`` means the bucket root."""
    prefix = prefix.lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else f"{prefix}/"


def _check_object_name(object_name: str) -> None:
    if not object_name or object_name.startswith("/"):
        raise RunwareValidationError(
            f"object name {object_name!r} must be a non-empty relative path like 'campaign/img_0.jpg'",
            parameter="object_name",
        )


def _join_key(prefix: str, object_name: str) -> str:
    _check_object_name(object_name)
    key = f"{prefix}{object_name}"
    if len(key.encode()) > S3_MAX_KEY_BYTES:
        raise RunwareValidationError(
            f"object key {key!r} is longer than S3's limit of {S3_MAX_KEY_BYTES} bytes",
            parameter="object_name",
        )
    return key


def _expiry_seconds(expires_in: timedelta, max_expiry: timedelta | None, where: str) -> int:
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
