"""Azurite (Microsoft's Azure Storage emulator) for the Azure output tests: one per session, a fresh
container per test, and an Airflow wasb connection pointing at it.

Unlike moto, Azurite checks SAS signatures, expiry and permissions, so what it refuses real Azure refuses
too. It listens on 127.0.0.1 only. ``make test`` installs it into ``.azurite/``; without it these tests
fail (never skip), so a missing install step cannot pass CI unnoticed.

Import the fixtures explicitly: ``from azure_fixtures import azurite_fixture as azurite_fixture`` etc.
(the ``as`` form marks a deliberate re-export; the fixture names are ``azurite``, ``azure_container``,
``wasb_conn``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from servers import serving

REPO_ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = REPO_ROOT / ".azurite" / "node_modules" / ".bin" / "azurite-blob"
# The well-known development account every Azure SDK and Azurite ship (not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
WASB_TEST_CONN_ID = "wasb_runware_test"


@dataclass(frozen=True)
class Azurite:
    """A running Azurite blob service; ``blob_endpoint`` is the account URL (path-style, as Azurite wants)."""

    root_url: str
    log_path: Path

    @property
    def blob_endpoint(self) -> str:
        return f"{self.root_url}/{AZURITE_ACCOUNT}"

    def connection(self, account_key: str = AZURITE_KEY) -> dict[str, Any]:
        """An Airflow wasb connection (account name + key, endpoint in host) as a JSON-able dict."""
        return {
            "conn_type": "wasb",
            "login": AZURITE_ACCOUNT,
            "password": account_key,
            "host": self.blob_endpoint,
        }

    def location(self, container: str, prefix: str = "out/") -> str:
        """The ``output_location`` a user writes; the endpoint comes from the connection."""
        return f"wasbs://{container}@{AZURITE_ACCOUNT}.blob.core.windows.net/{prefix}"


@pytest.fixture(scope="session", name="azurite")
def azurite_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """``azurite-blob`` on a free loopback port, in memory, once per session."""
    if not AZURITE_BIN.exists():
        pytest.fail(
            f"Azurite is not installed ({AZURITE_BIN.relative_to(REPO_ROOT)} is missing): run `make test`, "
            "which installs it (npm install --prefix .azurite azurite@3.35.0)",
            pytrace=False,
        )
    log_path = tmp_path_factory.mktemp("azurite") / "azurite.log"
    command = [
        str(AZURITE_BIN),
        *("--blobHost", "127.0.0.1"),
        "--inMemoryPersistence",
        "--disableTelemetry",
        # azure-storage-blob speaks a newer API version than Azurite 3.35 knows.
        "--skipApiVersionCheck",
        "--silent",
    ]
    with serving(
        "Azurite",
        lambda port: [*command, "--blobPort", str(port)],
        log_path,
        health=f"/{AZURITE_ACCOUNT}?comp=list",
        ready=lambda _: True,  # any HTTP answer means it is listening (an unsigned request gets 4xx)
        cwd=REPO_ROOT,
    ) as url:
        yield Azurite(root_url=url, log_path=log_path)


@pytest.fixture(scope="session", name="blob_service")
def blob_service_fixture(azurite: Azurite) -> Any:
    """A plain SDK client on Azurite, for arranging and inspecting test state (not the code under test)."""
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient(
        account_url=azurite.blob_endpoint,
        credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY},
    )


@pytest.fixture(name="azure_container")
def azure_container_fixture(blob_service: Any) -> Iterator[str]:
    """A new, uniquely named, empty container (tests never see each other's blobs)."""
    name = f"runware-{uuid.uuid4().hex[:16]}"
    blob_service.create_container(name)
    yield name
    blob_service.delete_container(name)


@pytest.fixture(name="wasb_conn")
def wasb_conn_fixture(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow wasb connection (from the environment) with the account key; returns its id."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{WASB_TEST_CONN_ID.upper()}", json.dumps(azurite.connection()))
    return WASB_TEST_CONN_ID
