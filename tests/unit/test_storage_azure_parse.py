"""Azure output locations without a server: URI forms, refusals, block ids, credential kinds.

Connections come from ``AIRFLOW_CONN_*`` variables; building a client does no I/O, and the one call that
would (a user delegation key) is replaced by a stand-in. Azurite-backed behaviour is in
``tests/integration/test_storage_azure.py``.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_runware.exceptions import RunwareValidationError
from airflow_provider_runware.storage import (
    AzureBlobOutputLocation,
    HttpOutputLocation,
    parse_output_location,
)
from airflow_provider_runware.storage.azure import block_id_for, content_type_for

TEN_MINUTES = timedelta(minutes=10)
ACCOUNT = "runwaretest"
# Any base64 string is a well-formed account key; this one opens nothing.
FAKE_KEY = base64.b64encode(b"unit-test-account-key" * 3).decode()


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **connection: Any) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "wasb", **connection}))
    return conn_id


@pytest.fixture
def key_conn(monkeypatch: pytest.MonkeyPatch) -> str:
    """Account name + key, no host: the endpoint is https://runwaretest.blob.core.windows.net."""
    return set_connection(monkeypatch, "wasb_unit_key", login=ACCOUNT, password=FAKE_KEY)


# ----- URI forms ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "container", "prefix", "display"),
    [
        (
            f"wasbs://images@{ACCOUNT}.blob.core.windows.net/campaign/",
            "images",
            "campaign/",
            f"wasbs://images@{ACCOUNT}.blob.core.windows.net/campaign/",
        ),
        (
            f"wasb://images@{ACCOUNT}.blob.core.windows.net/campaign",
            "images",
            "campaign/",
            f"wasb://images@{ACCOUNT}.blob.core.windows.net/campaign/",
        ),
        (
            f"  WASBS://images@{ACCOUNT.upper()}.blob.core.windows.net\n",
            "images",
            "",
            f"wasbs://images@{ACCOUNT}.blob.core.windows.net/",
        ),
        (
            f"abfss://lake-01@{ACCOUNT}.dfs.core.windows.net/raw/img/",
            "lake-01",
            "raw/img/",
            f"abfss://lake-01@{ACCOUNT}.dfs.core.windows.net/raw/img/",
        ),
        (
            f"abfs://lake-01@{ACCOUNT}.blob.core.chinacloudapi.cn/x",
            "lake-01",
            "x/",
            f"abfs://lake-01@{ACCOUNT}.blob.core.chinacloudapi.cn/x/",
        ),
        (
            f"wasbs://images@{ACCOUNT}.blob.core.windows.net/odd#name?/",
            "images",
            "odd#name?/",
            f"wasbs://images@{ACCOUNT}.blob.core.windows.net/odd#name?/",
        ),
    ],
)
def test_azure_uris_become_azure_locations(value: str, container: str, prefix: str, display: str) -> None:
    location = parse_output_location(value, None)

    assert isinstance(location, AzureBlobOutputLocation)
    assert (location.container, location.account, location.prefix) == (container, ACCOUNT, prefix)
    assert location.wasb_conn_id == "wasb_default"
    assert location.display_uri == display
    assert location.uri_for("a/b.png") == f"{display}a/b.png"
    assert location.supports_many
    assert location.max_expiry == timedelta(days=7)


def test_storage_conn_id_is_passed_through() -> None:
    location = parse_output_location(f"wasbs://images@{ACCOUNT}.blob.core.windows.net/", "wasb_team")
    assert isinstance(location, AzureBlobOutputLocation)
    assert location.wasb_conn_id == "wasb_team"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (f"wasbs://{ACCOUNT}.blob.core.windows.net/x/", "no container"),
        (f"wasbs://@{ACCOUNT}.blob.core.windows.net/x/", "no container"),
        (f"wasbs://Images@{ACCOUNT}.blob.core.windows.net/x/", "not a valid container name"),
        (f"wasbs://a--b@{ACCOUNT}.blob.core.windows.net/x/", "not a valid container name"),
        (f"wasbs://ab@{ACCOUNT}.blob.core.windows.net/x/", "not a valid container name"),
        ("wasbs://images@uploads.example.com/x/", "not an Azure storage endpoint"),
        ("wasbs://images@account/x/", "not an Azure storage endpoint"),
        (f"wasbs://images@{ACCOUNT}.dfs.core.windows.net/x/", "not an Azure storage endpoint"),
        ("wasbs://images@my_account.blob.core.windows.net/x/", "not a valid storage account name"),
        (f"wasbs://images@{ACCOUNT}.blob.core.windows.net/x/?sv=2024&sp=w&sig=SECRET", "carries a SAS"),
    ],
)
def test_malformed_azure_uris_are_refused_naming_value_and_form(value: str, rule: str) -> None:
    with pytest.raises(RunwareValidationError) as raised:
        parse_output_location(value, None)

    message = str(raised.value)
    assert rule in message
    assert value.split("?")[0] in message
    assert "SECRET" not in message
    assert "wasbs://container@account.blob.core.windows.net/prefix/" in message
    assert raised.value.parameter == "output_location"


def test_https_blob_url_stays_the_pass_through_location() -> None:
    url = f"https://{ACCOUNT}.blob.core.windows.net/images/one.png?sv=2024&sig=SECRETSIGNATURE"
    location = parse_output_location(url, None)

    assert isinstance(location, HttpOutputLocation)
    assert location.target_for("x.png", TEN_MINUTES).upload_url == url


def test_importing_storage_does_not_import_azure() -> None:
    # Counted from after start-up: an old azure-kusto-data's *-nspkg.pth (Airflow 3.0's era) puts the
    # empty ``azure`` namespace into sys.modules before any import.
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import airflow_provider_runware.storage\n"
        "heavy = ('azure', 'airflow.providers.microsoft.azure.hooks')\n"
        "print(','.join(m for m in set(sys.modules) - before if m.startswith(heavy)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


# ----- block ids and content types ------------------------------------------------------------------


def test_block_id_is_deterministic_fixed_length_and_per_blob() -> None:
    first = block_id_for("out/a/image-0.jpg")

    assert first == block_id_for("out/a/image-0.jpg")
    assert first != block_id_for("out/a/image-1.jpg")
    assert len(first) == len(block_id_for("x")) == 48
    encoded = base64.b64encode(first.encode()).decode()
    assert len(encoded) <= 64
    assert not encoded.endswith("=")


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("a/image-0.jpg", "image/jpeg"),
        ("a/image-0.JPEG", "image/jpeg"),
        ("a/image-0.png", "image/png"),
        ("a/image-0.webp", "image/webp"),
        ("manifest.json", "application/json"),
        ("notes.txt", "text/plain"),
        ("no-extension", "application/octet-stream"),
    ],
)
def test_content_type_comes_from_the_extension(name: str, content_type: str) -> None:
    assert content_type_for(name) == content_type


# ----- account-key connections ----------------------------------------------------------------------


def test_key_connection_signs_a_write_only_https_put_block_url(key_conn: str) -> None:
    location = parse_output_location(f"wasbs://images@{ACCOUNT}.blob.core.windows.net/out/", key_conn)

    target = location.target_for("c/img 0.jpg", TEN_MINUTES)

    base, _, _ = target.upload_url.partition("?")
    assert base == f"https://{ACCOUNT}.blob.core.windows.net/images/out/c/img%200.jpg"
    params = query(target.upload_url)
    assert (params["sp"], params["sr"], params["spr"], params["comp"]) == ("w", "b", "https", "block")
    assert base64.b64decode(params["blockid"]).decode() == block_id_for("out/c/img 0.jpg")
    expiry = datetime.strptime(params["se"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(expiry - datetime.now(UTC) - TEN_MINUTES) < timedelta(seconds=5)
    assert "st" not in params, "no start time: a skewed clock must not make a fresh URL invalid"
    assert target.uri == f"wasbs://images@{ACCOUNT}.blob.core.windows.net/out/c/img 0.jpg"
    assert params["sig"] not in repr(target) + str(target)


def test_expiry_limits(key_conn: str) -> None:
    location = parse_output_location(f"wasbs://images@{ACCOUNT}.blob.core.windows.net/out/", key_conn)

    assert location.target_for("week.png", timedelta(days=7)).upload_url
    with pytest.raises(RunwareValidationError, match="exceeds the maximum") as raised:
        location.target_for("longer.png", timedelta(days=7, seconds=1))
    assert raised.value.parameter == "expires_in"
    with pytest.raises(RunwareValidationError, match="at least 1 second"):
        location.target_for("dead.png", timedelta(0))


def test_a_connection_for_another_account_is_refused_before_signing(key_conn: str) -> None:
    location = parse_output_location("wasbs://images@someoneelse.blob.core.windows.net/out/", key_conn)

    with pytest.raises(RunwareValidationError) as raised:
        location.target_for("x.png", TEN_MINUTES)

    assert raised.value.parameter == "storage_conn_id"
    assert "someoneelse" in str(raised.value)
    assert ACCOUNT in str(raised.value)


def test_a_missing_connection_is_refused() -> None:
    location = parse_output_location(f"wasbs://images@{ACCOUNT}.blob.core.windows.net/", "wasb_nope")

    with pytest.raises(RunwareValidationError, match="does not exist") as raised:
        location.validate()
    assert raised.value.parameter == "storage_conn_id"
    assert "wasb_nope" in str(raised.value)


def test_plain_http_endpoint_is_refused_unless_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = set_connection(
        monkeypatch,
        "wasb_unit_http",
        login=ACCOUNT,
        password=FAKE_KEY,
        host=f"http://{ACCOUNT}.blob.core.windows.net",
    )
    location = parse_output_location(f"wasbs://images@{ACCOUNT}.blob.core.windows.net/", conn)

    with pytest.raises(RunwareValidationError, match="use https") as raised:
        location.validate()
    assert raised.value.parameter == "storage_conn_id"
    assert FAKE_KEY not in str(raised.value)


def _raise_from_container_check(monkeypatch: pytest.MonkeyPatch, error_code: str) -> None:
    from azure.core.exceptions import HttpResponseError
    from azure.storage.blob import ContainerClient

    def refuse(self: Any, **kwargs: Any) -> None:
        error = HttpResponseError(message="refused")
        error.status_code = 403
        error.error_code = error_code  # type: ignore[attr-defined]
        raise error

    monkeypatch.setattr(ContainerClient, "get_container_properties", refuse)


def test_azure_refusing_the_account_key_fails_validation(
    key_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _raise_from_container_check(monkeypatch, "AuthenticationFailed")
    location = parse_output_location(f"wasbs://images@{ACCOUNT}.blob.core.windows.net/", key_conn)

    with pytest.raises(RunwareValidationError, match="AuthenticationFailed") as raised:
        location.validate()
    assert raised.value.parameter == "storage_conn_id"
    assert FAKE_KEY not in str(raised.value)


def test_other_refusals_of_the_container_check_are_left_to_the_upload(
    key_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A firewall (AuthorizationFailure) may block us but not Runware: not a reason to refuse."""
    _raise_from_container_check(monkeypatch, "AuthorizationFailure")
    location = parse_output_location(f"wasbs://images@{ACCOUNT}.blob.core.windows.net/", key_conn)

    location.validate()


# ----- connections that cannot sign -----------------------------------------------------------------


@pytest.mark.parametrize(
    "connection",
    [
        pytest.param(
            {"login": ACCOUNT, "extra": {"sas_token": "sv=2024-01-01&sp=rw&sig=CONNSIG"}}, id="sas_token"
        ),
        pytest.param(
            {"extra": {"sas_token": f"https://{ACCOUNT}.blob.core.windows.net/?sv=2024&sig=CONNSIG"}},
            id="sas_token-url",
        ),
        pytest.param(
            {
                "extra": {
                    "connection_string": f"BlobEndpoint=https://{ACCOUNT}.blob.core.windows.net/;"
                    "SharedAccessSignature=sv=2024-01-01&sp=rw&sig=CONNSIG"
                }
            },
            id="connection-string-sas",
        ),
    ],
)
def test_a_sas_only_connection_is_refused_clearly(
    monkeypatch: pytest.MonkeyPatch, connection: dict[str, Any]
) -> None:
    conn = set_connection(monkeypatch, "wasb_unit_sas", **connection)
    location = parse_output_location(f"wasbs://images@{ACCOUNT}.blob.core.windows.net/out/", conn)

    for attempt in (location.validate, lambda: location.target_for("x.png", TEN_MINUTES)):
        with pytest.raises(RunwareValidationError, match="only a SAS token") as raised:
            attempt()
        assert raised.value.parameter == "storage_conn_id"
        assert "CONNSIG" not in str(raised.value)


# ----- token credentials: user delegation key -------------------------------------------------------


@pytest.fixture
def token_conn(monkeypatch: pytest.MonkeyPatch) -> str:
    """A service principal (tenant_id): WasbHook builds a ClientSecretCredential; no token is fetched."""
    return set_connection(
        monkeypatch,
        "wasb_unit_token",
        login="00000000-0000-0000-0000-0000000000aa",
        password="client-secret-value",
        host=f"https://{ACCOUNT}.blob.core.windows.net",
        extra={"tenant_id": "00000000-0000-0000-0000-0000000000bb"},
    )


def _fake_delegation_keys(monkeypatch: pytest.MonkeyPatch) -> list[tuple[datetime, datetime]]:
    from azure.storage.blob import BlobServiceClient, UserDelegationKey

    calls: list[tuple[datetime, datetime]] = []

    def get_user_delegation_key(self: Any, start: datetime, expiry: datetime, **kwargs: Any) -> Any:
        calls.append((start, expiry))
        key = UserDelegationKey()
        key.signed_oid = "11111111-1111-1111-1111-111111111111"
        key.signed_tid = "00000000-0000-0000-0000-0000000000bb"
        key.signed_start = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        key.signed_expiry = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
        key.signed_service = "b"
        key.signed_version = "2025-11-05"
        key.value = base64.b64encode(b"delegation-key-bytes").decode()
        return key

    monkeypatch.setattr(BlobServiceClient, "get_user_delegation_key", get_user_delegation_key)
    return calls


def test_token_connection_signs_with_one_user_delegation_key(
    token_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_delegation_keys(monkeypatch)
    location = parse_output_location(f"wasbs://images@{ACCOUNT}.blob.core.windows.net/out/", token_conn)

    first = location.target_for("a.png", TEN_MINUTES)
    second = location.target_for("b.png", TEN_MINUTES)

    assert len(calls) == 1, "one delegation key serves every URL of the location"
    start, key_expiry = calls[0]
    now = datetime.now(UTC)
    assert start < now
    assert timedelta(days=6) < key_expiry - now <= timedelta(days=7)
    for target in (first, second):
        params = query(target.upload_url)
        assert (params["sp"], params["sr"], params["spr"], params["comp"]) == ("w", "b", "https", "block")
        assert params["skoid"] == "11111111-1111-1111-1111-111111111111"
        assert "st" in params, "a delegation SAS starts a little in the past (clock skew)"
        assert target.upload_url.startswith(f"https://{ACCOUNT}.blob.core.windows.net/images/out/")
    assert query(first.upload_url)["sig"] != query(second.upload_url)["sig"]


def test_token_connection_without_delegation_rights_fails_validation(
    token_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.core.exceptions import HttpResponseError
    from azure.storage.blob import BlobServiceClient

    def forbidden(self: Any, *args: Any, **kwargs: Any) -> None:
        error = HttpResponseError(message="not allowed")
        error.status_code = 403
        error.error_code = "AuthorizationPermissionMismatch"  # type: ignore[attr-defined]
        raise error

    monkeypatch.setattr(BlobServiceClient, "get_user_delegation_key", forbidden)
    location = parse_output_location(f"wasbs://images@{ACCOUNT}.blob.core.windows.net/", token_conn)

    with pytest.raises(RunwareValidationError, match="user delegation key") as raised:
        location.validate()
    assert raised.value.parameter == "storage_conn_id"
    assert "AuthorizationPermissionMismatch" in str(raised.value)
    assert "client-secret-value" not in str(raised.value)
