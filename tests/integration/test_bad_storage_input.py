"""Bad output locations fail the task before Runware is asked for (and paid for) anything."""

from __future__ import annotations

import pytest
from airflow_runs import run_dag
from emulator_handle import EmulatorHandle

SCENARIOS = "runware_scenarios.py"


@pytest.mark.parametrize(
    ("location", "conn_id", "expected"),
    [
        ("ftp://files.example.com/x/", "", "scheme 'ftp' is not supported"),
        ("campaign-images/", "", "has no URI scheme"),
        ("s3:///no-bucket/", "{aws_conn}", "bucket"),
        ("s3://{bucket}/x/", "no_such_connection", "no_such_connection"),
        ("s3://bucket-that-does-not-exist-42/x/", "{aws_conn}", "does not exist"),
        ("gs://some-bucket/x/", "no_such_google_connection", "no_such_google_connection"),
        ("http://uploads.example.com/{{object_name}}", "", "plain http"),
        ("https://uploads.example.com/fixed.png", "", "one fixed URL"),
    ],
)
def test_bad_location_fails_before_any_runware_call(
    airflow: EmulatorHandle,
    s3_bucket: str,
    aws_conn: str,
    capfd: pytest.CaptureFixture[str],
    location: str,
    conn_id: str,
    expected: str,
) -> None:
    conf = {
        "output_location": location.replace("{bucket}", s3_bucket).replace(
            "{{object_name}}", "{object_name}"
        ),
        "storage_conn_id": conn_id.replace("{aws_conn}", aws_conn),
    }
    outcome = run_dag(SCENARIOS, "runware_to_s3", conf=conf)
    assert outcome.state == "failed"
    assert airflow.requests() == [], "nothing was sent to Runware"
    output = capfd.readouterr()
    assert expected in output.out + output.err


def test_upload_urls_that_cannot_outlive_the_timeout_are_refused(
    airflow: EmulatorHandle, s3_bucket: str, aws_conn: str, capfd: pytest.CaptureFixture[str]
) -> None:
    conf = {"output_location": f"s3://{s3_bucket}/x/", "storage_conn_id": aws_conn}
    outcome = run_dag(SCENARIOS, "runware_upload_urls_outlive_s3", conf=conf)
    assert outcome.state == "failed"
    assert airflow.requests() == []
    output = capfd.readouterr()
    assert "lower the timeout" in output.out + output.err
