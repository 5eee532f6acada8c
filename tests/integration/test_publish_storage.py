"""Publishing: server-side copies and manifests on moto (behind the SigV4 front), the GCS emulator
(behind the GOOG4 front) and Azurite (whose copy fetches the source through our read SAS)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from azure_fixtures import AZURITE_ACCOUNT, Azurite
from azure_fixtures import azure_container_fixture as azure_container_fixture
from azure_fixtures import azurite_fixture as azurite_fixture
from azure_fixtures import blob_service_fixture as blob_service_fixture
from azure_fixtures import wasb_conn_fixture as wasb_conn_fixture
from storage_checks import gcs_reader, s3_reader

from airflow_provider_runware.exceptions import RunwareUploadError, RunwareValidationError
from airflow_provider_runware.storage.publish import copy_object, write_manifest

pytestmark = pytest.mark.integration

IMAGE = bytes(range(256)) * 40
SOURCE = "runs/2026-11-30/cutout 1.png"
TARGET = "published/2026-11-30/cutout 1.png"


@dataclass
class PublishStore:
    name: str
    conn_id: str
    uri_of: Callable[[str], str]
    put: Callable[[str, bytes], None]
    read: Callable[[str], bytes | None]
    content_type: Callable[[str], str | None]


def _s3(request: pytest.FixtureRequest) -> PublishStore:
    bucket = request.getfixturevalue("s3_bucket")
    client = request.getfixturevalue("s3_client")

    return PublishStore(
        name="s3",
        conn_id=request.getfixturevalue("aws_front_conn"),
        uri_of=lambda key: f"s3://{bucket}/{key}",
        put=lambda key, data: client.put_object(Bucket=bucket, Key=key, Body=data, ContentType="image/png"),
        read=s3_reader(client, bucket),
        content_type=lambda key: client.head_object(Bucket=bucket, Key=key)["ContentType"],
    )


def _gcs(request: pytest.FixtureRequest) -> PublishStore:
    bucket = request.getfixturevalue("gcs_bucket")
    client = request.getfixturevalue("gcs_client")

    return PublishStore(
        name="gcs",
        conn_id=request.getfixturevalue("gcs_conn"),
        uri_of=lambda key: f"gs://{bucket}/{key}",
        put=lambda key, data: (
            client.bucket(bucket).blob(key).upload_from_string(data, content_type="image/png")
        ),
        read=gcs_reader(client, bucket),
        content_type=lambda key: client.bucket(bucket).get_blob(key).content_type,
    )


def _azure(request: pytest.FixtureRequest) -> PublishStore:
    request.getfixturevalue("azurite")
    container = request.getfixturevalue("azure_container")
    service = request.getfixturevalue("blob_service")

    def read(key: str) -> bytes | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return bytes(service.get_blob_client(container, key).download_blob().readall())
        except ResourceNotFoundError:
            return None

    def put(key: str, data: bytes) -> None:
        from azure.storage.blob import ContentSettings

        service.get_blob_client(container, key).upload_blob(
            data, overwrite=True, content_settings=ContentSettings(content_type="image/png")
        )

    return PublishStore(
        name="azure",
        conn_id=request.getfixturevalue("wasb_conn"),
        uri_of=lambda key: f"wasbs://{container}@{AZURITE_ACCOUNT}.blob.core.windows.net/{key}",
        put=put,
        read=read,
        content_type=lambda key: (
            service.get_blob_client(container, key).get_blob_properties().content_settings.content_type
        ),
    )


@pytest.fixture(params=["s3", "gcs", "azure"])
def store(request: pytest.FixtureRequest) -> PublishStore:
    return {"s3": _s3, "gcs": _gcs, "azure": _azure}[request.param](request)


def test_copy_is_server_side_and_keeps_bytes_and_type(store: PublishStore) -> None:
    store.put(SOURCE, IMAGE)

    result = copy_object(store.uri_of(SOURCE), store.uri_of(TARGET), store.conn_id)

    assert result == store.uri_of(TARGET)
    assert store.read(TARGET) == IMAGE
    assert store.read(SOURCE) == IMAGE  # a copy, not a move
    assert store.content_type(TARGET) == "image/png"


def test_copy_overwrites_an_earlier_publish(store: PublishStore) -> None:
    store.put(SOURCE, IMAGE)
    store.put(TARGET, b"an older approved image")

    copy_object(store.uri_of(SOURCE), store.uri_of(TARGET), store.conn_id)

    assert store.read(TARGET) == IMAGE


def test_copy_of_a_missing_source_names_both_uris_and_writes_nothing(store: PublishStore) -> None:
    with pytest.raises(RunwareUploadError, match="the source does not exist") as raised:
        copy_object(store.uri_of("runs/never.png"), store.uri_of(TARGET), store.conn_id)

    message = str(raised.value)
    assert store.uri_of("runs/never.png") in message
    assert store.uri_of(TARGET) in message
    assert store.read(TARGET) is None


def test_manifest_is_json_beside_the_published_images(store: PublishStore) -> None:
    records = [
        {
            "storage_uri": store.uri_of(TARGET),
            "prompt": "a red shoe on marble",
            "cost": 0.0026,
            "approved": True,
        }
    ]

    uri = write_manifest(
        store.uri_of("published/2026-11-30/manifest.json"), records, storage_conn_id=store.conn_id
    )

    assert uri == store.uri_of("published/2026-11-30/manifest.json")
    written = store.read("published/2026-11-30/manifest.json")
    assert written is not None
    assert json.loads(written) == records


def test_cross_cloud_copy_is_refused_naming_both() -> None:
    with pytest.raises(RunwareValidationError, match="different clouds") as raised:
        copy_object("s3://src-bucket/a.png", "gs://dst-bucket/a.png", None)

    assert "s3://src-bucket/a.png" in str(raised.value)
    assert "gs://dst-bucket/a.png" in str(raised.value)


@pytest.mark.parametrize("bad", ["https://cdn.example.com/a.png?sig=abc", "s3://bucket/folder/"])
def test_copy_needs_object_uris(bad: str) -> None:
    with pytest.raises(RunwareValidationError) as raised:
        copy_object(bad, "s3://bucket/published/a.png", None)

    assert "abc" not in str(raised.value)


def test_manifest_records_must_be_json() -> None:
    with pytest.raises(RunwareValidationError, match="not JSON-serialisable"):
        write_manifest("s3://bucket/published/manifest.json", [{"when": object()}])


def test_azure_copy_for_another_account_is_refused_without_showing_a_sas(
    azurite: Azurite, azure_container: str, blob_service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection for another account cannot sign the source's read SAS: refused before any copy."""
    from azure_fixtures import AZURITE_KEY

    blob_service.get_blob_client(azure_container, SOURCE).upload_blob(IMAGE)
    uri = f"wasbs://{azure_container}@otheraccount1.blob.core.windows.net/{SOURCE}"
    connection = azurite.connection(account_key=AZURITE_KEY)
    monkeypatch.setenv("AIRFLOW_CONN_WASB_PUBLISH", json.dumps(connection))

    with pytest.raises((RunwareUploadError, RunwareValidationError)) as raised:
        copy_object(uri, uri.replace(SOURCE, TARGET), "wasb_publish")

    assert "otheraccount1" in str(raised.value)
    assert "sig=" not in str(raised.value)
    assert "se=" not in str(raised.value)
