"""S3 output locations against a real moto server, uploading the way Runware does: one bare PUT of bytes.

moto accepts any signature, so the SigV4 signature is checked here by an independent stdlib
implementation of the query-string signing rules (``signature_fronts``, which also serves it over HTTP).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from signature_fronts import sigv4_query_signature_ok
from storage_checks import (
    assert_masker_hides_the_signature,
    assert_masker_learns_credentials_not_urls,
    assert_seven_days_is_the_limit,
    assert_target_hides_the_signature,
    assert_validate_refuses,
    assert_verify_of_missing_object_names_uri_not_signature,
    query,
    runware_put,
)

from airflow_provider_runware.exceptions import RunwareUploadError, RunwareValidationError
from airflow_provider_runware.storage import (
    S3OutputLocation,
    UploadTarget,
    parse_output_location,
)

pytestmark = pytest.mark.integration

OBJECT = "campaign/2026-11-25/img_0_ab12cd34.jpg"
IMAGE = bytes(range(256)) * 64
SECRET_KEY = "testing"


def s3_target(bucket: str, conn_id: str, object_name: str = OBJECT, minutes: int = 15) -> UploadTarget:
    location = parse_output_location(f"s3://{bucket}/out/", conn_id)
    return location.target_for(object_name, timedelta(minutes=minutes))


def test_presigned_url_is_sigv4_signing_only_host_with_requested_expiry(
    s3_bucket: str, aws_conn: str
) -> None:
    target = s3_target(s3_bucket, aws_conn, minutes=25)

    params = query(target.upload_url)
    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert params["X-Amz-SignedHeaders"] == "host"
    assert params["X-Amz-Expires"] == "1500"
    assert "ContentType" not in target.upload_url
    assert "content-type" not in target.upload_url.lower()
    assert sigv4_query_signature_ok(target.upload_url, "PUT", SECRET_KEY)
    # The checker itself must notice a different method or key.
    assert not sigv4_query_signature_ok(target.upload_url, "GET", SECRET_KEY)
    assert not sigv4_query_signature_ok(target.upload_url, "PUT", "other-secret")


def test_sigv4_even_when_the_connection_asks_for_sigv2(
    s3_bucket: str, aws_conn: str, moto_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = {
        "conn_type": "aws",
        "login": SECRET_KEY,
        "password": SECRET_KEY,
        "extra": {
            "endpoint_url": moto_server.endpoint_url,
            "region_name": "us-east-1",
            "config_kwargs": {"signature_version": "s3", "s3": {"addressing_style": "path"}},
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_RUNWARE_SIGV2", json.dumps(connection))

    target = s3_target(s3_bucket, "aws_runware_sigv2")

    assert query(target.upload_url)["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert urlsplit(target.upload_url).path.startswith(f"/{s3_bucket}/")
    assert runware_put(target.upload_url, IMAGE).status_code == 200


def test_bare_put_lands_identical_bytes_and_verify_returns_size(
    s3_bucket: str, aws_conn: str, s3_client: Any
) -> None:
    target = s3_target(s3_bucket, aws_conn)

    response = runware_put(target.upload_url, IMAGE)

    assert response.status_code == 200
    stored = s3_client.get_object(Bucket=s3_bucket, Key=f"out/{OBJECT}")["Body"].read()
    assert stored == IMAGE
    assert target.uri == f"s3://{s3_bucket}/out/{OBJECT}"
    location = parse_output_location(f"s3://{s3_bucket}/out/", aws_conn)
    assert location.verify(target) == len(IMAGE)


def test_verify_of_missing_object_names_uri_not_signature(s3_bucket: str, aws_conn: str) -> None:
    location = parse_output_location(f"s3://{s3_bucket}/out/", aws_conn)
    expected_uri = f"s3://{s3_bucket}/out/never/uploaded.png"
    assert_verify_of_missing_object_names_uri_not_signature(location, expected_uri, "X-Amz")


def test_verify_of_empty_object_fails(s3_bucket: str, aws_conn: str) -> None:
    location = parse_output_location(f"s3://{s3_bucket}/out/", aws_conn)
    target = location.target_for("empty.png", timedelta(minutes=5))
    assert runware_put(target.upload_url, b"").status_code == 200

    with pytest.raises(RunwareUploadError, match="0 bytes") as raised:
        location.verify(target)
    assert target.uri in str(raised.value)


def test_target_repr_and_str_hide_the_signature(s3_bucket: str, aws_conn: str) -> None:
    assert_target_hides_the_signature(s3_target(s3_bucket, aws_conn), "X-Amz")


def test_presigned_url_and_signature_are_registered_with_the_masker(s3_bucket: str, aws_conn: str) -> None:
    from airflow_provider_runware.compat import redact

    assert_masker_hides_the_signature(s3_target(s3_bucket, aws_conn, object_name="masked.png"), "X-Amz")
    assert "unregistered-value-12345" in str(redact("unregistered-value-12345"))


def test_a_chunk_of_presigned_urls_registers_credentials_not_urls(s3_bucket: str, aws_conn: str) -> None:
    assert_masker_learns_credentials_not_urls(
        parse_output_location(f"s3://{s3_bucket}/out/", aws_conn), "X-Amz-Signature"
    )


@pytest.mark.parametrize(
    ("prefix", "expected_key_prefix"),
    [
        ("out/", "out/"),
        ("out", "out/"),
        ("a/b/c/", "a/b/c/"),
        ("a/b/c", "a/b/c/"),
        ("", ""),
    ],
)
def test_object_names_join_under_the_prefix(
    s3_bucket: str, aws_conn: str, s3_client: Any, prefix: str, expected_key_prefix: str
) -> None:
    location = parse_output_location(f"s3://{s3_bucket}/{prefix}", aws_conn)
    target = location.target_for("x/img.png", timedelta(minutes=5))

    assert target.uri == f"s3://{s3_bucket}/{expected_key_prefix}x/img.png"
    assert location.uri_for("x/img.png") == target.uri
    assert runware_put(target.upload_url, b"png").status_code == 200
    keys = [item["Key"] for item in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert keys == [f"{expected_key_prefix}x/img.png"]


def test_validate_accepts_a_good_location(s3_bucket: str, aws_conn: str) -> None:
    location = parse_output_location(f"s3://{s3_bucket}/out/", aws_conn)
    assert isinstance(location, S3OutputLocation)
    location.validate()


def test_validate_refuses_a_missing_bucket_name(aws_conn: str) -> None:
    location = parse_output_location("s3:///x", aws_conn)
    assert_validate_refuses(location, "no bucket name", "output_location", "s3:///x")


def test_validate_refuses_a_connection_that_does_not_exist(s3_bucket: str) -> None:
    location = parse_output_location(f"s3://{s3_bucket}/out/", "aws_no_such_connection")
    assert_validate_refuses(location, "does not exist", "storage_conn_id", "aws_no_such_connection")


def test_validate_refuses_a_bucket_that_does_not_exist(aws_conn: str) -> None:
    location = parse_output_location("s3://runware-test-no-such-bucket/out/", aws_conn)
    assert_validate_refuses(location, "does not exist", "output_location", "runware-test-no-such-bucket")


def test_verify_works_from_a_target_rebuilt_without_the_url(s3_bucket: str, aws_conn: str) -> None:
    """A deferred task resumes on a fresh instance and must not have stored the presigned URL."""
    target = s3_target(s3_bucket, aws_conn)
    assert runware_put(target.upload_url, IMAGE).status_code == 200

    fresh = parse_output_location(f"s3://{s3_bucket}/out/", aws_conn)
    assert fresh.verify(UploadTarget(uri=target.uri, upload_url="")) == len(IMAGE)


def test_expiry_of_seven_days_is_the_limit(s3_bucket: str, aws_conn: str) -> None:
    location = parse_output_location(f"s3://{s3_bucket}/out/", aws_conn)

    assert_seven_days_is_the_limit(location, "X-Amz")
    with pytest.raises(RunwareValidationError, match="at least 1 second"):
        location.target_for("dead.png", timedelta(0))
