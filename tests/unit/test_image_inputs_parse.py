"""Image inputs: pure parsing (DAG-parse time), what may be shown, and which connection reads them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from airflow_provider_runware.exceptions import RunwareInputNotFoundError, RunwareValidationError
from airflow_provider_runware.storage.inputs import (
    ACCEPTED_INPUT_FORMS,
    ImageInput,
    InputResolver,
    parse_image_input,
)

UUID = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f"


@pytest.mark.parametrize(
    ("reference", "kind", "shown"),
    [
        (UUID, "uuid", UUID),
        (f"  {UUID.upper()}\n", "uuid", UUID),
        ("https://cdn.example.com/p/shoe.png", "url", "https://cdn.example.com/p/shoe.png"),
        (
            "https://cdn.example.com/p/shoe.png?token=s3cr3t-value&v=2",
            "url",
            "https://cdn.example.com/p/shoe.png",
        ),
        ("http://127.0.0.1:9000/shoe.png", "url", "http://127.0.0.1:9000/shoe.png"),
        ("http://localhost/shoe.png", "url", "http://localhost/shoe.png"),
        ("s3://catalogue/photos/shoe 1.png", "s3", "s3://catalogue/photos/shoe 1.png"),
        ("gs://catalogue/photos/shoe.png", "gs", "gs://catalogue/photos/shoe.png"),
        ("gcs://catalogue/photos/shoe.png", "gs", "gcs://catalogue/photos/shoe.png"),
        (
            "wasbs://photos@acct1.blob.core.windows.net/in/shoe.png",
            "azure",
            "wasbs://photos@acct1.blob.core.windows.net/in/shoe.png",
        ),
        ("wasb://photos@acct1.blob.core.windows.net/shoe.png", "azure", None),
        ("abfss://photos@acct1.dfs.core.windows.net/in/shoe.png", "azure", None),
    ],
)
def test_accepted_forms(reference: str, kind: str, shown: str | None) -> None:
    image_input = parse_image_input(reference, "seed_image")

    assert image_input == ImageInput("seed_image", reference.strip(), kind)
    assert image_input.display() == (shown or reference.strip())
    assert str(image_input) == image_input.display()


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("shoe.png", "neither a URI nor an imageUUID"),
        ("6f1c2d3e-4b5a-1c7d-8e9f-0a1b2c3d4e5f", "not a version-4 imageUUID"),
        ("ftp://files.example.com/shoe.png", "unsupported scheme 'ftp'"),
        ("data:image/png;base64," + "A" * 400, "inline image data"),
        ("http://cdn.example.com/shoe.png", "uses plain http"),
        ("https:///shoe.png", "has no host"),
        ("s3://catalogue/photos/", "names a folder"),
        ("s3://catalogue", "names a folder"),
        ("s3:///shoe.png", "not a valid bucket name"),
        ("gs://Bad_Bucket!/shoe.png", "not a valid bucket name"),
        ("gs://catalogue/" + "k" * 1025, "longer than 1024 bytes"),
        ("wasbs://photos@acct1.blob.core.windows.net/in/", "names a folder"),
        ("wasbs://acct1.blob.core.windows.net/in/shoe.png", "no container"),
        ("wasbs://photos@acct1.blob.core.windows.net/in/shoe.png?sv=2024&sig=SECRETSIG", "carries a SAS"),
    ],
)
def test_refused_forms_name_parameter_value_and_accepted_forms(reference: str, problem: str) -> None:
    with pytest.raises(RunwareValidationError, match=problem) as raised:
        parse_image_input(reference, "reference_images[1]")

    message = str(raised.value)
    assert raised.value.parameter == "reference_images[1]"
    assert message.startswith("reference_images[1] ")
    assert "SECRETSIG" not in message
    if problem not in ("uses plain http", "carries a SAS"):
        assert ("accepted: " + ACCEPTED_INPUT_FORMS) in message or "expected" in message
    assert len(message) < 800  # a long value is cut, not echoed whole


def test_secret_query_values_never_reach_the_error() -> None:
    with pytest.raises(RunwareValidationError) as raised:
        parse_image_input("ftp://u:hunter22@files.example.com/shoe.png?token=s3cr3t-token", "mask_image")

    assert "s3cr3t-token" not in str(raised.value)
    assert "hunter22" not in str(raised.value)


@pytest.mark.parametrize("value", [None, 42, b"\x89PNG", {"url": "https://x.example/a.png"}])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(RunwareValidationError, match="must be a string") as raised:
        parse_image_input(value, "requests[3].input_image")

    assert raised.value.parameter == "requests[3].input_image"


def test_input_not_found_is_a_fatal_validation_error() -> None:
    from airflow_provider_runware.compat import AirflowFailException

    assert issubclass(RunwareInputNotFoundError, RunwareValidationError)
    assert issubclass(RunwareInputNotFoundError, AirflowFailException)


# -- connection rule -----------------------------------------------------------------------------

S3_IN = parse_image_input("s3://catalogue/shoe.png", "seed_image")
GS_IN = parse_image_input("gs://catalogue/shoe.png", "seed_image")
AZ_IN = parse_image_input("wasbs://photos@acct1.blob.core.windows.net/shoe.png", "seed_image")


@pytest.mark.parametrize(
    ("storage_conn_id", "output_location", "expected"),
    [
        # same cloud as the output: the user's connection
        (
            "my_aws",
            "s3://out-bucket/run/",
            {"s3": "my_aws", "gs": "google_cloud_default", "azure": "wasb_default"},
        ),
        ("my_gcp", "gs://out/run/", {"s3": "aws_default", "gs": "my_gcp", "azure": "wasb_default"}),
        (
            "my_wasb",
            "wasbs://out@acct1.blob.core.windows.net/run/",
            {"s3": "aws_default", "gs": "google_cloud_default", "azure": "my_wasb"},
        ),
        # no bucket output to tie it to: the user's connection for every bucket input
        ("my_conn", None, {"s3": "my_conn", "gs": "my_conn", "azure": "my_conn"}),
        (
            "my_conn",
            "https://upload.example.com/{object_name}",
            {"s3": "my_conn", "gs": "my_conn", "azure": "my_conn"},
        ),
        # no connection given: defaults
        (None, "s3://out/run/", {"s3": "aws_default", "gs": "google_cloud_default", "azure": "wasb_default"}),
        (None, None, {"s3": "aws_default", "gs": "google_cloud_default", "azure": "wasb_default"}),
    ],
)
def test_connection_rule(
    storage_conn_id: str | None, output_location: str | None, expected: dict[str, str]
) -> None:
    resolver = InputResolver(storage_conn_id, output_location)

    assert {i.kind: resolver.conn_id_for(i) for i in (S3_IN, GS_IN, AZ_IN)} == expected


def test_uuid_and_url_inputs_need_no_connection_and_no_io() -> None:
    resolver = InputResolver("my_aws", "s3://out/run/")
    uuid_input = parse_image_input(UUID.upper(), "seed_image")
    url_input = parse_image_input("https://cdn.example.com/shoe.png?sig=abc123secret", "seed_image")

    resolver.check(uuid_input)
    resolver.check(url_input)

    assert resolver.conn_id_for(uuid_input) is None
    assert resolver.wire_value(uuid_input, timedelta(minutes=5)) == UUID
    assert resolver.wire_value(url_input, timedelta(minutes=5)) == url_input.reference


def test_url_input_query_values_are_registered_with_the_masker() -> None:
    from airflow_provider_runware.compat import redact

    url_input = parse_image_input("https://cdn.example.com/shoe.png?sig=abc123secretvalue", "seed_image")
    InputResolver(None, None).wire_value(url_input, timedelta(minutes=5))

    assert "abc123secretvalue" not in str(redact("fetching abc123secretvalue"))


def test_parsing_inputs_imports_no_cloud_sdk() -> None:
    """parse_image_input runs at DAG-parse time: no boto3, google or azure SDK may come with it."""
    code = (
        "import sys, json\n"
        "from airflow_provider_runware.storage.inputs import parse_image_input, InputResolver\n"
        "parse_image_input('s3://b-1/k.png', 'seed_image')\n"
        "InputResolver('c', 's3://b-1/out/')\n"
        "heavy = ['boto3', 'botocore', 'google.cloud.storage', 'azure.storage.blob']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []
