"""Our presigned URLs against fronts that check signatures the way S3 and GCS do.

moto and the GCS emulator accept anything, so each store sits behind a verifying front
(``signature_fronts``): a URL we sign must pass it and land the bytes; a tampered signature, another
object, another method, an expired URL or a wrong key must get 403 and leave the store untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from gcs_fixtures import ServiceAccountKey
from signature_fronts import (
    S3_FRONT_SECRET_KEY,
    VerifyingFront,
    goog4_signature_ok,
    sigv4_query_signature_ok,
)
from storage_checks import gcs_reader, runware_put, s3_reader

from airflow_provider_runware.storage import OutputLocation, UploadTarget, parse_output_location

pytestmark = pytest.mark.integration

IMAGE = bytes(range(256)) * 16
OBJECT = "campaign/img 0.jpg"
FIVE_MINUTES = timedelta(minutes=5)


@dataclass
class Store:
    """One store behind its front: how to presign there and how to read what landed."""

    name: str
    front: VerifyingFront
    location: OutputLocation
    wrong_key_location: OutputLocation
    read: Callable[[str], bytes | None]
    signature_param: str
    signature_ok: Callable[[str, str], bool]

    def key_of(self, target: UploadTarget) -> str:
        return target.uri.split("://", 1)[1].partition("/")[2]


def _s3_store(request: pytest.FixtureRequest) -> Store:
    bucket = request.getfixturevalue("s3_bucket")
    client = request.getfixturevalue("s3_client")

    return Store(
        name="s3",
        front=request.getfixturevalue("s3_front"),
        location=parse_output_location(f"s3://{bucket}/out/", request.getfixturevalue("aws_front_conn")),
        wrong_key_location=parse_output_location(
            f"s3://{bucket}/out/", request.getfixturevalue("aws_front_conn_wrong_secret")
        ),
        read=s3_reader(client, bucket),
        signature_param="X-Amz-Signature",
        signature_ok=lambda url, method: sigv4_query_signature_ok(url, method, S3_FRONT_SECRET_KEY),
    )


def _gcs_store(request: pytest.FixtureRequest) -> Store:
    bucket = request.getfixturevalue("gcs_bucket")
    client = request.getfixturevalue("gcs_client")
    key: ServiceAccountKey = request.getfixturevalue("gcs_key")

    return Store(
        name="gcs",
        front=request.getfixturevalue("gcs_front"),
        location=parse_output_location(f"gs://{bucket}/out/", request.getfixturevalue("gcs_conn")),
        wrong_key_location=parse_output_location(
            f"gs://{bucket}/out/", request.getfixturevalue("gcs_conn_wrong_key")
        ),
        read=gcs_reader(client, bucket),
        signature_param="X-Goog-Signature",
        signature_ok=lambda url, method: goog4_signature_ok(url, method, key.public_key),
    )


@pytest.fixture(params=["s3", "gcs"])
def store(request: pytest.FixtureRequest) -> Store:
    return _s3_store(request) if request.param == "s3" else _gcs_store(request)


def put(url: str, method: str = "PUT") -> httpx.Response:
    return runware_put(url, IMAGE, method)


def with_query_value(url: str, name: str, change: Callable[[str], str]) -> str:
    parts = urlsplit(url)
    pairs = [pair.partition("=") for pair in parts.query.split("&")]
    query = "&".join(f"{k}={change(v) if k == name else v}" for k, _, v in pairs)
    return urlunsplit(parts._replace(query=query))


def with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


def flip_last_hex_digit(value: str) -> str:
    return value[:-1] + ("0" if value[-1] != "0" else "1")


def assert_refused(store: Store, response: httpx.Response, reason: str, *keys: str) -> None:
    assert response.status_code == 403, response.text
    assert store.front.refused()[-1].verdict == reason
    for key in keys:
        assert store.read(key) is None, f"{key} must not exist after a refused upload"


def test_good_url_is_accepted_and_lands_the_bytes(store: Store) -> None:
    target = store.location.target_for(OBJECT, FIVE_MINUTES)

    assert urlsplit(target.upload_url).netloc == urlsplit(store.front.url).netloc
    assert store.signature_ok(target.upload_url, "PUT")
    response = put(target.upload_url)

    assert response.status_code == 200, response.text
    assert store.read(store.key_of(target)) == IMAGE
    assert [r.verdict for r in store.front.signed()] == ["accepted"]
    assert store.location.verify(UploadTarget(target.uri, upload_url="")) == len(IMAGE)


def test_tampered_signature_is_refused(store: Store) -> None:
    target = store.location.target_for(OBJECT, FIVE_MINUTES)
    tampered = with_query_value(target.upload_url, store.signature_param, flip_last_hex_digit)

    assert_refused(store, put(tampered), "signature mismatch", store.key_of(target))


def test_url_for_one_object_cannot_write_another(store: Store) -> None:
    target = store.location.target_for(OBJECT, FIVE_MINUTES)
    other_key = "out/campaign/someone-else.jpg"
    bucket = target.uri.split("://", 1)[1].partition("/")[0]
    elsewhere = with_path(target.upload_url, f"/{bucket}/{other_key}")

    assert_refused(store, put(elsewhere), "signature mismatch", other_key, store.key_of(target))


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_url_for_put_is_refused_for_another_method(store: Store, method: str) -> None:
    target = store.location.target_for(OBJECT, FIVE_MINUTES)

    assert_refused(store, put(target.upload_url, method=method), "signature mismatch", store.key_of(target))


def test_expired_url_is_refused(store: Store) -> None:
    target = store.location.target_for(OBJECT, timedelta(seconds=1))
    time.sleep(1.2)  # signing time is truncated to the second, so 1.2 s is always past the expiry

    assert_refused(store, put(target.upload_url), "expired", store.key_of(target))


def test_url_signed_with_a_wrong_key_is_refused(store: Store) -> None:
    target = store.wrong_key_location.target_for(OBJECT, FIVE_MINUTES)

    assert not store.signature_ok(target.upload_url, "PUT")
    assert_refused(store, put(target.upload_url), "signature mismatch", store.key_of(target))


def test_unsigned_put_is_refused(store: Store) -> None:
    target = store.location.target_for(OBJECT, FIVE_MINUTES)
    unsigned = urlunsplit(urlsplit(target.upload_url)._replace(query=""))

    assert_refused(store, put(unsigned), "unsigned PUT", store.key_of(target))


def test_a_signed_header_the_uploader_does_not_send_is_refused(store: Store) -> None:
    """Why Content-Type is never signed: Runware would not send it back, and the cloud would refuse."""
    target = store.location.target_for(OBJECT, FIVE_MINUTES)
    param = "X-Amz-SignedHeaders" if store.name == "s3" else "X-Goog-SignedHeaders"
    signing_content_type = with_query_value(target.upload_url, param, lambda _: "content-type%3Bhost")

    response = put(signing_content_type)

    assert_refused(store, response, "signed header 'content-type' missing from the request")
