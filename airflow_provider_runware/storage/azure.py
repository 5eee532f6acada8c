"""Azure Blob Storage output locations through the microsoft-azure provider's :class:`WasbHook`.

Runware uploads with one plain ``PUT`` of raw bytes and no headers we control. Azure's *Put Blob* refuses
such a PUT (it needs ``x-ms-blob-type: BlockBlob``), but *Put Block* needs no ``x-ms-*`` header at all. So
each image gets a write-only SAS URL for Put Block (``?<sas>&comp=block&blockid=<id>``), and once Runware
reports the image done, :meth:`AzureBlobOutputLocation.finalize` commits that one block, which is when
the blob appears (with its content type). The block id is derived from the blob name, so a retried
upload overwrites the staged block instead of adding a second one.

Accepted ``output_location`` forms (the account's endpoint itself comes from the connection, so the
same URI works against Azure, a sovereign cloud or Azurite):

* ``wasbs://container@account.blob.core.windows.net/prefix/`` (and ``wasb://``, which Airflow users
  also write; uploads still use the connection's endpoint, https for real Azure);
* ``abfss://container@account.dfs.core.windows.net/prefix/`` (and ``abfs://``): an ADLS Gen2 account,
  written through its Blob endpoint (multi-protocol access).

A plain ``https://account.blob.core.windows.net/...`` stays the pass-through https location: such a
URL is the user's own, and we cannot turn it into a Put Block URL.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import mimetypes
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlsplit

from airflow_provider_runware.exceptions import RunwareUploadError, RunwareValidationError
from airflow_provider_runware.storage.base import (
    OutputLocation,
    UploadTarget,
    expiry_seconds,
    is_loopback_host,
    join_key,
    normalize_prefix,
    register_secret_url,
    uploaded_size,
)

if TYPE_CHECKING:
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook
    from azure.storage.blob import BlobClient, BlobServiceClient, UserDelegationKey

log = logging.getLogger(__name__)

DEFAULT_WASB_CONN_ID = "wasb_default"
# Azure caps user delegation keys at 7 days; account-key SAS have no cap, but a week-old upload URL is
# long dead in Runware terms, so one limit for both.
AZURE_MAX_EXPIRY = timedelta(days=7)
# Clock skew between us and Azure: a delegation key "valid from now" can be refused for a few minutes.
CLOCK_SKEW = timedelta(minutes=5)
# Block ids must be <= 64 bytes before base64; 48 ASCII characters encode to 64 without "=" padding.
BLOCK_ID_LENGTH = 48
ACCOUNT_PATTERN = re.compile(r"[a-z0-9]{3,24}")
# 3-63 lowercase letters, digits and single hyphens, starting and ending alphanumeric; or $root/$web.
CONTAINER_PATTERN = re.compile(r"\$root|\$web|(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
FORM = "wasbs://container@account.blob.core.windows.net/prefix/"
CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".json": "application/json",
}


def block_id_for(blob_name: str) -> str:
    """The raw (not yet base64) id of the single block that makes up ``blob_name``.

    Deterministic, so that a second PUT of the same object (a retried upload) replaces the staged block
    instead of leaving two; fixed-length, as Azure requires equal-length ids within one blob.
    """
    return hashlib.sha256(blob_name.encode()).hexdigest()[:BLOCK_ID_LENGTH]


def content_type_for(blob_name: str) -> str:
    """Content type from the extension: Runware sends none, so it is set when the block is committed."""
    suffix = blob_name[blob_name.rfind(".") :].lower() if "." in blob_name else ""
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(blob_name)[0] or "application/octet-stream"


@dataclass(frozen=True)
class _Signer:
    """How this connection can mint SAS tokens: an account key, or a token credential (delegation key)."""

    account_name: str
    account_key: str | None = None


class AzureBlobOutputLocation(OutputLocation):
    """``wasbs://container@account.blob.core.windows.net/prefix/`` through :class:`WasbHook`.

    The connection must be able to *mint* a SAS: an account key (login + password, ``account_key`` or
    ``shared_access_key`` extra, or a connection string with ``AccountKey``) or an Entra ID token
    credential (``tenant_id`` service principal, managed identity / DefaultAzureCredential), which
    gets a user delegation key. A connection holding only a SAS token cannot sign anything new.
    """

    scheme = "wasbs"
    max_expiry = AZURE_MAX_EXPIRY

    def __init__(
        self, container: str, account: str, prefix: str, wasb_conn_id: str | None = None, *, uri_base: str
    ) -> None:
        self.container = container
        self.account = account
        self.prefix = normalize_prefix(prefix)
        self.wasb_conn_id = wasb_conn_id or DEFAULT_WASB_CONN_ID
        self.uri_base = uri_base
        self._delegation: tuple[datetime, UserDelegationKey] | None = None

    @classmethod
    def from_uri(cls, output_location: str, storage_conn_id: str | None) -> AzureBlobOutputLocation:
        """Split by hand (``?`` and ``#`` are legal in blob names); refuse malformed URIs right away."""
        parts = split_azure_uri(output_location)
        return cls(
            container=parts.container,
            account=parts.account,
            prefix=parts.path,
            wasb_conn_id=storage_conn_id,
            uri_base=parts.uri_base,
        )

    @property
    def display_uri(self) -> str:
        return f"{self.uri_base}{self.prefix}"

    @cached_property
    def hook(self) -> WasbHook:
        from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

        return WasbHook(wasb_conn_id=self.wasb_conn_id)

    @cached_property
    def _service(self) -> BlobServiceClient:
        """The connection's client; its endpoint (Azure, sovereign cloud, Azurite) is where uploads go."""
        from airflow_provider_runware.compat import AirflowNotFoundException

        try:
            return self.hook.get_conn()
        except AirflowNotFoundException as err:
            raise RunwareValidationError(
                f"storage_conn_id {self.wasb_conn_id!r} does not exist: create an Azure Blob Storage "
                f"(wasb) connection with that id (needed to sign uploads to {self.display_uri})",
                parameter="storage_conn_id",
            ) from err
        except ValueError as err:  # the SDK's message for a malformed connection string or account
            raise RunwareValidationError(
                f"storage_conn_id {self.wasb_conn_id!r} is not a usable Azure Blob connection: {err}",
                parameter="storage_conn_id",
            ) from err

    # -- validate ---------------------------------------------------------------------------------

    def validate(self) -> None:
        self._check_endpoint()
        if self._signer.account_key is None:
            self._delegation_key(datetime.now(UTC))  # fails now if the identity may not sign
        self._check_container()

    def _check_endpoint(self) -> None:
        """Images and the SAS travel in the URL: only loopback (Azurite) may use plain http."""
        endpoint = urlsplit(self._service.url)
        if endpoint.scheme != "https" and not is_loopback_host(endpoint.hostname or ""):
            raise RunwareValidationError(
                f"storage_conn_id {self.wasb_conn_id!r} points at {endpoint.scheme}://{endpoint.netloc}: "
                "uploads carry user content and a SAS, so use https (http only for loopback emulators)",
                parameter="storage_conn_id",
            )

    @cached_property
    def _signer(self) -> _Signer:
        """Classify the connection's credential once; refuse those that cannot mint a SAS."""
        credential = self._service.credential
        key = getattr(credential, "account_key", None)
        if key:
            signer = _Signer(account_name=str(getattr(credential, "account_name", "")), account_key=key)
        elif hasattr(credential, "get_token"):
            signer = _Signer(account_name=str(self._service.account_name or self.account))
        else:
            raise RunwareValidationError(
                f"storage_conn_id {self.wasb_conn_id!r} holds only a SAS token (or no credential): it "
                f"cannot sign the per-image upload URLs for {self.display_uri}. Give the connection the "
                "account key, or an Entra ID credential allowed to get a user delegation key",
                parameter="storage_conn_id",
            )
        if signer.account_name != self.account:
            raise RunwareValidationError(
                f"output_location {self.display_uri!r} names storage account {self.account!r}, but "
                f"storage_conn_id {self.wasb_conn_id!r} is for account {signer.account_name!r}",
                parameter="storage_conn_id",
            )
        return signer

    def check_account(self) -> None:
        """The connection is for this location's storage account and can sign (no I/O for a key)."""
        self._signer  # noqa: B018 - the property raises RunwareValidationError when it cannot

    def _check_container(self) -> None:
        """Catch a misspelt container before images are paid for; only clear answers refuse.

        A wrong account key is refused too (Azure says ``AuthenticationFailed``: every SAS signed with
        it would be refused). A token credential may lack read rights (403): logged, left to the upload.
        """
        from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

        try:
            self._service.get_container_client(self.container).get_container_properties(retry_total=1)
        except ResourceNotFoundError as err:
            raise RunwareValidationError(
                f"output_location {self.display_uri!r}: container {self.container!r} does not exist "
                f"(as seen through connection {self.wasb_conn_id!r})",
                parameter="output_location",
            ) from err
        except HttpResponseError as err:
            if _error_code(err) == "AuthenticationFailed" and self._signer.account_key is not None:
                raise RunwareValidationError(
                    f"storage_conn_id {self.wasb_conn_id!r}: Azure refused the account key of "
                    f"{self.account!r} (AuthenticationFailed), so every upload URL signed with it would "
                    "be refused too; check the key",
                    parameter="storage_conn_id",
                ) from err
            log.info("Could not confirm container %r exists (%s); continuing", self.container, _code(err))
        except AzureError as err:
            log.warning("Could not confirm container %r exists (%s); continuing", self.container, _code(err))

    # -- sign -------------------------------------------------------------------------------------

    def uri_for(self, object_name: str) -> str:
        return f"{self.uri_base}{join_key(self.prefix, object_name)}"

    def target_for(self, object_name: str, expires_in: timedelta) -> UploadTarget:
        """A write-only SAS URL for Put Block of this blob's single block (no x-ms-* header needed)."""
        blob_name = join_key(self.prefix, object_name)
        seconds = expiry_seconds(expires_in, self.max_expiry, self.display_uri)
        self._check_endpoint()  # also here: the manifest path signs without validate()
        uri = f"{self.uri_base}{blob_name}"
        sas = self._sas_for(blob_name, datetime.now(UTC) + timedelta(seconds=seconds))
        block_id = base64.b64encode(block_id_for(blob_name).encode()).decode()
        url = f"{self.blob_client(blob_name).url}?{sas}&comp=block&blockid={quote(block_id, safe='')}"
        register_secret_url(url)
        log.debug("Signed a Put Block URL for %s valid %d s", uri, seconds)
        return UploadTarget(uri=uri, upload_url=url)

    def blob_client(self, blob_name: str) -> BlobClient:
        """The SDK client of one blob (a full blob name) at the connection's endpoint."""
        return self._service.get_blob_client(container=self.container, blob=blob_name)

    def presign_get(self, key: str, expires_in: timedelta) -> str:
        """A read-only SAS URL for the blob ``key`` (a full blob name, not joined under the prefix)."""
        uri = f"{self.uri_base}{key}"
        seconds = expiry_seconds(expires_in, self.max_expiry, uri)
        self._check_endpoint()
        sas = self._sas_for(key, datetime.now(UTC) + timedelta(seconds=seconds), permission="r")
        url = f"{self.blob_client(key).url}?{sas}"
        register_secret_url(url)
        log.debug("Signed a read SAS for %s valid %d s", uri, seconds)
        return url

    def _sas_for(self, blob_name: str, expiry: datetime, permission: str = "w") -> str:
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        signer = self._signer
        https_only = urlsplit(self._service.url).scheme == "https"
        delegation = None if signer.account_key else self._delegation_key(expiry)
        return generate_blob_sas(
            account_name=signer.account_name,
            container_name=self.container,
            blob_name=blob_name,
            account_key=signer.account_key,
            user_delegation_key=delegation,
            permission=BlobSasPermissions.from_string(permission),
            expiry=expiry,
            start=datetime.now(UTC) - CLOCK_SKEW if delegation else None,
            protocol="https" if https_only else None,
        )

    def _delegation_key(self, sas_expiry: datetime) -> UserDelegationKey:
        """One user delegation key per location, valid as long as Azure allows (7 days).

        A SAS signed with it is valid only while the key is, so a SAS must not outlive the key.
        """
        if self._delegation is None or self._delegation[0] < sas_expiry:
            self._delegation = self._fetch_delegation_key()
        key_expiry, key = self._delegation
        if key_expiry < sas_expiry:
            raise RunwareValidationError(
                f"upload URLs for {self.display_uri} would outlive the user delegation key (valid until "
                f"{key_expiry:%Y-%m-%d %H:%M} UTC); Azure allows such keys at most 7 days: shorten the "
                "timeout",
                parameter="expires_in",
            )
        return key

    def _fetch_delegation_key(self) -> tuple[datetime, UserDelegationKey]:
        from azure.core.exceptions import AzureError

        now = datetime.now(UTC)
        key_expiry = now + AZURE_MAX_EXPIRY - CLOCK_SKEW  # Azure counts the 7 days on its own clock
        try:
            key = self._service.get_user_delegation_key(now - CLOCK_SKEW, key_expiry)
        except AzureError as err:
            raise RunwareValidationError(
                f"storage_conn_id {self.wasb_conn_id!r} could not get a user delegation key to sign "
                f"uploads to {self.display_uri} ({_code(err)}); the identity needs a role such as "
                "Storage Blob Data Contributor on the account",
                parameter="storage_conn_id",
            ) from err
        return key_expiry, key

    # -- finalize and verify ----------------------------------------------------------------------

    def finalize(self, target: UploadTarget) -> None:
        """Commit the block Runware staged, which creates the blob; a second call changes nothing.

        Already committed (a retry after a successful finalize) is fine; no block at all means nothing
        was uploaded, whatever Runware reported.
        """
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        blob_name = self._blob_name_of(target)
        client = self.blob_client(blob_name)
        block_id = block_id_for(blob_name)
        try:
            committed, uncommitted = client.get_block_list("all")
        except ResourceNotFoundError:
            committed, uncommitted = [], []
        except AzureError as err:
            raise RunwareUploadError(f"Could not check upload {target.uri}: {_code(err)}") from err
        if any(block.id == block_id for block in uncommitted):
            self._commit(client, block_id, blob_name, target.uri)
        elif not any(block.id == block_id for block in committed):
            raise RunwareUploadError(
                f"Upload missing: nothing was staged for {target.uri} although Runware reported the "
                "image done"
            )

    @staticmethod
    def _commit(client: BlobClient, block_id: str, blob_name: str, uri: str) -> None:
        from azure.core.exceptions import AzureError
        from azure.storage.blob import BlobBlock, ContentSettings

        try:
            # The SDK base64-encodes block ids itself: pass the raw id.
            client.commit_block_list(
                [BlobBlock(block_id=block_id)],
                content_settings=ContentSettings(content_type=content_type_for(blob_name)),
            )
        except AzureError as err:
            raise RunwareUploadError(f"Could not commit upload {uri}: {_code(err)}") from err
        log.debug("Committed the uploaded block of %s", uri)

    def verify(self, target: UploadTarget) -> int:
        return uploaded_size(self.object_size(self._blob_name_of(target), target.uri), target.uri)

    def object_size(self, key: str, uri: str) -> int | None:
        """Size of the blob ``key``; ``None`` when absent. Failing checks raise RunwareUploadError."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            return int(self.blob_client(key).get_blob_properties().size or 0)
        except ResourceNotFoundError:
            return None
        except AzureError as err:
            raise RunwareUploadError(f"Could not check upload {uri}: {_code(err)}") from err

    def _blob_name_of(self, target: UploadTarget) -> str:
        blob_name = target.uri.removeprefix(self.uri_base)
        if not target.uri.startswith(self.uri_base) or not blob_name:
            raise ValueError(f"{target.uri!r} is not an object of {self.display_uri!r}")
        return blob_name


# -- parsing helpers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AzureUriParts:
    """``scheme://container@host/path`` split; ``uri_base`` is everything up to and including the
    first ``/`` after the host."""

    scheme: str
    container: str
    host: str
    account: str
    path: str

    @property
    def uri_base(self) -> str:
        return f"{self.scheme}://{self.container}@{self.host}/"


def split_azure_uri(value: str, parameter: str = "output_location", form: str = FORM) -> AzureUriParts:
    """Split an Azure Blob URI by hand (``?`` and ``#`` are legal in blob names); refuse malformed ones
    with a :class:`RunwareValidationError` naming ``parameter`` and the expected ``form``."""
    scheme, rest = value.split("://", 1)
    scheme = scheme.lower()
    authority, _, path = rest.partition("/")
    container, at, host = authority.partition("@")
    host = host.lower()
    account, service = _account_of(host)
    _check_parts(value, scheme, at, container, host, account, service, parameter, form)
    return AzureUriParts(scheme=scheme, container=container, host=host, account=account, path=path)


def _account_of(host: str) -> tuple[str, str]:
    """``account.blob.core.windows.net`` -> (``account``, ``blob``); the suffix may be any cloud's."""
    labels = host.split(".")
    return labels[0], labels[1] if len(labels) > 2 else ""


def _check_parts(
    value: str,
    scheme: str,
    at: str,
    container: str,
    host: str,
    account: str,
    service: str,
    parameter: str,
    form: str,
) -> None:
    shown = value.split("?", 1)[0]
    expected_service = "dfs" if scheme.startswith("abfs") else "blob"
    problem = None
    if not at or not container:
        problem = "no container: it goes before '@'"
    elif not CONTAINER_PATTERN.fullmatch(container):
        problem = (
            f"{container!r} is not a valid container name (3-63 lowercase letters, digits and single hyphens)"
        )
    elif service not in (expected_service, "blob"):
        problem = f"host {host!r} is not an Azure storage endpoint like account.{expected_service}.core..."
    elif not ACCOUNT_PATTERN.fullmatch(account):
        problem = f"{account!r} is not a valid storage account name (3-24 lowercase letters and digits)"
    elif _has_sas(value):
        problem = "it carries a SAS, but the connection signs each URL itself: remove the query"
    if problem:
        raise RunwareValidationError(
            f"{parameter} {shown!r}: {problem}; expected {form}", parameter=parameter
        )


def _has_sas(value: str) -> bool:
    """A pasted SAS would otherwise become part of every blob name ("?" is legal there) and its logs."""
    query = value.partition("?")[2]
    return any(name.lower() in ("sig", "sv") for name, _ in parse_qsl(query, keep_blank_values=True))


def _error_code(err: Exception) -> str | None:
    """Azure's error code (e.g. ``BlobNotFound``) as plain text; the SDK gives a str enum or None."""
    code = getattr(err, "error_code", None)
    return str(getattr(code, "value", code)) if code else None


def _code(err: Exception) -> str:
    """An Azure error's status and code without its message: messages can quote request URLs."""
    status = getattr(err, "status_code", None)
    parts = [str(part) for part in (status, _error_code(err)) if part]
    return " ".join(parts) or type(err).__name__
