"""``gs://`` output locations through the google provider's GCSHook.

Uploads use V4 signed PUT URLs (``GOOG4-RSA-SHA256``) that sign only the ``host`` header: Runware PUTs
raw bytes with no headers we control, and a signed Content-Type would have to be sent back identically.

Which credentials can sign:

* a service-account key (``keyfile_dict`` / ``key_path`` in the connection) signs locally;
* ``impersonation_chain`` gives impersonated credentials, which sign through IAM ``signBlob``;
* metadata-server credentials (GCE, GKE, Composer) cannot sign themselves but know their service
  account: the URL is then signed through IAM ``signBlob`` with their access token (the account needs
  ``iam.serviceAccounts.signBlob`` on itself, e.g. roles/iam.serviceAccountTokenCreator);
* user credentials (``gcloud auth application-default login``) cannot sign at all and are refused by
  :meth:`GcsOutputLocation.validate`, before anything is paid for.

Emulators: the connection extra ``storage_emulator_host`` or the environment variable
``STORAGE_EMULATOR_HOST`` (the one google-cloud-storage itself honours; both include the scheme, e.g.
``http://127.0.0.1:9023``) sends signed URLs and verification calls there. Like google-cloud-storage,
API calls to an emulator are anonymous; URLs are still signed with the connection's key, so a test
front can check them.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_runware.exceptions import RunwareUploadError, RunwareValidationError
from airflow_provider_runware.storage.base import (
    OutputLocation,
    UploadTarget,
    expiry_seconds,
    join_key,
    normalize_prefix,
    register_secret_url,
)

if TYPE_CHECKING:
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

log = logging.getLogger(__name__)

DEFAULT_GCP_CONN_ID = "google_cloud_default"
GCS_MAX_EXPIRY = timedelta(days=7)
DEFAULT_API_ENDPOINT = "https://storage.googleapis.com"
EMULATOR_EXTRA = "storage_emulator_host"
EMULATOR_ENV_VAR = "STORAGE_EMULATOR_HOST"
# 3-63 characters (222 with dots): lowercase letters, digits, "-", "_", "."; letter or digit at both ends.
GCS_BUCKET_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
CANNOT_SIGN_HINT = (
    "Signed upload URLs need credentials that can sign: put a service-account key in the connection "
    "(keyfile_dict or key_path), or set its impersonation_chain to a service account this identity may "
    "sign for (roles/iam.serviceAccountTokenCreator; signing then goes through IAM signBlob)"
)


class GcsOutputLocation(OutputLocation):
    """``gs://bucket/prefix/`` (``gcs://`` is accepted too) through the google provider's :class:`GCSHook`."""

    scheme = "gs"
    max_expiry = GCS_MAX_EXPIRY

    def __init__(self, bucket: str, prefix: str, gcp_conn_id: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix)
        self.gcp_conn_id = gcp_conn_id or DEFAULT_GCP_CONN_ID

    @classmethod
    def from_uri(cls, output_location: str, storage_conn_id: str | None) -> GcsOutputLocation:
        # Split by hand: urlsplit would treat "?" and "#" (legal in object names) as URL syntax.
        bucket, _, prefix = output_location.split("://", 1)[1].partition("/")
        return cls(bucket=bucket, prefix=prefix, gcp_conn_id=storage_conn_id)

    @property
    def display_uri(self) -> str:
        return f"gs://{self.bucket}/{self.prefix}"

    @cached_property
    def hook(self) -> GCSHook:
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        return GCSHook(gcp_conn_id=self.gcp_conn_id)

    @cached_property
    def emulator_host(self) -> str | None:
        """The emulator's base URL from the connection extra, else ``STORAGE_EMULATOR_HOST``; else None."""
        from airflow.providers.google.common.hooks.base_google import get_field

        value = get_field(self.hook.extras, EMULATOR_EXTRA) or os.environ.get(EMULATOR_ENV_VAR)
        if not value:
            return None
        value = str(value).strip().rstrip("/")
        return value if "://" in value else f"http://{value}"

    @property
    def api_endpoint(self) -> str:
        """Base URL of signed URLs and API calls (the host is part of what gets signed)."""
        return self.emulator_host or DEFAULT_API_ENDPOINT

    @cached_property
    def credentials(self) -> Any:
        """The connection's credentials as the hook builds them (key, impersonation, ADC...)."""
        return self.hook.get_credentials()

    @cached_property
    def client(self) -> Any:
        """A ``storage.Client`` for checks: the hook's own, or an anonymous one on an emulator.

        On an emulator the hook's client would still refresh an OAuth token at the key's ``token_uri``
        (a real Google endpoint), so it gets anonymous credentials, exactly as google-cloud-storage does
        when it finds ``STORAGE_EMULATOR_HOST`` and no credentials.
        """
        if self.emulator_host is None:
            return self.hook.get_conn()
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        # An explicit project keeps google-auth from probing for one (which may ask a metadata server).
        return storage.Client(
            project=self.hook.project_id or "<none>",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.emulator_host},
        )

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
                "expected gs://bucket/prefix/ (the bucket goes right after gs://)",
                parameter="output_location",
            )
        if not GCS_BUCKET_PATTERN.fullmatch(self.bucket):
            raise RunwareValidationError(
                f"output_location {self.display_uri!r}: {self.bucket!r} is not a valid bucket name "
                "(3 to 222 characters: lowercase letters, digits, '-', '_' and '.', starting and ending "
                "with a letter or digit)",
                parameter="output_location",
            )

    def _validate_connection(self) -> None:
        """GCSHook needs its connection to exist, even ``google_cloud_default`` (unlike S3Hook)."""
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            BaseHook.get_connection(self.gcp_conn_id)
        except AirflowNotFoundException as err:
            raise RunwareValidationError(
                f"storage_conn_id {self.gcp_conn_id!r} does not exist: create a Google Cloud connection "
                f"with that id (needed to sign uploads to {self.display_uri})",
                parameter="storage_conn_id",
            ) from err

    def _validate_credentials(self) -> None:
        """Load the credentials and make sure they can sign; no network call for a key file."""
        from airflow.sdk.exceptions import AirflowException
        from google.auth.exceptions import GoogleAuthError

        try:
            credentials = self.credentials
        # The hook raises AirflowException for a keyfile_dict that is not JSON, google-auth ValueError
        # for a key it cannot parse, OSError for a key_path it cannot read.
        except (AirflowException, GoogleAuthError, ValueError, TypeError, OSError) as err:
            raise RunwareValidationError(
                f"storage_conn_id {self.gcp_conn_id!r}: could not load Google credentials "
                f"({type(err).__name__}: {err})",
                parameter="storage_conn_id",
            ) from err
        if signing_mode(credentials) is None:
            raise RunwareValidationError(
                f"storage_conn_id {self.gcp_conn_id!r} gives {type(credentials).__module__}."
                f"{type(credentials).__name__}, which cannot sign URLs for {self.display_uri}. "
                f"{CANNOT_SIGN_HINT}",
                parameter="storage_conn_id",
            )

    def _validate_bucket_exists(self) -> None:
        """Catch a misspelt bucket before images are paid for; only a clear "no such bucket" refuses.

        A write-only service account may not read bucket metadata (403), and a network hiccup must not
        fail the task for good: both are logged and left to the upload check.
        """
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError
        from requests import RequestException

        try:
            exists = self.client.bucket(self.bucket).exists(timeout=30)
        except (GoogleAPIError, GoogleAuthError, RequestException) as err:
            log.info(
                "Could not confirm that bucket %r exists (%s); continuing", self.bucket, type(err).__name__
            )
            return
        if not exists:
            raise RunwareValidationError(
                f"output_location {self.display_uri!r}: bucket {self.bucket!r} does not exist "
                f"(as seen through connection {self.gcp_conn_id!r})",
                parameter="output_location",
            )

    # -- sign -------------------------------------------------------------------------------------

    def uri_for(self, object_name: str) -> str:
        return f"gs://{self.bucket}/{join_key(self.prefix, object_name)}"

    def target_for(self, object_name: str, expires_in: timedelta) -> UploadTarget:
        name = join_key(self.prefix, object_name)
        seconds = expiry_seconds(expires_in, self.max_expiry, self.display_uri)
        uri = f"gs://{self.bucket}/{name}"
        url = self._sign_put(name, seconds, uri)
        register_secret_url(url)
        log.debug("Signed a PUT for %s valid %d s", uri, seconds)
        return UploadTarget(uri=uri, upload_url=url)

    def _sign_put(self, name: str, seconds: int, uri: str) -> str:
        from google.auth.exceptions import GoogleAuthError
        from requests import RequestException

        blob = self.client.bucket(self.bucket).blob(name)
        try:
            url = blob.generate_signed_url(
                version="v4",
                method="PUT",
                expiration=timedelta(seconds=seconds),
                api_access_endpoint=self.api_endpoint,
                **self._signer_kwargs(uri),
            )
        except (GoogleAuthError, RequestException) as err:
            raise RunwareUploadError(
                f"Could not sign a PUT URL for {uri}: {type(err).__name__}: {err}"
            ) from err
        if not isinstance(url, str) or not url:
            raise RunwareUploadError(f"Could not sign a PUT URL for {uri}: got {type(url).__name__}")
        return url

    def _signer_kwargs(self, uri: str) -> dict[str, Any]:
        """How google-cloud-storage should sign: with the key itself, or through IAM signBlob."""
        credentials = self.credentials
        mode = signing_mode(credentials)
        if mode == "key":
            return {"credentials": credentials}
        if mode == "iam":
            if not credentials.valid:
                from google.auth.transport.requests import Request

                credentials.refresh(Request())
            return {
                "credentials": credentials,
                "service_account_email": credentials.service_account_email,
                "access_token": credentials.token,
            }
        raise RunwareValidationError(
            f"storage_conn_id {self.gcp_conn_id!r} cannot sign {uri}. {CANNOT_SIGN_HINT}",
            parameter="storage_conn_id",
        )

    # -- verify -----------------------------------------------------------------------------------

    def verify(self, target: UploadTarget) -> int:
        name = self._name_of(target)
        blob = self._get_blob(name, target.uri)
        if blob is None:
            raise RunwareUploadError(
                f"Upload missing: {target.uri} does not exist although Runware reported the image done"
            )
        size = int(blob.size or 0)
        if size <= 0:
            raise RunwareUploadError(f"Upload empty: {target.uri} exists but has 0 bytes")
        return size

    def _name_of(self, target: UploadTarget) -> str:
        bucket, _, name = target.uri.removeprefix("gs://").partition("/")
        if not target.uri.startswith("gs://") or bucket != self.bucket or not name:
            raise ValueError(f"{target.uri!r} is not an object of {self.display_uri!r}")
        return name

    def _get_blob(self, name: str, uri: str) -> Any:
        """The object's metadata; ``None`` when absent. Denied or failing checks are upload errors too."""
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError
        from requests import RequestException

        try:
            return self.client.bucket(self.bucket).get_blob(name, timeout=30)
        except (GoogleAPIError, GoogleAuthError, RequestException) as err:
            raise RunwareUploadError(f"Could not check upload {uri}: {type(err).__name__}: {err}") from err


def signing_mode(credentials: Any) -> str | None:
    """``"key"`` when the credentials sign themselves, ``"iam"`` when only IAM signBlob can, else None.

    Impersonated credentials implement ``Signing`` (through IAM) and count as ``"key"``; metadata-server
    credentials expose their ``service_account_email`` (``"default"`` until first refreshed).
    """
    from google.auth.credentials import Signing

    if isinstance(credentials, Signing):
        return "key"
    if getattr(credentials, "service_account_email", None) and hasattr(credentials, "refresh"):
        return "iam"
    return None
