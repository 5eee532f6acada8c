"""output_location parsing: scheme dispatch, https passthrough, and refusals that name value and rule.

No network: S3 locations are only constructed here (their hook and client are built lazily).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from airflow_provider_runware.exceptions import RunwareValidationError
from airflow_provider_runware.storage import (
    HttpOutputLocation,
    S3OutputLocation,
    UploadTarget,
    parse_output_location,
)

TEN_MINUTES = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("value", "conn_id", "bucket", "prefix", "expected_conn"),
    [
        ("s3://bucket-a/campaign/", None, "bucket-a", "campaign/", "aws_default"),
        ("s3://bucket-a/campaign", "aws_team", "bucket-a", "campaign/", "aws_team"),
        ("S3://bucket-a", None, "bucket-a", "", "aws_default"),
        ("  s3://bucket-a/a/b/\n", None, "bucket-a", "a/b/", "aws_default"),
        ("s3://bucket-a/odd#name?/", None, "bucket-a", "odd#name?/", "aws_default"),
    ],
)
def test_s3_uris_become_s3_locations(
    value: str, conn_id: str | None, bucket: str, prefix: str, expected_conn: str
) -> None:
    location = parse_output_location(value, conn_id)

    assert isinstance(location, S3OutputLocation)
    assert (location.bucket, location.prefix, location.conn_id) == (bucket, prefix, expected_conn)
    assert location.scheme == "s3"
    assert location.supports_many
    assert location.max_expiry == timedelta(days=7)


def test_fixed_https_url_passes_through_and_holds_one_image() -> None:
    url = "https://uploads.example.com/put/one.png?token=abc&sig=SECRETSIGNATURE"
    location = parse_output_location(url, None)

    target = location.target_for("campaign/img_0.png", TEN_MINUTES)

    assert isinstance(location, HttpOutputLocation)
    assert not location.supports_many
    assert target.upload_url == url
    assert target.uri == "https://uploads.example.com/put/one.png"
    assert "SECRETSIGNATURE" not in repr(target) + str(target) + repr(location)


def test_https_url_with_placeholder_gives_each_object_its_own_url() -> None:
    location = parse_output_location("https://up.example.com/in/{object_name}?sig=SECRETSIGNATURE", None)

    first = location.target_for("campaign/img 0.png", TEN_MINUTES)
    second = location.target_for("campaign/img_1.png", TEN_MINUTES)

    assert location.supports_many
    assert first.upload_url == "https://up.example.com/in/campaign/img%200.png?sig=SECRETSIGNATURE"
    assert second.upload_url == "https://up.example.com/in/campaign/img_1.png?sig=SECRETSIGNATURE"
    assert first.uri == "https://up.example.com/in/campaign/img%200.png"


def test_a_users_https_upload_url_is_masked_whole_and_by_every_query_value() -> None:
    """The user's URL may carry its secret anywhere (a token in the path, a parameter of any name):
    unlike a bucket's signed URL, it is registered with the masker whole."""
    from airflow_provider_runware.compat import redact

    location = parse_output_location(
        "https://up.example.com/pathtoken7c1e/{object_name}?key=querykey9b2", None
    )
    target = location.target_for("campaign/img_0.png", TEN_MINUTES)

    shown = str(
        redact(f"PUT {target.upload_url} failed; key querykey9b2; path {urlsplit(target.upload_url).path}")
    )
    assert "querykey9b2" not in shown
    assert target.upload_url not in shown


def test_uri_for_matches_target_uri_without_presigning() -> None:
    s3 = parse_output_location("s3://bucket-a/out", "aws_never_looked_up")
    https = parse_output_location("https://up.example.com/in/{object_name}?sig=SECRETSIGNATURE", None)

    assert s3.uri_for("c/img 0.png") == "s3://bucket-a/out/c/img 0.png"
    assert https.uri_for("c/img 0.png") == https.target_for("c/img 0.png", TEN_MINUTES).uri
    assert https.uri_for("c/img 0.png") == "https://up.example.com/in/c/img%200.png"


def test_uri_drops_a_password_in_the_url() -> None:
    location = parse_output_location("https://user:hunter2secret@up.example.com/x.png", None)
    target = location.target_for("x.png", TEN_MINUTES)

    assert target.uri == "https://user@up.example.com/x.png"
    assert "hunter2secret" not in target.uri + repr(location)


@pytest.mark.parametrize(
    "value",
    [
        "http://127.0.0.1:9000/upload/{object_name}",
        "http://localhost/upload.png",
        "http://[::1]:8080/upload.png",
        "http://127.0.0.2/upload.png",
    ],
)
def test_plain_http_is_allowed_to_loopback(value: str) -> None:
    location = parse_output_location(value, None)
    assert isinstance(location, HttpOutputLocation)
    location.validate()


@pytest.mark.parametrize(
    "value",
    [
        "http://example.com/upload.png",
        "http://10.0.0.1/upload.png",
        "http://localhost.example.com/upload.png",
        "http://0.0.0.0/upload.png",
    ],
)
def test_plain_http_elsewhere_is_refused(value: str) -> None:
    with pytest.raises(RunwareValidationError) as raised:
        parse_output_location(value, None)

    message = str(raised.value)
    assert value in message
    assert "must be encrypted" in message
    assert "https://" in message
    assert raised.value.parameter == "output_location"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("az://container/x/", "scheme 'az' is not supported"),
        ("ftp://files.example.com/x/", "scheme 'ftp' is not supported"),
        ("bucket/prefix/", "has no URI scheme"),
        ("", "has no URI scheme"),
    ],
)
def test_other_schemes_are_refused_naming_value_and_supported_schemes(value: str, rule: str) -> None:
    with pytest.raises(RunwareValidationError) as raised:
        parse_output_location(value, "some_conn")

    message = str(raised.value)
    assert repr(value) in message
    assert rule in message
    assert "s3://bucket/prefix/" in message
    assert "https://" in message
    assert raised.value.parameter == "output_location"


def test_refusal_does_not_echo_a_query_string() -> None:
    with pytest.raises(RunwareValidationError) as raised:
        parse_output_location("ftp://files.example.com/x?sig=SECRETSIGNATURE", None)
    assert "SECRETSIGNATURE" not in str(raised.value)
    assert "ftp://files.example.com/x" in str(raised.value)


def test_placeholder_in_the_host_is_refused() -> None:
    with pytest.raises(RunwareValidationError, match="no fixed host"):
        parse_output_location("https://{object_name}.example.com/x", None)


@pytest.mark.parametrize("object_name", ["", "/absolute.png"])
def test_object_names_must_be_relative(object_name: str) -> None:
    location = parse_output_location("https://up.example.com/{object_name}", None)
    with pytest.raises(RunwareValidationError, match="relative path") as raised:
        location.target_for(object_name, TEN_MINUTES)
    assert raised.value.parameter == "object_name"


def test_https_verify_cannot_check_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    location = parse_output_location("https://up.example.com/{object_name}?sig=SECRETSIGNATURE", None)
    target = location.target_for("a.png", TEN_MINUTES)

    with caplog.at_level(logging.INFO, logger="airflow_provider_runware.storage"):
        assert location.verify(target) == -1

    assert "https://up.example.com/a.png" in caplog.text
    assert "not verified" in caplog.text
    assert "SECRETSIGNATURE" not in caplog.text


def test_upload_target_repr_hides_the_url() -> None:
    target = UploadTarget(uri="s3://b/k.png", upload_url="https://b.s3/k.png?X-Amz-Signature=SECRETSIGNATURE")
    assert repr(target) == "UploadTarget(uri='s3://b/k.png')"
    assert str(target) == "s3://b/k.png"


def test_importing_storage_does_not_import_cloud_sdks() -> None:
    code = (
        "import sys, airflow_provider_runware.storage\n"
        "heavy = ('boto3', 'botocore', 'airflow.providers.amazon.aws.hooks.s3')\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
