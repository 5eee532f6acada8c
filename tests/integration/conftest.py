"""Local object stores for integration tests: one moto S3 server per session, a fresh bucket per test.

moto listens on 127.0.0.1 only; nothing here talks to a real cloud. moto does not check signatures, so
tests that care about a signature verify it themselves.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

MOTO_START_TIMEOUT = 30.0
AWS_TEST_CONN_ID = "aws_runware_test"
AWS_TEST_REGION = "us-east-1"
AWS_TEST_KEY = "testing"


@dataclass(frozen=True)
class MotoServer:
    """A running moto server; ``endpoint_url`` goes into boto3 clients and Airflow connections."""

    endpoint_url: str
    log_path: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(process: subprocess.Popen[bytes], server: MotoServer) -> None:
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}: {server.log_path.read_text()}")
        try:
            if httpx.get(f"{server.endpoint_url}/moto-api/", timeout=1.0, trust_env=False).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"moto server not answering after {MOTO_START_TIMEOUT} s: {server.log_path.read_text()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """Start ``python -m moto.server`` on a free loopback port once per session."""
    port = _free_port()
    server = MotoServer(
        endpoint_url=f"http://127.0.0.1:{port}",
        log_path=tmp_path_factory.mktemp("moto") / "moto_server.log",
    )
    with server.log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_up(process, server)
        yield server
    finally:
        _stop(process)


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
