"""Checks the S3, GCS and Azure output-location tests share, and the PUT Runware makes with an upload URL.

``prefix`` is the signing scheme's query-parameter prefix: ``X-Amz`` (S3 SigV4) or ``X-Goog`` (GCS V4).
tests/integration/conftest.py registers this module for pytest's assertion rewriting.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from airflow_provider_runware.exceptions import RunwareUploadError, RunwareValidationError
from airflow_provider_runware.storage import OutputLocation, UploadTarget
from airflow_provider_runware.storage.base import strip_secrets


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def s3_reader(client: Any, bucket: str) -> Callable[[str], bytes | None]:
    """Read an object of ``bucket`` by key through a boto3 ``client``; ``None`` when it does not exist."""

    def read(key: str) -> bytes | None:
        try:
            return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())
        except client.exceptions.NoSuchKey:
            return None

    return read


def gcs_reader(client: Any, bucket: str) -> Callable[[str], bytes | None]:
    """Read an object of ``bucket`` by name through a google-cloud-storage ``client``; ``None`` if absent."""

    def read(name: str) -> bytes | None:
        blob = client.bucket(bucket).get_blob(name)
        return None if blob is None else bytes(blob.download_as_bytes())

    return read


def runware_put(url: str, content: bytes, method: str = "PUT") -> httpx.Response:
    """What Runware does with an uploadEndpoint: a PUT of the raw bytes, no headers of ours."""
    return httpx.request(method, url, content=content, timeout=10.0, trust_env=False)


def assert_validate_refuses(location: OutputLocation, match: str, parameter: str, *named: str) -> None:
    """``validate()`` raises a RunwareValidationError matching ``match``, blaming ``parameter``, whose
    message contains each of ``named``."""
    with pytest.raises(RunwareValidationError, match=match) as raised:
        location.validate()
    assert raised.value.parameter == parameter
    for text in named:
        assert text in str(raised.value)


def assert_seven_days_is_the_limit(location: OutputLocation, prefix: str) -> None:
    week = location.target_for("week.png", timedelta(days=7))
    assert query(week.upload_url)[f"{prefix}-Expires"] == str(7 * 24 * 3600)
    with pytest.raises(RunwareValidationError, match="exceeds the maximum") as raised:
        location.target_for("longer.png", timedelta(days=7, seconds=1))
    assert raised.value.parameter == "expires_in"


def assert_target_hides_the_signature(target: UploadTarget, prefix: str) -> None:
    """Neither the signature nor any signing parameter shows in the target's repr or str."""
    signature = query(target.upload_url)[f"{prefix}-Signature"]
    for shown in (repr(target), str(target), f"{target}", repr([target])):
        assert signature not in shown
        assert prefix not in shown
    assert str(target) == target.uri


def assert_masker_hides_the_signature(target: UploadTarget, prefix: str) -> None:
    """The signed URL and the bare signature are both registered with Airflow's secrets masker."""
    from airflow_provider_runware.compat import redact

    signature = query(target.upload_url)[f"{prefix}-Signature"]
    assert signature not in str(redact(f"url={target.upload_url}"))
    assert signature not in str(redact(f"sig={signature}"))


def assert_masker_learns_credentials_not_urls(location: OutputLocation, signature_param: str) -> None:
    """Only the credential values of each signed URL join the masker, never the URL itself: Airflow
    recompiles the union of every registered string on each new one (in the task process and in its
    supervisor), so whole URLs made presigning a 100-row chunk quadratic (about 30 s here)."""
    masker = _secrets_masker()
    before = set(masker.patterns)
    targets = [location.target_for(f"chunk/row-{row}.png", timedelta(minutes=5)) for row in range(20)]
    added = {re.sub(r"\\(.)", r"\1", pattern) for pattern in set(masker.patterns) - before}
    signatures = {query(target.upload_url)[signature_param] for target in targets}
    assert signatures <= added
    for target in targets:
        assert target.upload_url not in added
        assert strip_secrets(target.upload_url) not in " ".join(added)
    # The signature per URL, plus values shared by every URL (credential scope, token), in any of
    # the forms the URL writes them: never a number of strings that grows beyond that.
    assert len(added) <= 2 * len(targets) + 4, sorted(added)


def _secrets_masker() -> Any:
    try:
        from airflow.sdk.log import _secrets_masker as masker
    except ImportError:  # Airflow 3.0
        from airflow.sdk.execution_time.secrets_masker import _secrets_masker as masker
    return masker()


def assert_verify_of_missing_object_names_uri_not_signature(
    location: OutputLocation, expected_uri: str, prefix: str
) -> None:
    """``verify`` of ``never/uploaded.png`` (never uploaded) names ``expected_uri`` and no signature."""
    target = location.target_for("never/uploaded.png", timedelta(minutes=5))

    with pytest.raises(RunwareUploadError) as raised:
        location.verify(target)

    message = str(raised.value)
    assert expected_uri in message
    assert query(target.upload_url)[f"{prefix}-Signature"] not in message
    assert prefix not in message
