"""The "Stored images" extra link through Airflow's own machinery: ``dag.test()`` runs a tiny operator
that persists the link's data; Airflow's task runner then calls ``get_link`` and stores the URL under the
link's ``xcom_key``, which is where the UI reads it. Checked for S3 (moto, and a real-AWS-shaped
connection), GCS (emulator) and Azure (Azurite)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from airflow_runs import DagOutcome, run_dag
from azure_fixtures import AZURITE_ACCOUNT, Azurite
from azure_fixtures import azure_container_fixture as azure_container_fixture
from azure_fixtures import azurite_fixture as azurite_fixture
from azure_fixtures import blob_service_fixture as blob_service_fixture
from azure_fixtures import wasb_conn_fixture as wasb_conn_fixture

from airflow_provider_runware.links import STORED_IMAGES_XCOM_KEY, RunwareStoredImagesLink, stored_images_url

pytestmark = pytest.mark.integration

LINK_XCOM_KEY = RunwareStoredImagesLink().xcom_key
FOLDER = "campaign/2026-11-30/"


def xcom_values(outcome: DagOutcome, key: str) -> list[Any]:
    """XCom values of the probe task under ``key``: JSON where they are JSON, else the raw value (the
    task runner stores an extra link's URL as a bare string)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=outcome.dag_id, run_id=outcome.run_id, key=key).all()
        values = [row.value for row in rows]
    decoded = []
    for value in values:
        try:
            decoded.append(json.loads(value) if isinstance(value, str | bytes) else value)
        except ValueError:
            decoded.append(value)
    return decoded


def run_probe(output_location: str, storage_conn_id: str) -> tuple[dict[str, Any], str]:
    """Run the probe DAG; return the persisted data and the link Airflow stored for the UI."""
    outcome: DagOutcome = run_dag(
        "runware_links_probe.py",
        "runware_links_probe",
        conf={
            "output_location": output_location,
            "storage_conn_id": storage_conn_id,
            "object_prefix": FOLDER,
        },
    )
    assert outcome.state == "success", outcome.tasks
    (data,) = xcom_values(outcome, STORED_IMAGES_XCOM_KEY)
    (link,) = xcom_values(outcome, LINK_XCOM_KEY)
    return data, link


def test_s3_link_on_moto_lists_the_folder(
    airflow_db: None, s3_bucket: str, s3_client: Any, aws_conn: str
) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key=f"out/{FOLDER}img_0.png", Body=b"png")

    data, link = run_probe(f"s3://{s3_bucket}/out/", aws_conn)

    assert data["cloud"] == "s3"
    assert data["prefix"] == f"out/{FOLDER}"
    assert link == stored_images_url(data)
    assert urlsplit(link).hostname == "127.0.0.1"
    listing = httpx.get(link, trust_env=False)
    assert listing.status_code == 200
    assert f"out/{FOLDER}img_0.png" in listing.text


def test_s3_link_points_at_the_aws_console_for_a_real_aws_connection(
    airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No endpoint in the connection: the console URL, with the connection's region (nothing is called)."""
    connection = {
        "conn_type": "aws",
        "login": "AKIAEXAMPLE",
        "password": "secret",
        "extra": {"region_name": "eu-west-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_CONSOLE_LINK", json.dumps(connection))

    data, link = run_probe("s3://acme-campaigns/runware/", "aws_console_link")

    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://s3.console.aws.amazon.com/s3/buckets/acme-campaigns"
    )
    assert parse_qs(parts.query) == {
        "region": ["eu-west-1"],
        "prefix": [f"runware/{FOLDER}"],
        "showversions": ["false"],
    }
    assert "secret" not in json.dumps(data)
    assert "secret" not in link


def test_gcs_link_on_the_emulator_lists_the_folder(
    airflow_db: None, gcs_bucket: str, gcs_client: Any, gcs_conn: str
) -> None:
    gcs_client.bucket(gcs_bucket).blob(f"out/{FOLDER}img_0.png").upload_from_string(b"png")

    data, link = run_probe(f"gs://{gcs_bucket}/out/", gcs_conn)

    assert data["cloud"] == "gs"
    assert "keyfile" not in json.dumps(data)
    assert "PRIVATE" not in json.dumps(data)
    listing = httpx.get(link, trust_env=False)
    assert listing.status_code == 200
    assert [item["name"] for item in listing.json()["items"]] == [f"out/{FOLDER}img_0.png"]


def test_azure_link_on_azurite_is_the_containers_listing_without_a_key(
    airflow_db: None, azurite: Azurite, azure_container: str, wasb_conn: str
) -> None:
    data, link = run_probe(azurite.location(azure_container), wasb_conn)

    assert data["cloud"] == "azure"
    assert link.startswith(f"{azurite.blob_endpoint}/{azure_container}?")
    assert parse_qs(urlsplit(link).query) == {
        "restype": ["container"],
        "comp": ["list"],
        "prefix": [f"out/{FOLDER}"],
    }
    assert "sig" not in link
    assert "AccountKey" not in link
    assert AZURITE_ACCOUNT in link


def test_https_output_location_persists_no_link(airflow_db: None) -> None:
    outcome = run_dag(
        "runware_links_probe.py",
        "runware_links_probe",
        conf={
            "output_location": "https://upload.example.com/{object_name}?token=abc123",
            "storage_conn_id": "",
            "object_prefix": FOLDER,
        },
    )

    assert outcome.state == "success"
    assert xcom_values(outcome, STORED_IMAGES_XCOM_KEY) == []
    assert xcom_values(outcome, LINK_XCOM_KEY) in ([], [""], [None])
