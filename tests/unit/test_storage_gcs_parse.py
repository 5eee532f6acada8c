"""gs:// output locations without any server: parsing, names, refusals, and which signer is chosen.

Nothing here builds a GCSHook (that needs a connection) or talks to a network: validation steps that
come before the connection lookup, and the signer choice with stand-in credentials, are checked alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_runware.exceptions import RunwareValidationError
from airflow_provider_runware.storage import GcsOutputLocation, parse_output_location
from airflow_provider_runware.storage.gcs import signing_mode

TEN_MINUTES = timedelta(minutes=10)


def gcs(value: str, conn_id: str | None = None) -> GcsOutputLocation:
    location = parse_output_location(value, conn_id)
    assert isinstance(location, GcsOutputLocation)
    return location


@pytest.mark.parametrize(
    ("value", "conn_id", "bucket", "prefix", "expected_conn"),
    [
        ("gs://bucket-a/campaign/", None, "bucket-a", "campaign/", "google_cloud_default"),
        ("gs://bucket-a/campaign", "gcp_team", "bucket-a", "campaign/", "gcp_team"),
        ("GS://bucket-a", None, "bucket-a", "", "google_cloud_default"),
        ("gcs://bucket-a/a/b/", "gcp_team", "bucket-a", "a/b/", "gcp_team"),
        ("  gs://bucket-a/a/b/\n", None, "bucket-a", "a/b/", "google_cloud_default"),
        ("gs://bucket-a//lead/slash", None, "bucket-a", "lead/slash/", "google_cloud_default"),
        ("gs://bucket-a/odd#name?/", None, "bucket-a", "odd#name?/", "google_cloud_default"),
    ],
)
def test_gs_uris_become_gcs_locations(
    value: str, conn_id: str | None, bucket: str, prefix: str, expected_conn: str
) -> None:
    location = gcs(value, conn_id)

    assert (location.bucket, location.prefix, location.conn_id) == (bucket, prefix, expected_conn)
    assert location.scheme == "gs"
    assert location.supports_many
    assert location.max_expiry == timedelta(days=7)


def test_display_and_object_uris_are_canonical_gs_even_for_gcs_scheme() -> None:
    location = gcs("gcs://bucket-a/out", "gcp_never_looked_up")

    assert location.display_uri == "gs://bucket-a/out/"
    assert repr(location) == "GcsOutputLocation('gs://bucket-a/out/')"
    assert location.uri_for("c/img 0.png") == "gs://bucket-a/out/c/img 0.png"
    assert gcs("gs://bucket-a").uri_for("img.png") == "gs://bucket-a/img.png"


def test_parsing_builds_no_hook() -> None:
    location = gcs("gs://bucket-a/out/", "gcp_connection_that_does_not_exist")
    assert "hook" not in vars(location)
    assert "client" not in vars(location)


@pytest.mark.parametrize("value", ["gs:///prefix/", "gs://", "gcs:///x"])
def test_missing_bucket_is_refused_before_any_lookup(value: str) -> None:
    with pytest.raises(RunwareValidationError, match="no bucket name") as raised:
        gcs(value, "gcp_connection_that_does_not_exist").validate()
    assert raised.value.parameter == "output_location"
    assert "gs://bucket/prefix/" in str(raised.value)


@pytest.mark.parametrize(
    "bucket", ["ab", "Bucket-Upper", "-leading-dash", "trailing-dash-", "has space", "a" * 223]
)
def test_invalid_bucket_names_are_refused(bucket: str) -> None:
    with pytest.raises(RunwareValidationError, match="not a valid bucket name") as raised:
        gcs(f"gs://{bucket}/out/", "gcp_connection_that_does_not_exist").validate()
    assert raised.value.parameter == "output_location"


@pytest.mark.parametrize("bucket", ["abc", "my_bucket-1", "assets.example.com", "a" * 63])
def test_valid_bucket_names_pass_the_name_check(bucket: str) -> None:
    gcs(f"gs://{bucket}/out/").check_bucket_name()


@pytest.mark.parametrize(
    ("expires_in", "rule"),
    [(timedelta(days=7, seconds=1), "exceeds the maximum"), (timedelta(0), "at least 1 second")],
)
def test_expiry_outside_what_gcs_accepts_is_refused_before_signing(expires_in: timedelta, rule: str) -> None:
    location = gcs("gs://bucket-a/out/", "gcp_connection_that_does_not_exist")

    with pytest.raises(RunwareValidationError, match=rule) as raised:
        location.target_for("img.png", expires_in)
    assert raised.value.parameter == "expires_in"


@pytest.mark.parametrize("object_name", ["", "/absolute.png", "x" * 1025])
def test_bad_object_names_are_refused(object_name: str) -> None:
    with pytest.raises(RunwareValidationError) as raised:
        gcs("gs://bucket-a/out/").uri_for(object_name)
    assert raised.value.parameter == "object_name"


def test_unsupported_scheme_message_lists_gs() -> None:
    with pytest.raises(RunwareValidationError) as raised:
        parse_output_location("ftp://files.example.com/x/", None)
    assert "gs://bucket/prefix/" in str(raised.value)


# -- which signer ------------------------------------------------------------------------------------


class MetadataServerCredentials:
    """Stands in for GCE/GKE credentials: no private key, but a service account and a token."""

    def __init__(self) -> None:
        self.service_account_email = "default"
        self.token: str | None = None
        self.valid = False
        self.refreshes = 0

    def refresh(self, request: Any) -> None:
        self.refreshes += 1
        self.service_account_email = "composer@project.iam.gserviceaccount.com"
        self.token = "ya29.metadata-token"
        self.valid = True


def test_service_account_keys_and_impersonation_sign_themselves() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.auth import impersonated_credentials
    from google.auth.credentials import Signing
    from google.oauth2 import service_account

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = service_account.Credentials.from_service_account_info(
        {
            "private_key": pem.decode(),
            "client_email": "svc@project.iam.gserviceaccount.com",
            "token_uri": "http://127.0.0.1:9/token",
        }
    )

    assert signing_mode(key) == "key"
    assert issubclass(impersonated_credentials.Credentials, Signing)  # signs through IAM by itself


def test_metadata_server_credentials_sign_through_iam() -> None:
    from google.auth import compute_engine

    assert signing_mode(compute_engine.Credentials()) == "iam"
    assert signing_mode(MetadataServerCredentials()) == "iam"


def test_user_and_anonymous_credentials_cannot_sign() -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.oauth2.credentials import Credentials as UserCredentials

    assert signing_mode(UserCredentials(token="user-token")) is None
    assert signing_mode(AnonymousCredentials()) is None


def test_iam_signing_passes_email_and_a_fresh_token() -> None:
    location = gcs("gs://bucket-a/out/", "gcp_never_looked_up")
    credentials = MetadataServerCredentials()
    location.credentials = credentials  # overrides the cached property: no hook, no connection

    first = location._signer_kwargs("gs://bucket-a/out/x.png")
    second = location._signer_kwargs("gs://bucket-a/out/y.png")

    assert first == {
        "credentials": credentials,
        "service_account_email": "composer@project.iam.gserviceaccount.com",
        "access_token": "ya29.metadata-token",
    }
    assert second == first
    assert credentials.refreshes == 1, "a valid token is reused"


def test_signing_with_user_credentials_is_refused_with_a_hint() -> None:
    from google.oauth2.credentials import Credentials as UserCredentials

    location = gcs("gs://bucket-a/out/", "gcp_user")
    location.credentials = UserCredentials(token="user-token")

    with pytest.raises(RunwareValidationError, match="cannot sign") as raised:
        location._signer_kwargs("gs://bucket-a/out/x.png")
    assert raised.value.parameter == "storage_conn_id"
    assert "impersonation_chain" in str(raised.value)
    assert "user-token" not in str(raised.value)
