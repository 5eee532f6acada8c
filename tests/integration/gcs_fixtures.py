"""GCS for integration tests: one gcp-storage-emulator per session, a fresh bucket per test, a local key.

tests/integration/conftest.py registers these fixtures; pytest starts the emulator only for tests that
use it.

The service-account key is generated here (RSA 2048 via cryptography), never a real one. Its ``token_uri``
points at a closed loopback port: if anything ever tried to trade it for an OAuth token, the attempt
fails at once instead of reaching Google. The emulator accepts any signature, so signed URLs go through
the GCS verifying front (``signature_fronts``), which checks them with this key's public half.
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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from servers import serving
from signature_fronts import Goog4RsaChecker, VerifyingFront

GCS_TEST_CONN_ID = "gcs_runware_test"
GCS_TEST_PROJECT = "runware-test-project"
GCS_TEST_EMAIL = "runware-uploader@runware-test-project.iam.gserviceaccount.com"
# Port 9 (discard) on loopback: nothing listens, so an accidental token refresh fails fast and locally.
DEAD_TOKEN_URI = "http://127.0.0.1:9/token"


@dataclass(frozen=True)
class GcsEmulator:
    """A running gcp-storage-emulator; ``endpoint_url`` is what STORAGE_EMULATOR_HOST would hold."""

    endpoint_url: str
    log_path: Path


@dataclass(frozen=True)
class ServiceAccountKey:
    """A locally generated service-account key: ``info`` is the JSON file's content."""

    info: dict[str, str]
    private_key: rsa.RSAPrivateKey

    @property
    def email(self) -> str:
        return self.info["client_email"]

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()


def new_service_account_key(email: str = GCS_TEST_EMAIL, key_id: str = "test-key-1") -> ServiceAccountKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": GCS_TEST_PROJECT,
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": email,
        "client_id": "100000000000000000001",
        "token_uri": DEAD_TOKEN_URI,
    }
    return ServiceAccountKey(info=info, private_key=private_key)


def gcs_connection(key: ServiceAccountKey | None, emulator_host: str | None) -> str:
    """A ``google_cloud_platform`` connection as JSON for an ``AIRFLOW_CONN_*`` variable."""
    extra: dict[str, Any] = {"project": GCS_TEST_PROJECT}
    if key is not None:
        extra["keyfile_dict"] = json.dumps(key.info)
    if emulator_host is not None:
        extra["storage_emulator_host"] = emulator_host
    return json.dumps({"conn_type": "google_cloud_platform", "extra": extra})


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsEmulator]:
    """``python -m gcp_storage_emulator start --in-memory`` on a free loopback port, once per session."""
    log_path = tmp_path_factory.mktemp("gcs") / "gcs_emulator.log"
    command = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--in-memory"]
    with serving("GCS emulator", lambda port: [*command, "--port", str(port)], log_path) as url:
        yield GcsEmulator(endpoint_url=url, log_path=log_path)


@pytest.fixture(scope="session")
def gcs_client(gcs_emulator: GcsEmulator) -> Any:
    """An anonymous google-cloud-storage client on the emulator, for arranging and inspecting state."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=GCS_TEST_PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": gcs_emulator.endpoint_url},
    )


@pytest.fixture
def gcs_bucket(gcs_client: Any) -> str:
    """A new, uniquely named, empty bucket (tests never see each other's objects)."""
    name = f"runware-test-{uuid.uuid4().hex[:16]}"
    gcs_client.create_bucket(name)
    return name


@pytest.fixture(scope="session")
def gcs_key() -> ServiceAccountKey:
    """The service account the GCS front trusts."""
    return new_service_account_key()


@pytest.fixture(scope="session")
def gcs_wrong_key() -> ServiceAccountKey:
    """Same account email, different private key: what a stale or mixed-up key file looks like."""
    return new_service_account_key(key_id="stale-key")


@pytest.fixture(scope="session")
def _gcs_front_server(gcs_emulator: GcsEmulator, gcs_key: ServiceAccountKey) -> Iterator[VerifyingFront]:
    checker = Goog4RsaChecker({gcs_key.email: gcs_key.public_key})
    with VerifyingFront(gcs_emulator.endpoint_url, checker) as front:
        yield front


@pytest.fixture
def gcs_front(_gcs_front_server: VerifyingFront) -> VerifyingFront:
    """The GCS verifying front (in front of the emulator; trusts ``gcs_key``), with an empty record."""
    _gcs_front_server.reset()
    return _gcs_front_server


@pytest.fixture
def gcs_conn(gcs_front: VerifyingFront, gcs_key: ServiceAccountKey, monkeypatch: pytest.MonkeyPatch) -> str:
    """``AIRFLOW_CONN_GCS_RUNWARE_TEST``: the trusted key, endpoint = the front; returns the conn id."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{GCS_TEST_CONN_ID.upper()}", gcs_connection(gcs_key, gcs_front.url))
    return GCS_TEST_CONN_ID


@pytest.fixture
def gcs_conn_wrong_key(
    gcs_front: VerifyingFront, gcs_wrong_key: ServiceAccountKey, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A connection signing with a key the front does not trust (real GCS would refuse it the same way)."""
    monkeypatch.setenv("AIRFLOW_CONN_GCS_RUNWARE_WRONG_KEY", gcs_connection(gcs_wrong_key, gcs_front.url))
    return "gcs_runware_wrong_key"
