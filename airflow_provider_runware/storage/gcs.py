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
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_runware.exceptions import RunwareUploadError, RunwareValidationError
from airflow_provider_runware.storage.base import BucketOutputLocation

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


class GcsOutputLocation(BucketOutputLocation):
    """``gs://bucket/prefix/`` (``gcs://`` is accepted too) through the google provider's :class:`GCSHook`."""

    scheme = "gs"
    max_expiry = GCS_MAX_EXPIRY
    default_conn_id = DEFAULT_GCP_CONN_ID
    bucket_pattern = GCS_BUCKET_PATTERN
    bucket_rule = (
        "3 to 222 characters: lowercase letters, digits, '-', '_' and '.', starting and ending with a "
        "letter or digit"
    )
    connection_kind = "Google Cloud"

    @cached_property
    def hook(self) -> GCSHook:
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        return GCSHook(gcp_conn_id=self.conn_id)

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
        self.check_bucket_name()
        self.check_connection_exists()  # GCSHook needs it to exist, even google_cloud_default
        self._validate_credentials()
        self._validate_bucket_exists()

    def _validate_credentials(self) -> None:
        """Load the credentials and make sure they can sign; no network call for a key file."""
        from google.auth.exceptions import GoogleAuthError

        from airflow_provider_runware.compat import AirflowException

        try:
            credentials = self.credentials
        # The hook raises AirflowException for a keyfile_dict that is not JSON, google-auth ValueError
        # for a key it cannot parse, OSError for a key_path it cannot read.
        except (AirflowException, GoogleAuthError, ValueError, TypeError, OSError) as err:
            raise RunwareValidationError(
                f"storage_conn_id {self.conn_id!r}: could not load Google credentials "
                f"({type(err).__name__}: {err})",
                parameter="storage_conn_id",
            ) from err
        if signing_mode(credentials) is None:
            raise RunwareValidationError(
                f"storage_conn_id {self.conn_id!r} gives {type(credentials).__module__}."
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
                f"(as seen through connection {self.conn_id!r})",
                parameter="output_location",
            )

    # -- sign -------------------------------------------------------------------------------------

    def sign_url(self, method: Literal["PUT", "GET"], key: str, seconds: int, uri: str) -> str:
        from google.auth.exceptions import GoogleAuthError
        from requests import RequestException

        blob = self.client.bucket(self.bucket).blob(key)
        try:
            url = blob.generate_signed_url(
                version="v4",
                method=method,
                expiration=timedelta(seconds=seconds),
                api_access_endpoint=self.api_endpoint,
                **self._signer_kwargs(uri),
            )
        except (GoogleAuthError, RequestException) as err:
            raise RunwareUploadError(
                f"Could not sign a {method} URL for {uri}: {type(err).__name__}: {err}"
            ) from err
        if not isinstance(url, str) or not url:
            raise RunwareUploadError(f"Could not sign a {method} URL for {uri}: got {type(url).__name__}")
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
            f"storage_conn_id {self.conn_id!r} cannot sign {uri}. {CANNOT_SIGN_HINT}",
            parameter="storage_conn_id",
        )

    # -- verify -----------------------------------------------------------------------------------

    def object_size(self, key: str, uri: str) -> int | None:
        """The object's size from its metadata; ``None`` when absent. Failing checks are upload errors."""
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError
        from requests import RequestException

        try:
            blob = self.client.bucket(self.bucket).get_blob(key, timeout=30)
            return None if blob is None else int(blob.size or 0)
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
