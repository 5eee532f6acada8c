"""GCS output locations against gcp-storage-emulator, behind the verifying front, and through Airflow.

Every signed URL here goes to the GCS front, which checks GOOG4-RSA-SHA256 with the test key's public
half before the emulator sees the bytes. The DAG tests run the real operator with ``dag.test()`` against
the Runware emulator, which PUTs each image exactly as Runware does.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from airflow_runs import run_dag
from emulator_handle import EmulatorHandle
from gcs_fixtures import GCS_TEST_EMAIL, ServiceAccountKey, gcs_connection
from signature_fronts import VerifyingFront, goog4_signature_ok
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
from airflow_provider_runware.storage import GcsOutputLocation, UploadTarget, parse_output_location

pytestmark = pytest.mark.integration

OBJECT = "campaign/2026-11-25/img_0_ab12cd34.jpg"
IMAGE = bytes(range(256)) * 64
FIVE_MINUTES = timedelta(minutes=5)


def location(bucket: str, conn_id: str, prefix: str = "out/") -> GcsOutputLocation:
    parsed = parse_output_location(f"gs://{bucket}/{prefix}", conn_id)
    assert isinstance(parsed, GcsOutputLocation)
    return parsed


def object_names(client: Any, bucket: str) -> list[str]:
    return sorted(blob.name for blob in client.list_blobs(bucket))


# -- signing ----------------------------------------------------------------------------------------


def test_signed_url_is_v4_signing_only_host_with_requested_expiry(
    gcs_bucket: str, gcs_conn: str, gcs_key: ServiceAccountKey, gcs_front: VerifyingFront
) -> None:
    target = location(gcs_bucket, gcs_conn).target_for(OBJECT, timedelta(minutes=25))

    params = query(target.upload_url)
    assert params["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert params["X-Goog-SignedHeaders"] == "host"
    assert params["X-Goog-Expires"] == "1500"
    assert params["X-Goog-Credential"].startswith(f"{GCS_TEST_EMAIL}/")
    assert "content-type" not in target.upload_url.lower()
    assert target.upload_url.startswith(f"{gcs_front.url}/{gcs_bucket}/out/campaign/")
    assert target.uri == f"gs://{gcs_bucket}/out/{OBJECT}"
    assert goog4_signature_ok(target.upload_url, "PUT", gcs_key.public_key)
    # The checker itself must notice another method or key.
    assert not goog4_signature_ok(target.upload_url, "GET", gcs_key.public_key)


def test_checker_notices_a_different_key(
    gcs_bucket: str, gcs_conn: str, gcs_wrong_key: ServiceAccountKey
) -> None:
    target = location(gcs_bucket, gcs_conn).target_for(OBJECT, FIVE_MINUTES)
    assert not goog4_signature_ok(target.upload_url, "PUT", gcs_wrong_key.public_key)


def test_bare_put_lands_identical_bytes_and_verify_returns_size(
    gcs_bucket: str, gcs_conn: str, gcs_client: Any
) -> None:
    gcs = location(gcs_bucket, gcs_conn)
    target = gcs.target_for(OBJECT, FIVE_MINUTES)

    assert runware_put(target.upload_url, IMAGE).status_code == 200

    assert gcs_client.bucket(gcs_bucket).blob(f"out/{OBJECT}").download_as_bytes() == IMAGE
    assert gcs.verify(target) == len(IMAGE)


@pytest.mark.parametrize(
    ("prefix", "expected_prefix"),
    [("out/", "out/"), ("out", "out/"), ("a/b/c", "a/b/c/"), ("", "")],
)
def test_object_names_join_under_the_prefix(
    gcs_bucket: str, gcs_conn: str, gcs_client: Any, prefix: str, expected_prefix: str
) -> None:
    gcs = location(gcs_bucket, gcs_conn, prefix)
    target = gcs.target_for("x/img 1.png", FIVE_MINUTES)

    assert target.uri == f"gs://{gcs_bucket}/{expected_prefix}x/img 1.png"
    assert gcs.uri_for("x/img 1.png") == target.uri
    assert runware_put(target.upload_url, b"png").status_code == 200
    assert object_names(gcs_client, gcs_bucket) == [f"{expected_prefix}x/img 1.png"]


def test_gcs_scheme_is_an_alias_of_gs(gcs_bucket: str, gcs_conn: str) -> None:
    gcs = parse_output_location(f"gcs://{gcs_bucket}/out/", gcs_conn)
    target = gcs.target_for("a.png", FIVE_MINUTES)

    assert target.uri == f"gs://{gcs_bucket}/out/a.png"
    assert runware_put(target.upload_url, IMAGE).status_code == 200
    assert gcs.verify(target) == len(IMAGE)


def test_storage_emulator_host_from_the_environment_is_honoured(
    gcs_bucket: str, gcs_key: ServiceAccountKey, gcs_front: VerifyingFront, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The variable google-cloud-storage itself reads sends signing and checks there too."""
    monkeypatch.setenv("AIRFLOW_CONN_GCS_RUNWARE_ENV_ONLY", gcs_connection(gcs_key, emulator_host=None))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_front.url)
    gcs = location(gcs_bucket, "gcs_runware_env_only")
    gcs.validate()

    target = gcs.target_for("env.png", FIVE_MINUTES)

    assert target.upload_url.startswith(f"{gcs_front.url}/{gcs_bucket}/out/env.png?")
    assert runware_put(target.upload_url, IMAGE).status_code == 200
    assert gcs.verify(target) == len(IMAGE)
    assert [record.verdict for record in gcs_front.signed()] == ["accepted"]


def test_expiry_of_seven_days_is_the_limit(gcs_bucket: str, gcs_conn: str) -> None:
    assert_seven_days_is_the_limit(location(gcs_bucket, gcs_conn), "X-Goog")


# -- secrets ----------------------------------------------------------------------------------------


def test_target_repr_and_str_hide_the_signature(gcs_bucket: str, gcs_conn: str) -> None:
    assert_target_hides_the_signature(
        location(gcs_bucket, gcs_conn).target_for(OBJECT, FIVE_MINUTES), "X-Goog"
    )


def test_signed_url_and_signature_are_registered_with_the_masker(gcs_bucket: str, gcs_conn: str) -> None:
    target = location(gcs_bucket, gcs_conn).target_for("masked.png", FIVE_MINUTES)
    assert_masker_hides_the_signature(target, "X-Goog")


def test_a_chunk_of_signed_urls_registers_credentials_not_urls(gcs_bucket: str, gcs_conn: str) -> None:
    assert_masker_learns_credentials_not_urls(location(gcs_bucket, gcs_conn), "X-Goog-Signature")


# -- verify -----------------------------------------------------------------------------------------


def test_verify_of_missing_object_names_uri_not_signature(gcs_bucket: str, gcs_conn: str) -> None:
    expected_uri = f"gs://{gcs_bucket}/out/never/uploaded.png"
    assert_verify_of_missing_object_names_uri_not_signature(
        location(gcs_bucket, gcs_conn), expected_uri, "X-Goog"
    )


def test_verify_of_empty_object_fails(gcs_bucket: str, gcs_conn: str, gcs_client: Any) -> None:
    gcs = location(gcs_bucket, gcs_conn)
    target = gcs.target_for("empty.png", FIVE_MINUTES)
    # gcp-storage-emulator drops the connection on an empty XML-API PUT, so the empty object is made
    # through the JSON API instead (what verify sees is the same).
    gcs_client.bucket(gcs_bucket).blob("out/empty.png").upload_from_string(b"")

    with pytest.raises(RunwareUploadError, match="0 bytes") as raised:
        gcs.verify(target)
    assert target.uri in str(raised.value)


def test_verify_works_from_a_target_rebuilt_without_the_url(gcs_bucket: str, gcs_conn: str) -> None:
    """A deferred task resumes on a fresh instance and must not have stored the signed URL."""
    target = location(gcs_bucket, gcs_conn).target_for(OBJECT, FIVE_MINUTES)
    assert runware_put(target.upload_url, IMAGE).status_code == 200

    fresh = location(gcs_bucket, gcs_conn)
    assert fresh.verify(UploadTarget(uri=target.uri, upload_url="")) == len(IMAGE)


# -- validate ---------------------------------------------------------------------------------------


def test_validate_accepts_a_good_location(gcs_bucket: str, gcs_conn: str) -> None:
    location(gcs_bucket, gcs_conn).validate()


def test_validate_refuses_a_connection_that_does_not_exist(gcs_bucket: str) -> None:
    gcs = location(gcs_bucket, "gcs_no_such_connection")
    assert_validate_refuses(gcs, "does not exist", "storage_conn_id", "gcs_no_such_connection")


def test_validate_refuses_a_bucket_that_does_not_exist(gcs_conn: str) -> None:
    gcs = location("runware-test-no-such-bucket", gcs_conn)
    assert_validate_refuses(gcs, "does not exist", "output_location", "runware-test-no-such-bucket")


def test_validate_refuses_credentials_that_cannot_sign(
    gcs_bucket: str, gcs_front: VerifyingFront, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = {
        "conn_type": "google_cloud_platform",
        "extra": {"is_anonymous": True, "storage_emulator_host": gcs_front.url},
    }
    monkeypatch.setenv("AIRFLOW_CONN_GCS_RUNWARE_ANONYMOUS", json.dumps(connection))
    gcs = location(gcs_bucket, "gcs_runware_anonymous")
    assert_validate_refuses(
        gcs, "cannot sign URLs", "storage_conn_id", "service-account key", "impersonation_chain"
    )


def test_validate_refuses_a_keyfile_that_is_not_json(
    gcs_bucket: str, gcs_front: VerifyingFront, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = {
        "conn_type": "google_cloud_platform",
        "extra": {"keyfile_dict": "{not json", "storage_emulator_host": gcs_front.url},
    }
    monkeypatch.setenv("AIRFLOW_CONN_GCS_RUNWARE_BAD_KEY", json.dumps(connection))

    with pytest.raises(RunwareValidationError, match="could not load Google credentials") as raised:
        location(gcs_bucket, "gcs_runware_bad_key").validate()
    assert raised.value.parameter == "storage_conn_id"


# -- end to end through Airflow ---------------------------------------------------------------------


def test_campaign_dag_stores_every_image_in_gcs(
    airflow: EmulatorHandle,
    gcs_bucket: str,
    gcs_conn: str,
    gcs_client: Any,
    gcs_front: VerifyingFront,
) -> None:
    outcome = run_dag(
        "runware_marketing_assets.py",
        "runware_marketing_assets",
        conf={"output_location": f"gs://{gcs_bucket}/campaigns/", "storage_conn_id": gcs_conn},
    )

    assert outcome.state == "success", outcome.tasks
    images = [image for mapped in outcome.xcom("generate_images") for image in mapped]
    assert len(images) == 6
    blobs = {blob.name: blob for blob in gcs_client.list_blobs(gcs_bucket)}
    stored = {f"gs://{gcs_bucket}/{name}": blob.size for name, blob in blobs.items()}
    manifest_uri = f"gs://{gcs_bucket}/campaigns/manifest.json"
    assert sorted(image["storage_uri"] for image in images) == sorted(set(stored) - {manifest_uri})
    for image in images:
        assert image["storage_uri"].startswith(f"gs://{gcs_bucket}/campaigns/")
        assert stored[image["storage_uri"]] > 0
        assert image["bytes"] == stored[image["storage_uri"]]
    manifest = json.loads(blobs["campaigns/manifest.json"].download_as_bytes())
    assert manifest["count"] == 6
    assert sorted(i["storage_uri"] for i in manifest["images"]) == sorted(i["storage_uri"] for i in images)
    (summary,) = outcome.xcom("write_manifest")
    assert summary["manifest_uri"] == manifest_uri
    # Every object arrived through a signature the front verified: 6 images + the manifest.
    assert len(gcs_front.signed("accepted")) == 7
    assert gcs_front.refused() == []
    assert "X-Goog-Signature" not in json.dumps([images, summary])


def assert_refused_uploads_fail_the_task_naming_the_objects(
    front: VerifyingFront, output_location: str, conn_id: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """Two images for ``output_location``, signed with credentials ``front`` refuses: the task fails, and
    its message names each refused object but no signature."""
    outcome = run_dag(
        "runware_cloud_scenarios.py",
        "runware_to_cloud_storage",
        conf={"output_location": output_location, "storage_conn_id": conn_id},
    )

    output = capfd.readouterr()
    text = output.out + output.err
    refused = front.refused()
    assert refused, "the front refused nothing: the bad credentials were not used"
    assert {record.verdict for record in refused} == {"signature mismatch"}
    assert len(refused) == 2
    assert outcome.state == "failed"
    assert outcome.tasks["generate"][0] == "failed"
    assert "uploadFailed" in text
    scheme = output_location.partition("://")[0]
    for record in refused:
        uri = f"{scheme}://{unquote(record.path.lstrip('/'))}"
        assert f"({uri})" in text, f"failure message does not name {uri}"
        assert record.signature
        assert record.signature not in text
    assert "X-Amz-Signature" not in text
    assert "X-Goog-Signature" not in text


def test_s3_upload_refused_for_a_wrong_secret_fails_naming_the_objects(
    airflow: EmulatorHandle,
    s3_bucket: str,
    aws_front_conn_wrong_secret: str,
    s3_front: VerifyingFront,
    capfd: pytest.CaptureFixture[str],
) -> None:
    output_location = f"s3://{s3_bucket}/renders/"
    assert_refused_uploads_fail_the_task_naming_the_objects(
        s3_front, output_location, aws_front_conn_wrong_secret, capfd
    )
    assert [upload["status"] for upload in airflow.requests("upload")] == [403, 403]


def test_gcs_upload_refused_for_a_wrong_key_fails_naming_the_objects(
    airflow: EmulatorHandle,
    gcs_bucket: str,
    gcs_conn_wrong_key: str,
    gcs_front: VerifyingFront,
    gcs_client: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    output_location = f"gs://{gcs_bucket}/renders/"
    assert_refused_uploads_fail_the_task_naming_the_objects(
        gcs_front, output_location, gcs_conn_wrong_key, capfd
    )
    assert object_names(gcs_client, gcs_bucket) == []
