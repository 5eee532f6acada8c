"""Image inputs in buckets, against moto (behind the SigV4 front), the GCS emulator (behind the GOOG4 front)
and Azurite (which checks SAS itself).

What Runware would do with a wire value is a plain GET from another process: that is what these tests do
(a fresh Python process with bare httpx). A tampered or expired URL must be refused, a read URL must not
write, and a missing or empty input must fail before anything is submitted, naming the parameter and the
URI but never a signature.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest
from azure_fixtures import AZURITE_ACCOUNT, AZURITE_KEY, Azurite
from azure_fixtures import azure_container_fixture as azure_container_fixture
from azure_fixtures import azurite_fixture as azurite_fixture
from azure_fixtures import blob_service_fixture as blob_service_fixture
from azure_fixtures import wasb_conn_fixture as wasb_conn_fixture
from signature_fronts import VerifyingFront

from airflow_provider_runware.exceptions import RunwareInputNotFoundError, RunwareValidationError
from airflow_provider_runware.storage.inputs import InputResolver, parse_image_input

pytestmark = pytest.mark.integration

IMAGE = bytes(range(256)) * 32
KEY = "catalogue/shoe 1.png"
TEN_MINUTES = timedelta(minutes=10)
SIGNATURE_PARAMS = ("X-Amz-Signature", "X-Goog-Signature", "sig")


@dataclass
class InputStore:
    """One store holding input images: how to put an object there and how users write its URI."""

    name: str
    conn_id: str
    output_location: str
    uri_of: Callable[[str], str]
    put: Callable[[str, bytes], None]
    front: VerifyingFront | None
    signature_param: str


def _s3(request: pytest.FixtureRequest) -> InputStore:
    bucket = request.getfixturevalue("s3_bucket")
    client = request.getfixturevalue("s3_client")
    return InputStore(
        name="s3",
        conn_id=request.getfixturevalue("aws_front_conn"),
        output_location=f"s3://{bucket}/out/",
        uri_of=lambda key: f"s3://{bucket}/{key}",
        put=lambda key, data: client.put_object(Bucket=bucket, Key=key, Body=data),
        front=request.getfixturevalue("s3_front"),
        signature_param="X-Amz-Signature",
    )


def _gcs(request: pytest.FixtureRequest) -> InputStore:
    bucket = request.getfixturevalue("gcs_bucket")
    client = request.getfixturevalue("gcs_client")
    return InputStore(
        name="gcs",
        conn_id=request.getfixturevalue("gcs_conn"),
        output_location=f"gs://{bucket}/out/",
        uri_of=lambda key: f"gs://{bucket}/{key}",
        put=lambda key, data: client.bucket(bucket).blob(key).upload_from_string(data),
        front=request.getfixturevalue("gcs_front"),
        signature_param="X-Goog-Signature",
    )


def _azure(request: pytest.FixtureRequest) -> InputStore:
    azurite: Azurite = request.getfixturevalue("azurite")
    container = request.getfixturevalue("azure_container")
    service = request.getfixturevalue("blob_service")
    return InputStore(
        name="azure",
        conn_id=request.getfixturevalue("wasb_conn"),
        output_location=azurite.location(container),
        uri_of=lambda key: f"wasbs://{container}@{AZURITE_ACCOUNT}.blob.core.windows.net/{key}",
        put=lambda key, data: service.get_blob_client(container, key).upload_blob(data, overwrite=True),
        front=None,
        signature_param="sig",
    )


@pytest.fixture(params=["s3", "gcs", "azure"])
def store(request: pytest.FixtureRequest) -> InputStore:
    return {"s3": _s3, "gcs": _gcs, "azure": _azure}[request.param](request)


@pytest.fixture(params=["s3", "gcs"])
def fronted_store(request: pytest.FixtureRequest) -> InputStore:
    """The stores whose signatures a front checks (Azurite checks its own; see the Azure test)."""
    return {"s3": _s3, "gcs": _gcs}[request.param](request)


def fetch_elsewhere(url: str) -> tuple[int, bytes]:
    """GET ``url`` from a fresh Python process with bare httpx (no SDK, no credentials): as Runware would."""
    code = (
        "import sys, httpx\n"
        "r = httpx.get(sys.stdin.read().strip(), timeout=20, trust_env=False)\n"
        "sys.stdout.write(str(r.status_code) + '\\n' + r.content.hex())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], input=url, capture_output=True, text=True, check=True)
    status, _, body = done.stdout.partition("\n")
    return int(status), bytes.fromhex(body)


def with_query_value(url: str, name: str, change: Callable[[str], str]) -> str:
    parts = urlsplit(url)
    pairs = [pair.partition("=") for pair in parts.query.split("&")]
    query = "&".join(f"{k}={change(v) if k == name else v}" for k, _, v in pairs)
    return urlunsplit(parts._replace(query=query))


def flip(value: str) -> str:
    """Change the signature's first character (hex for S3/GCS, base64 for Azure) to another valid one."""
    return ("b" if value[0] != "b" else "c") + value[1:]


def resolver_for(store: InputStore) -> InputResolver:
    return InputResolver(store.conn_id, store.output_location)


# -- the GET URL works, and only as signed ------------------------------------------------------------


def test_presigned_get_fetches_the_image_from_another_process(store: InputStore) -> None:
    store.put(KEY, IMAGE)
    image_input = parse_image_input(store.uri_of(KEY), "seed_image")
    resolver = resolver_for(store)

    resolver.check(image_input)
    url = resolver.wire_value(image_input, TEN_MINUTES)

    assert store.signature_param in parse_qs(urlsplit(url).query)
    assert fetch_elsewhere(url) == (200, IMAGE)
    if store.front is not None:
        assert [r.verdict for r in store.front.signed()] == ["accepted"]
        assert store.front.signed()[0].method == "GET"


def test_tampered_get_url_is_refused(store: InputStore) -> None:
    store.put(KEY, IMAGE)
    url = resolver_for(store).wire_value(parse_image_input(store.uri_of(KEY), "seed_image"), TEN_MINUTES)

    status, body = fetch_elsewhere(with_query_value(url, store.signature_param, flip))

    assert status == 403
    assert IMAGE not in body
    if store.front is not None:
        assert store.front.refused()[-1].verdict == "signature mismatch"


def test_get_url_cannot_read_another_object(store: InputStore) -> None:
    store.put(KEY, IMAGE)
    store.put("catalogue/secret.png", b"someone else's image")
    url = resolver_for(store).wire_value(parse_image_input(store.uri_of(KEY), "seed_image"), TEN_MINUTES)

    status, body = fetch_elsewhere(
        url.replace("shoe%201.png", "secret.png").replace("shoe 1.png", "secret.png")
    )

    assert status == 403
    assert b"someone else" not in body


def test_get_url_cannot_write(store: InputStore) -> None:
    store.put(KEY, IMAGE)
    url = resolver_for(store).wire_value(parse_image_input(store.uri_of(KEY), "seed_image"), TEN_MINUTES)

    response = httpx.put(
        url, content=b"overwritten", headers={"x-ms-blob-type": "BlockBlob"}, trust_env=False
    )

    assert response.status_code == 403
    assert fetch_elsewhere(url) == (200, IMAGE)


def test_expired_get_url_is_refused_by_the_s3_and_gcs_fronts(
    fronted_store: InputStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fronts check expiry against their clock: one hour later, a ten-minute URL is dead."""
    store = fronted_store
    assert store.front is not None
    store.put(KEY, IMAGE)
    url = resolver_for(store).wire_value(parse_image_input(store.uri_of(KEY), "seed_image"), TEN_MINUTES)
    monkeypatch.setattr(store.front, "clock", lambda: datetime.now(UTC) + timedelta(hours=1))

    assert fetch_elsewhere(url)[0] == 403
    assert store.front.refused()[-1].verdict == "expired"


def test_azure_read_sas_expires_when_it_says_and_azurite_refuses_an_expired_one(
    azurite: Azurite, azure_container: str, wasb_conn: str, blob_service: Any
) -> None:
    from azure.storage.blob import generate_blob_sas

    blob_service.get_blob_client(azure_container, KEY).upload_blob(IMAGE)
    uri = f"wasbs://{azure_container}@{AZURITE_ACCOUNT}.blob.core.windows.net/{KEY}"
    before = datetime.now(UTC)
    url = InputResolver(wasb_conn, None).wire_value(parse_image_input(uri, "mask_image"), TEN_MINUTES)
    params = parse_qs(urlsplit(url).query)
    expiry = datetime.fromisoformat(params["se"][0].replace("Z", "+00:00"))

    assert params["sp"] == ["r"]
    assert before + TEN_MINUTES <= expiry + timedelta(seconds=1)
    assert expiry <= before + TEN_MINUTES + timedelta(minutes=2)
    # The same URL, signed correctly with the account key, but already expired: Azurite refuses it.
    expired_sas = generate_blob_sas(
        AZURITE_ACCOUNT,
        azure_container,
        KEY,
        account_key=AZURITE_KEY,
        permission="r",
        expiry=datetime.now(UTC) - timedelta(minutes=1),
    )
    assert fetch_elsewhere(f"{url.partition('?')[0]}?{expired_sas}")[0] == 403


# -- checks before anything is paid for ---------------------------------------------------------------


def test_missing_input_fails_naming_parameter_and_uri(store: InputStore) -> None:
    uri = store.uri_of("catalogue/never-uploaded.png")

    with pytest.raises(RunwareInputNotFoundError, match="does not exist") as raised:
        resolver_for(store).check(parse_image_input(uri, "reference_images[1]"))

    assert raised.value.parameter == "reference_images[1]"
    assert uri in str(raised.value)
    assert str(raised.value).startswith("reference_images[1]: ")


def test_empty_input_fails(store: InputStore) -> None:
    store.put("catalogue/empty.png", b"")

    with pytest.raises(RunwareInputNotFoundError, match=r"is empty \(0 bytes\)"):
        resolver_for(store).check(parse_image_input(store.uri_of("catalogue/empty.png"), "seed_image"))


def test_wire_value_of_a_missing_input_fails_without_signing_or_leaking(store: InputStore) -> None:
    with pytest.raises(RunwareInputNotFoundError) as raised:
        resolver_for(store).wire_value(parse_image_input(store.uri_of("nope.png"), "seed_image"), TEN_MINUTES)

    for secret_marker in (*SIGNATURE_PARAMS, "X-Amz", "X-Goog", "sv=", "se="):
        assert secret_marker not in str(raised.value)
    if store.front is not None:
        assert store.front.signed() == []


def test_one_input_shared_by_many_rows_is_checked_and_signed_once(store: InputStore) -> None:
    store.put(KEY, IMAGE)
    resolver = resolver_for(store)
    inputs = [
        parse_image_input(f"  {store.uri_of(KEY)} ", f"requests[{row}].seed_image") for row in range(100)
    ]

    urls = set()
    for image_input in inputs:
        resolver.check(image_input)
        urls.add(resolver.wire_value(image_input, TEN_MINUTES))
    urls.add(resolver.wire_value(inputs[0], TEN_MINUTES - timedelta(seconds=20)))  # same expiry bucket

    assert len(urls) == 1
    if store.front is not None:
        checks = [r for r in store.front.records if r.signature is None and "shoe" in r.path]
        assert len(checks) == 1


def test_a_longer_expiry_gets_a_new_url(store: InputStore) -> None:
    store.put(KEY, IMAGE)
    resolver = resolver_for(store)
    image_input = parse_image_input(store.uri_of(KEY), "seed_image")

    short = resolver.wire_value(image_input, TEN_MINUTES)
    long = resolver.wire_value(image_input, timedelta(hours=2))

    assert short != long
    assert fetch_elsewhere(long) == (200, IMAGE)


def test_presigned_get_url_is_registered_with_the_masker(store: InputStore) -> None:
    from airflow_provider_runware.compat import redact

    store.put(KEY, IMAGE)
    url = resolver_for(store).wire_value(parse_image_input(store.uri_of(KEY), "seed_image"), TEN_MINUTES)
    signature = urlsplit(url).query.split(f"{store.signature_param}=", 1)[1].split("&", 1)[0]

    assert signature not in str(redact(f"GET {url}"))


# -- the connection rule, for real --------------------------------------------------------------------


@pytest.fixture
def aws_default_on_moto(moto_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": moto_server.endpoint_url, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))


def test_input_in_another_cloud_than_the_output_reads_through_that_clouds_default_connection(
    s3_bucket: str, s3_client: Any, gcs_conn: str, gcs_bucket: str, aws_default_on_moto: None
) -> None:
    """Output in GCS with a GCS connection; the S3 input is read through aws_default (here: moto)."""
    s3_client.put_object(Bucket=s3_bucket, Key=KEY, Body=IMAGE)
    resolver = InputResolver(gcs_conn, f"gs://{gcs_bucket}/out/")
    image_input = parse_image_input(f"s3://{s3_bucket}/{KEY}", "seed_image")

    assert resolver.conn_id_for(image_input) == "aws_default"
    resolver.check(image_input)
    assert fetch_elsewhere(resolver.wire_value(image_input, TEN_MINUTES)) == (200, IMAGE)


def test_azure_input_read_with_a_wrong_key_fails_before_submission(
    azurite: Azurite, azure_container: str, blob_service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    blob_service.get_blob_client(azure_container, KEY).upload_blob(IMAGE)
    wrong_key = base64.b64encode(b"not the account key" * 3).decode()
    monkeypatch.setenv("AIRFLOW_CONN_WASB_INPUT_WRONG", json.dumps(azurite.connection(account_key=wrong_key)))
    uri = f"wasbs://{azure_container}@{AZURITE_ACCOUNT}.blob.core.windows.net/{KEY}"

    with pytest.raises(RunwareInputNotFoundError, match="could not be read") as raised:
        InputResolver("wasb_input_wrong", None).check(parse_image_input(uri, "seed_image"))

    assert uri in str(raised.value)
    assert wrong_key not in str(raised.value)


def test_azure_input_in_another_account_than_the_connection_is_refused(
    azurite: Azurite, azure_container: str, wasb_conn: str
) -> None:
    uri = f"wasbs://{azure_container}@otheraccount1.blob.core.windows.net/{KEY}"

    with pytest.raises(RunwareValidationError, match="otheraccount1"):
        InputResolver(wasb_conn, None).check(parse_image_input(uri, "seed_image"))
