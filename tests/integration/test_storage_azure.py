"""Azure Blob output locations against a real Azurite, uploading the way Runware does: one bare PUT.

Azurite checks SAS signatures, expiry, permissions and blob names (unlike moto), so the refusals here
are the emulator's own verdicts, not checks written by us. The end-to-end tests run the campaign DAG
through ``dag.test()`` against the Runware emulator, whose uploader sends no ``x-ms-blob-type``.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from airflow_runs import run_dag
from azure_fixtures import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    Azurite,
)
from azure_fixtures import azure_container_fixture as azure_container_fixture
from azure_fixtures import azurite_fixture as azurite_fixture
from azure_fixtures import blob_service_fixture as blob_service_fixture
from azure_fixtures import wasb_conn_fixture as wasb_conn_fixture
from emulator_handle import EmulatorHandle
from storage_checks import (
    assert_masker_learns_credentials_not_urls,
    assert_validate_refuses,
    query,
    runware_put,
)

from airflow_provider_runware.exceptions import RunwareUploadError
from airflow_provider_runware.storage import (
    AzureBlobOutputLocation,
    UploadTarget,
    parse_output_location,
)
from airflow_provider_runware.storage.azure import block_id_for

pytestmark = pytest.mark.integration

OBJECT = "campaign/2026-11-25/img 0_ab12cd34.jpg"
IMAGE = bytes(range(256)) * 64
ORIGINAL = b"the blob as it was before"
FIVE_MINUTES = timedelta(minutes=5)


def location_for(
    azurite: Azurite, container: str, conn_id: str, prefix: str = "out/"
) -> AzureBlobOutputLocation:
    location = parse_output_location(azurite.location(container, prefix), conn_id)
    assert isinstance(location, AzureBlobOutputLocation)
    return location


def raw_sig(url: str) -> str:
    """``sig`` exactly as written in the URL (percent-encoded, though the SDK leaves "/" as is)."""
    return urlsplit(url).query.split("sig=", 1)[1].split("&", 1)[0]


def blob(blob_service: Any, container: str, name: str) -> Any:
    return blob_service.get_blob_client(container, name)


def uncommitted_ids(blob_service: Any, container: str, name: str) -> list[str]:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return [block.id for block in blob(blob_service, container, name).get_block_list("uncommitted")[1]]
    except ResourceNotFoundError:
        return []


# ----- the Put Block flow ---------------------------------------------------------------------------


def test_bare_put_stages_a_block_and_finalize_creates_the_blob(
    azurite: Azurite, azure_container: str, wasb_conn: str, blob_service: Any
) -> None:
    location = location_for(azurite, azure_container, wasb_conn)
    target = location.target_for(OBJECT, FIVE_MINUTES)
    params = query(target.upload_url)

    assert target.upload_url.startswith(f"{azurite.blob_endpoint}/{azure_container}/out/campaign/")
    assert (params["comp"], params["sp"], params["sr"]) == ("block", "w", "b")
    assert base64.b64decode(params["blockid"]).decode() == block_id_for(f"out/{OBJECT}")
    assert target.uri == f"wasbs://{azure_container}@{AZURITE_ACCOUNT}.blob.core.windows.net/out/{OBJECT}"

    assert runware_put(target.upload_url, IMAGE).status_code == 201
    stored = blob(blob_service, azure_container, f"out/{OBJECT}")
    assert not stored.exists(), "a staged block is not a blob yet: finalize must commit it"

    location.finalize(target)

    assert stored.download_blob().readall() == IMAGE
    assert stored.get_blob_properties().content_settings.content_type == "image/jpeg"
    assert location.verify(target) == len(IMAGE)


def test_emulator_uploader_sends_no_azure_header_and_azure_accepts_it(
    azurite: Azurite, azure_container: str, wasb_conn: str, blob_service: Any
) -> None:
    """The emulator's own delivery code (Runware-like: raw bytes, no x-ms-* header) against Azurite."""
    import asyncio

    from airflow_provider_runware.emulator.delivery import new_client, put_upload

    location = location_for(azurite, azure_container, wasb_conn)
    target = location.target_for("emulated.png", FIVE_MINUTES)
    sent: list[httpx.Request] = []

    async def upload() -> int | None:
        client = new_client(timeout=10.0)

        async def record(request: httpx.Request) -> None:
            sent.append(request)

        client.event_hooks = {"request": [record], "response": []}
        async with client:
            return (await put_upload(client, target.upload_url, IMAGE)).status

    assert asyncio.run(upload()) == 201
    (request,) = sent
    assert not [name for name in request.headers if name.lower().startswith("x-ms-")]
    assert request.headers["content-length"] == str(len(IMAGE))
    location.finalize(target)
    assert blob(blob_service, azure_container, "out/emulated.png").download_blob().readall() == IMAGE
    assert location.verify(target) == len(IMAGE)


def test_finalize_is_idempotent_and_a_retried_upload_replaces_the_block(
    azurite: Azurite, azure_container: str, wasb_conn: str, blob_service: Any
) -> None:
    location = location_for(azurite, azure_container, wasb_conn)
    target = location.target_for("retry.jpg", FIVE_MINUTES)
    stored = blob(blob_service, azure_container, "out/retry.jpg")

    assert runware_put(target.upload_url, b"first attempt").status_code == 201
    assert runware_put(target.upload_url, b"second attempt").status_code == 201
    assert len(uncommitted_ids(blob_service, azure_container, "out/retry.jpg")) == 1
    location.finalize(target)
    location.finalize(target)  # a retried task finalizes again: already committed is fine

    assert stored.download_blob().readall() == b"second attempt"
    committed, uncommitted = stored.get_block_list("all")
    assert ([block.id for block in committed], uncommitted) == ([block_id_for("out/retry.jpg")], [])
    assert stored.get_blob_properties().content_settings.content_type == "image/jpeg"

    # A regenerated image for the same object (new PUT after the commit) wins at the next finalize.
    assert runware_put(target.upload_url, b"regenerated").status_code == 201
    location.finalize(target)
    assert stored.download_blob().readall() == b"regenerated"


def test_never_staged_upload_names_the_uri_not_the_sas(
    azurite: Azurite, azure_container: str, wasb_conn: str
) -> None:
    location = location_for(azurite, azure_container, wasb_conn)
    target = location.target_for("never/uploaded.png", FIVE_MINUTES)
    signature = query(target.upload_url)["sig"]

    with pytest.raises(RunwareUploadError, match="nothing was staged") as finalized:
        location.finalize(target)
    with pytest.raises(RunwareUploadError, match="does not exist") as verified:
        location.verify(target)

    for raised in (finalized, verified):
        message = str(raised.value)
        assert target.uri in message
        assert "sig=" not in message
        assert signature not in message


def test_verify_of_an_empty_blob_fails(
    azurite: Azurite, azure_container: str, wasb_conn: str, blob_service: Any
) -> None:
    location = location_for(azurite, azure_container, wasb_conn)
    blob(blob_service, azure_container, "out/empty.png").upload_blob(b"")

    with pytest.raises(RunwareUploadError, match="0 bytes") as raised:
        location.verify(UploadTarget(uri=location.uri_for("empty.png"), upload_url=""))
    assert location.uri_for("empty.png") in str(raised.value)


def test_finalize_and_verify_work_from_a_target_rebuilt_without_the_url(
    azurite: Azurite, azure_container: str, wasb_conn: str
) -> None:
    """A deferred task resumes on a fresh instance and never stored the SAS URL."""
    target = location_for(azurite, azure_container, wasb_conn).target_for(OBJECT, FIVE_MINUTES)
    assert runware_put(target.upload_url, IMAGE).status_code == 201

    fresh = location_for(azurite, azure_container, wasb_conn)
    rebuilt = UploadTarget(uri=fresh.uri_for(OBJECT), upload_url="")
    fresh.finalize(rebuilt)
    assert fresh.verify(rebuilt) == len(IMAGE)


def test_write_object_puts_and_commits_a_manifest(
    azurite: Azurite, azure_container: str, wasb_conn: str, blob_service: Any
) -> None:
    location = location_for(azurite, azure_container, wasb_conn, prefix="campaigns")
    manifest = json.dumps({"count": 0}).encode()

    uri = location.write_object("manifest.json", manifest)

    assert uri == f"wasbs://{azure_container}@{AZURITE_ACCOUNT}.blob.core.windows.net/campaigns/manifest.json"
    stored = blob(blob_service, azure_container, "campaigns/manifest.json")
    assert stored.download_blob().readall() == manifest
    assert stored.get_blob_properties().content_settings.content_type == "application/json"


# ----- Azurite refuses what Azure refuses -----------------------------------------------------------


def _tampered_signature(url: str, _: str) -> str:
    signature = raw_sig(url)
    forged = ("A" if signature[0] != "A" else "B") + signature[1:]
    tampered = url.replace(f"sig={signature}", f"sig={forged}")
    assert tampered != url
    return tampered


def _other_blob(url: str, _: str) -> str:
    moved = url.replace("/out/victim.jpg?", "/out/other.jpg?")
    assert moved != url
    return moved


def _resigned(permission: str, expiry: timedelta) -> Callable[[str, str], str]:
    """The same URL signed with the right key but another permission or expiry."""

    def rewrite(url: str, container: str) -> str:
        from azure.storage.blob import generate_blob_sas

        sas = generate_blob_sas(
            AZURITE_ACCOUNT,
            container,
            "out/victim.jpg",
            account_key=AZURITE_KEY,
            permission=permission,
            expiry=datetime.now(UTC) + expiry,
        )
        base, _, rest = url.partition("?")
        block_part = rest[rest.index("&comp=block") :]
        return f"{base}?{sas}{block_part}"

    return rewrite


@pytest.mark.parametrize(
    "rewrite",
    [
        pytest.param(_tampered_signature, id="tampered-sig"),
        pytest.param(_other_blob, id="other-blob-name"),
        pytest.param(_resigned("w", timedelta(minutes=-1)), id="expired"),
        pytest.param(_resigned("r", timedelta(minutes=5)), id="read-only"),
        pytest.param(_resigned("c", timedelta(minutes=5)), id="create-only"),
    ],
)
def test_azurite_refuses_a_bad_sas_and_leaves_the_blob_untouched(
    azurite: Azurite,
    azure_container: str,
    wasb_conn: str,
    blob_service: Any,
    rewrite: Callable[[str, str], str],
) -> None:
    for name in ("out/victim.jpg", "out/other.jpg"):
        blob(blob_service, azure_container, name).upload_blob(ORIGINAL)
    target = location_for(azurite, azure_container, wasb_conn).target_for("victim.jpg", FIVE_MINUTES)

    response = runware_put(rewrite(target.upload_url, azure_container), b"attacker bytes")

    assert response.status_code == 403, response.text
    for name in ("out/victim.jpg", "out/other.jpg"):
        assert blob(blob_service, azure_container, name).download_blob().readall() == ORIGINAL
        assert uncommitted_ids(blob_service, azure_container, name) == []


def test_a_correctly_resigned_url_is_accepted(azurite: Azurite, azure_container: str, wasb_conn: str) -> None:
    """Control for the refusals above: re-signing itself is sound, so only the changed part is refused."""
    target = location_for(azurite, azure_container, wasb_conn).target_for("victim.jpg", FIVE_MINUTES)
    url = _resigned("w", timedelta(minutes=7))(target.upload_url, azure_container)

    assert url != target.upload_url
    assert runware_put(url, IMAGE).status_code == 201


def test_expired_url_from_target_for_is_refused(
    azurite: Azurite, azure_container: str, wasb_conn: str, blob_service: Any
) -> None:
    """Our own expiry, not a re-signed one: a URL valid for 1 s is dead 2 s later."""
    location = location_for(azurite, azure_container, wasb_conn)
    target = location.target_for("late.jpg", timedelta(seconds=1))
    time.sleep(2.1)

    assert runware_put(target.upload_url, IMAGE).status_code == 403
    assert uncommitted_ids(blob_service, azure_container, "out/late.jpg") == []
    with pytest.raises(RunwareUploadError, match="nothing was staged"):
        location.finalize(target)


def test_wrong_account_key_signs_urls_azure_refuses(
    azurite: Azurite, azure_container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_key = base64.b64encode(b"not the account key" * 3).decode()
    monkeypatch.setenv("AIRFLOW_CONN_WASB_WRONG_KEY", json.dumps(azurite.connection(account_key=wrong_key)))
    location = location_for(azurite, azure_container, "wasb_wrong_key")

    location.validate()  # Azurite answers AuthorizationFailure, which may also be a firewall: not refused
    target = location.target_for("x.jpg", FIVE_MINUTES)

    assert runware_put(target.upload_url, IMAGE).status_code == 403


# ----- connections and forms ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "connection",
    [
        pytest.param(
            lambda a: {"conn_type": "wasb", "login": AZURITE_ACCOUNT, "password": AZURITE_KEY, "host": a},
            id="login-password-host",
        ),
        pytest.param(
            lambda a: {"conn_type": "wasb", "host": a, "extra": {"account_key": AZURITE_KEY}},
            id="account_key-extra",
        ),
        pytest.param(
            lambda a: {
                "conn_type": "wasb",
                "extra": {
                    "connection_string": f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
                    f"AccountKey={AZURITE_KEY};BlobEndpoint={a};"
                },
            },
            id="connection-string",
        ),
    ],
)
def test_key_connections_of_every_form_sign_urls_for_the_connections_endpoint(
    azurite: Azurite,
    azure_container: str,
    blob_service: Any,
    monkeypatch: pytest.MonkeyPatch,
    connection: Callable[[str], dict[str, Any]],
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WASB_FORM", json.dumps(connection(azurite.blob_endpoint)))
    location = location_for(azurite, azure_container, "wasb_form")
    location.validate()
    target = location.target_for("form.webp", FIVE_MINUTES)

    assert target.upload_url.startswith(azurite.blob_endpoint)
    assert runware_put(target.upload_url, IMAGE).status_code == 201
    location.finalize(target)
    stored = blob(blob_service, azure_container, "out/form.webp")
    assert stored.get_blob_properties().content_settings.content_type == "image/webp"


def test_abfss_location_writes_through_the_blob_endpoint(
    azurite: Azurite, azure_container: str, wasb_conn: str, blob_service: Any
) -> None:
    location = parse_output_location(
        f"abfss://{azure_container}@{AZURITE_ACCOUNT}.dfs.core.windows.net/lake/", wasb_conn
    )
    location.validate()
    target = location.target_for("a.png", FIVE_MINUTES)

    assert target.uri == f"abfss://{azure_container}@{AZURITE_ACCOUNT}.dfs.core.windows.net/lake/a.png"
    assert runware_put(target.upload_url, IMAGE).status_code == 201
    location.finalize(target)
    assert location.verify(target) == len(IMAGE)
    assert blob(blob_service, azure_container, "lake/a.png").download_blob().readall() == IMAGE


def test_validate_refuses_a_container_that_does_not_exist(azurite: Azurite, wasb_conn: str) -> None:
    location = location_for(azurite, "runware-no-such-container", wasb_conn)
    assert_validate_refuses(location, "does not exist", "output_location", "runware-no-such-container")


def test_validate_refuses_a_connection_for_another_account(
    azurite: Azurite, azure_container: str, wasb_conn: str
) -> None:
    location = parse_output_location(
        f"wasbs://{azure_container}@otheraccount.blob.core.windows.net/out/", wasb_conn
    )

    assert_validate_refuses(location, "otheraccount", "storage_conn_id", AZURITE_ACCOUNT)


# ----- secrets --------------------------------------------------------------------------------------


def test_target_repr_str_and_errors_never_show_the_sas(
    azurite: Azurite, azure_container: str, wasb_conn: str
) -> None:
    location = location_for(azurite, azure_container, wasb_conn)
    target = location.target_for(OBJECT, FIVE_MINUTES)
    signature = query(target.upload_url)["sig"]

    for shown in (repr(target), str(target), f"{target}", repr([target]), repr(location), str(location)):
        assert "sig=" not in shown
        assert signature not in shown
        assert raw_sig(target.upload_url) not in shown
    assert str(target) == target.uri


def test_sas_url_and_signature_are_registered_with_the_masker(
    azurite: Azurite, azure_container: str, wasb_conn: str
) -> None:
    from airflow_provider_runware.compat import redact

    target = location_for(azurite, azure_container, wasb_conn).target_for("masked.png", FIVE_MINUTES)
    signature = query(target.upload_url)["sig"]
    encoded = raw_sig(target.upload_url)
    assert encoded != signature, "a base64 signature ends in '=', written %3D"

    assert signature not in str(redact(f"url={target.upload_url}"))
    assert encoded not in str(redact(f"url={target.upload_url}"))
    assert encoded not in str(redact(f"query sig={encoded}"))
    assert signature not in str(redact(f"decoded sig={signature}"))


def test_a_chunk_of_sas_urls_registers_credentials_not_urls(
    azurite: Azurite, azure_container: str, wasb_conn: str
) -> None:
    assert_masker_learns_credentials_not_urls(location_for(azurite, azure_container, wasb_conn), "sig")


# ----- end to end through Airflow -------------------------------------------------------------------


def test_campaign_dag_stores_every_image_and_the_manifest_in_azure(
    airflow: EmulatorHandle, azurite: Azurite, azure_container: str, wasb_conn: str, blob_service: Any
) -> None:
    output_location = azurite.location(azure_container, "campaigns/")

    outcome = run_dag(
        "runware_marketing_assets.py",
        "runware_marketing_assets",
        conf={"output_location": output_location, "storage_conn_id": wasb_conn},
    )

    assert outcome.state == "success", outcome.tasks
    images = [image for mapped in outcome.xcom("generate_images") for image in mapped]
    assert len(images) == 6
    container = blob_service.get_container_client(azure_container)
    stored = {item.name: item for item in container.list_blobs()}
    assert len(stored) == 7
    base = f"wasbs://{azure_container}@{AZURITE_ACCOUNT}.blob.core.windows.net/"
    for image in images:
        name = image["storage_uri"].removeprefix(base)
        assert name.startswith("campaigns/")
        assert name.endswith(".jpg")
        assert image["bytes"] == stored[name].size > 0
        assert stored[name].content_settings.content_type == "image/jpeg"
        assert "image_url" not in image
    (summary,) = outcome.xcom("write_manifest")
    assert summary["manifest_uri"] == f"{base}campaigns/manifest.json"
    manifest = json.loads(container.download_blob("campaigns/manifest.json").readall())
    assert sorted(entry["storage_uri"] for entry in manifest["images"]) == sorted(
        image["storage_uri"] for image in images
    )
    uploads = airflow.requests("upload")
    assert len(uploads) == 6
    assert {entry["status"] for entry in uploads} == {201}
    assert "sig=" not in json.dumps(images) + json.dumps(manifest)


def test_refused_sas_fails_the_task_naming_the_object(
    airflow: EmulatorHandle,
    azurite: Azurite,
    azure_container: str,
    blob_service: Any,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    wrong_key = base64.b64encode(b"rotated away" * 5).decode()
    monkeypatch.setenv("AIRFLOW_CONN_WASB_ROTATED", json.dumps(azurite.connection(account_key=wrong_key)))
    output_location = azurite.location(azure_container, "renders/")

    outcome = run_dag(
        "runware_scenarios.py",
        "runware_to_s3",  # the generic "store outputs at output_location" scenario
        conf={"output_location": output_location, "storage_conn_id": "wasb_rotated"},
    )

    assert outcome.state == "failed"
    uploads = airflow.requests("upload")
    assert [entry["status"] for entry in uploads] == [403, 403]
    output = capfd.readouterr()
    text = output.out + output.err
    assert "RunwareUploadError" in text, "an upload Runware could not make is not worth a paid retry"
    assert "uploadFailed" in text
    assert "HTTP 403" in text
    for index in (0, 1):
        object_uri = (
            rf"wasbs://{azure_container}@{AZURITE_ACCOUNT}\.blob\.core\.windows\.net/renders/"
            rf"runware_to_s3/\S+/generate/image-{index}\.jpg"
        )
        assert re.search(rf"image {index} taskUUID=\S+ \({object_uri}\): uploadFailed", text), text
    assert "sig=" not in text
    assert list(blob_service.get_container_client(azure_container).list_blobs()) == []
