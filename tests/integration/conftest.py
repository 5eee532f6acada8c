"""Local object stores for integration tests: one moto S3 server per session, a fresh bucket per test.

moto listens on 127.0.0.1 only; nothing here talks to a real cloud. moto does not check signatures, so
tests that care about a signature verify it themselves (the verifying fronts of ``signature_fronts``,
whose fixtures are registered here with the GCS ones of ``gcs_fixtures``; pytest starts a server only
for the tests that ask for it). Also the Airflow metadata DB and the ``runware_default`` connection.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from airflow_runs import migrate_database
from emulator_handle import EmulatorHandle
from gcs_fixtures import _gcs_front_server as _gcs_front_server
from gcs_fixtures import gcs_bucket as gcs_bucket
from gcs_fixtures import gcs_client as gcs_client
from gcs_fixtures import gcs_conn as gcs_conn
from gcs_fixtures import gcs_conn_wrong_key as gcs_conn_wrong_key
from gcs_fixtures import gcs_emulator as gcs_emulator
from gcs_fixtures import gcs_front as gcs_front
from gcs_fixtures import gcs_key as gcs_key
from gcs_fixtures import gcs_wrong_key as gcs_wrong_key
from servers import serving
from signature_fronts import _s3_front_server as _s3_front_server
from signature_fronts import aws_front_conn as aws_front_conn
from signature_fronts import aws_front_conn_wrong_secret as aws_front_conn_wrong_secret
from signature_fronts import s3_front as s3_front

# Shared assertions: pytest explains their failures only if it rewrites the module (before its import).
pytest.register_assert_rewrite("storage_checks")

AWS_TEST_CONN_ID = "aws_runware_test"
AWS_TEST_REGION = "us-east-1"
AWS_TEST_KEY = "testing"


@dataclass(frozen=True)
class MotoServer:
    """A running moto server; ``endpoint_url`` goes into boto3 clients and Airflow connections."""

    endpoint_url: str
    log_path: Path


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """Start ``python -m moto.server`` on a free loopback port once per session."""
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p"]
    with serving("moto server", lambda port: [*command, str(port)], log_path, health="/moto-api/") as url:
        yield MotoServer(endpoint_url=url, log_path=log_path)


@pytest.fixture(scope="session")
def s3_client(moto_server: MotoServer) -> Any:
    """A plain boto3 client on the moto server, for arranging and inspecting test state."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=moto_server.endpoint_url,
        region_name=AWS_TEST_REGION,
        aws_access_key_id=AWS_TEST_KEY,
        aws_secret_access_key=AWS_TEST_KEY,
    )


@pytest.fixture
def s3_bucket(s3_client: Any) -> str:
    """A new, uniquely named, empty bucket (tests never see each other's objects)."""
    name = f"runware-test-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def aws_conn(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow AWS connection (from the environment) pointing at the moto server; returns its id."""
    connection = {
        "conn_type": "aws",
        "login": AWS_TEST_KEY,
        "password": AWS_TEST_KEY,
        "extra": {"endpoint_url": moto_server.endpoint_url, "region_name": AWS_TEST_REGION},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{AWS_TEST_CONN_ID.upper()}", json.dumps(connection))
    return AWS_TEST_CONN_ID


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated metadata DB in the session's throwaway AIRFLOW_HOME (see tests/conftest.py), made once."""
    migrate_database()


@pytest.fixture
def airflow(airflow_db: None, runware: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> EmulatorHandle:
    """The clean emulator, and Airflow's ``runware_default`` connection pointing at it (for ``run_dag``)."""
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", runware.connection())
    return runware
