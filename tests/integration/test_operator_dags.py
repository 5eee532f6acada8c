"""The operator and sensor through real Airflow machinery (dag.test) against the emulator and moto.

The emulator's request log is the ground truth for "never pay twice": every imageInference task it
received is a potential charge.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from airflow_runs import DagOutcome, printed, run_dag
from emulator_handle import EmulatorHandle

SCENARIOS = "runware_scenarios.py"


def submissions(runware: EmulatorHandle) -> Counter[str]:
    """imageInference submissions per taskUUID (a count above 1 is a resubmission)."""
    return Counter(entry["taskUUID"] for entry in runware.tasks_of_type("imageInference"))


def generations(runware: EmulatorHandle) -> int:
    return len(runware.requests("generation"))


def only_result(outcome: DagOutcome, task_id: str = "generate") -> list[dict[str, Any]]:
    (value,) = outcome.xcom(task_id)
    assert isinstance(value, list)
    return value


@pytest.mark.parametrize("mode", ["deferrable", "blocking"])
def test_generates_and_returns_small_xcom(airflow: EmulatorHandle, mode: str) -> None:
    outcome = run_dag(SCENARIOS, f"runware_basic_{mode}")
    assert outcome.state == "success"
    images = only_result(outcome)
    assert [image["index"] for image in images] == [0, 1]
    for image in images:
        assert image["image_url"].startswith("http://127.0.0.1")
        assert image["cost"] == 0.016
        assert image["width"] == image["height"] == 256
        assert image["positive_prompt"] == "a ceramic mug"
    assert len(json.dumps(images)) < 2000
    assert set(submissions(airflow).values()) == {1}
    assert outcome.xcom("generate", key="runware_task_uuids") == [[image["task_uuid"] for image in images]]


@pytest.mark.parametrize("mode", ["deferrable", "blocking"])
def test_an_answer_lost_after_runware_accepted_is_resent_and_polled_not_paid_twice(
    airflow: EmulatorHandle, mode: str
) -> None:
    airflow.fault(kind="drop_connection", task_type="imageInference", after=True, count=1)
    outcome = run_dag(SCENARIOS, f"runware_basic_{mode}")
    assert outcome.state == "success"
    assert outcome.tasks["generate"] == ("success", 1)
    answers = Counter(
        (entry["taskUUID"], entry["status"]) for entry in airflow.tasks_of_type("imageInference")
    )
    uuids = {task_uuid for task_uuid, _ in answers}
    assert len(uuids) == 2
    assert all(answers[(task_uuid, 400)] == 1 for task_uuid in uuids), "the resend met conflictTaskUUID"
    assert generations(airflow) == 2
    assert len(only_result(outcome)) == 2


@pytest.mark.parametrize("mode", ["deferrable", "blocking"])
def test_a_post_that_never_completed_is_sent_again_under_the_same_uuid(
    airflow: EmulatorHandle, mode: str
) -> None:
    airflow.fault(kind="drop_connection", task_type="imageInference", count=6)
    outcome = run_dag(SCENARIOS, f"runware_retry_{mode}")
    assert outcome.state == "success"
    assert outcome.tasks["generate"] == ("success", 2)
    sent = submissions(airflow)
    assert len(sent) == 2, "try 2 sent the very UUIDs try 1 recorded before its POST"
    assert generations(airflow) == 2
    assert len(only_result(outcome)) == 2


@pytest.mark.parametrize("mode", ["deferrable", "blocking"])
def test_a_try_killed_while_waiting_is_picked_up_by_the_next_without_paying_again(
    airflow: EmulatorHandle, mode: str
) -> None:
    """Airflow itself kills try 1 (execution_timeout) while Runware is still generating."""
    airflow.fault(kind="queue_delay", seconds=4)
    outcome = run_dag(SCENARIOS, f"runware_killed_while_waiting_{mode}")
    assert outcome.state == "success", outcome.tasks
    assert outcome.tasks["generate"][1] >= 2, "at least one try was killed"
    assert set(submissions(airflow).values()) == {1}
    assert generations(airflow) == 2
    assert len(only_result(outcome)) == 2


def test_a_cleared_run_without_stored_state_derives_the_same_uuids_and_pays_nothing(
    airflow: EmulatorHandle,
) -> None:
    when = datetime(2026, 11, 20, 6, tzinfo=UTC)
    first = run_dag(SCENARIOS, "runware_basic_deferrable", logical_date=when)
    second = run_dag(SCENARIOS, "runware_basic_deferrable", logical_date=when)
    assert first.run_id == second.run_id
    assert second.state == "success"
    answers = Counter(
        (entry["taskUUID"], entry["status"]) for entry in airflow.tasks_of_type("imageInference")
    )
    uuids = {task_uuid for task_uuid, _ in answers}
    assert len(uuids) == 2, "the re-run derived the very same taskUUIDs"
    assert all(answers[(task_uuid, 200)] == 1 for task_uuid in uuids)
    assert generations(airflow) == 2, "Runware generated (and billed) each image once"
    assert [i["task_uuid"] for i in only_result(second)] == [i["task_uuid"] for i in only_result(first)]


@pytest.mark.parametrize("mode", ["deferrable", "blocking"])
def test_a_task_runware_forgot_fails_by_name_and_is_never_resubmitted(
    airflow: EmulatorHandle, mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    airflow.fault(kind="amnesia")
    outcome = run_dag(SCENARIOS, f"runware_retry_{mode}")
    assert outcome.state == "failed"
    assert set(submissions(airflow).values()) == {1}, "a forgotten task is never sent again"
    text = printed(capfd)
    assert "RunwareLostTaskError" in text
    assert "set `regenerate`" in text
    for task_uuid in submissions(airflow):
        assert task_uuid in text


@pytest.mark.parametrize("mode", ["deferrable", "blocking"])
def test_retry_regenerates_only_the_failed_image(airflow: EmulatorHandle, mode: str) -> None:
    airflow.fault(kind="fail_generation", count=1, code="inferenceError", message="GPU on fire")
    outcome = run_dag(SCENARIOS, f"runware_partial_then_retry_{mode}")
    assert outcome.state == "success"
    assert outcome.tasks["generate"] == ("success", 2)
    counts = submissions(airflow)
    assert len(counts) == 4, "3 images + 1 regeneration under a new taskUUID"
    assert set(counts.values()) == {1}
    images = only_result(outcome)
    assert sorted(image["index"] for image in images) == [0, 1, 2]


@pytest.mark.parametrize("mode", ["deferrable", "blocking"])
def test_failed_generation_fails_with_runwares_details(
    airflow: EmulatorHandle, mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    airflow.fault(kind="fail_generation", count=1, code="inferenceError", message="GPU on fire")
    outcome = run_dag(SCENARIOS, f"runware_generation_fails_{mode}")
    assert outcome.state == "failed"
    (task_uuid,) = submissions(airflow)
    text = printed(capfd)
    assert "RunwareGenerationError" in text
    assert "inferenceError" in text
    assert "GPU on fire" in text
    assert task_uuid in text


@pytest.mark.parametrize("mode", ["deferrable", "blocking"])
def test_timeout_fails_clearly_naming_the_tasks(
    airflow: EmulatorHandle, mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    airflow.fault(kind="queue_delay", seconds=30)
    outcome = run_dag(SCENARIOS, f"runware_times_out_{mode}")
    assert outcome.state == "failed"
    (task_uuid,) = submissions(airflow)
    output = printed(capfd)
    assert "RunwareTaskTimeoutError" in output
    assert task_uuid in output


def test_bad_rendered_value_fails_before_any_http(
    airflow: EmulatorHandle, capfd: pytest.CaptureFixture[str]
) -> None:
    outcome = run_dag(SCENARIOS, "runware_bad_rendered_value")
    assert outcome.state == "failed"
    assert outcome.tasks["generate"][1] == 1
    assert airflow.requests() == []
    output = printed(capfd)
    assert "width='500x500' is invalid" in output


def test_cost_guard_refuses_before_submitting(
    airflow: EmulatorHandle, capfd: pytest.CaptureFixture[str]
) -> None:
    outcome = run_dag(SCENARIOS, "runware_cost_guard")
    assert outcome.state == "failed"
    assert airflow.tasks_of_type("imageInference") == []
    output = printed(capfd)
    assert "exceeds max_cost_usd" in output


def test_base64_outputs_land_in_s3_not_in_xcom(
    airflow: EmulatorHandle, s3_bucket: str, aws_conn: str, s3_client: Any
) -> None:
    outcome = run_dag(
        SCENARIOS,
        "runware_to_s3",
        conf={"output_location": f"s3://{s3_bucket}/renders/", "storage_conn_id": aws_conn},
    )
    assert outcome.state == "success"
    images = only_result(outcome)
    keys = sorted(obj["Key"] for obj in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert [image["storage_uri"] for image in images] == [f"s3://{s3_bucket}/{key}" for key in keys]
    for image in images:
        assert image["bytes"] > 0
        assert "image_url" not in image
    xcom_text = json.dumps(images)
    assert "X-Amz-Signature" not in xcom_text
    assert len(xcom_text) < 3000
    uploads = airflow.requests("upload")
    assert len(uploads) == 2
    assert all("?" not in entry.get("target", "") for entry in uploads)


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_sensor_waits_for_submitted_tasks(airflow: EmulatorHandle, mode: str) -> None:
    airflow.fault(kind="queue_delay", seconds=1)
    outcome = run_dag(SCENARIOS, f"runware_sensor_{mode}")
    assert outcome.state == "success", outcome.tasks
    (uuids,) = outcome.xcom("submit")
    (images,) = outcome.xcom("wait")
    assert {image["task_uuid"] for image in images} == set(uuids)
    assert all(image["image_url"].startswith("http://127.0.0.1") for image in images)
    assert len(images) == 2
    # The gallery record: what Runware answered, with what the submitting task recorded (the model).
    (record,) = outcome.xcom("wait", key="runware_results")
    assert record["task_type"] == "imageInference"
    results = record["results"]
    assert [r["position"] for r in results] == [0, 1]
    assert {r["task_uuid"] for r in results} == set(uuids)
    by_uuid = {image["task_uuid"]: image for image in images}
    for result in results:
        assert result["state"] == "stored"
        assert (result["model"], result["prompt"], result["width"]) == ("openai:2@2", "a mug", 256)
        assert result["url"] == by_uuid[result["task_uuid"]]["image_url"]
        assert result["result_uuid"] == by_uuid[result["task_uuid"]]["image_uuid"]
        assert result["cost"] == 0.016


def test_sensor_fails_fast_on_failed_generation(airflow: EmulatorHandle) -> None:
    airflow.fault(kind="fail_generation", count=1, code="inferenceError", message="nope")
    outcome = run_dag(SCENARIOS, "runware_sensor_deferrable")
    assert outcome.state == "failed"
    assert outcome.tasks["wait"][0] == "failed"
    (record,) = outcome.xcom("wait", key="runware_results")
    assert sorted(r["state"] for r in record["results"]) == ["failed", "stored"]
    (failed,) = [r for r in record["results"] if r["state"] == "failed"]
    assert (failed["error"], failed["model"]) == ("inferenceError: nope", "openai:2@2")


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_sensor_fails_without_retries_when_a_failure_cannot_heal(
    airflow: EmulatorHandle, mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """Image 0 fails as retrying can fix, image 1 is refused: the refusal decides, as the operators'."""
    airflow.fault(kind="fail_generation", count=1, code="inferenceError", message="GPU on fire")
    airflow.fault(kind="fail_generation", count=1, code="contentPolicyViolation", message="refused")
    outcome = run_dag(SCENARIOS, f"runware_sensor_retry_{mode}")
    assert outcome.tasks["wait"] == ("failed", 1), "no retry is spent on a refusal"
    (record,) = outcome.xcom("wait", key="runware_results")
    errors = [r["error"] for r in record["results"]]
    assert errors == ["inferenceError: GPU on fire", "contentPolicyViolation: refused"]
    refused = record["results"][1]["task_uuid"]
    text = printed(capfd)
    assert "RunwareContentSafetyError" in text
    assert f"code=contentPolicyViolation, taskUUID={refused}" in text
    assert f"{refused} (contentPolicyViolation: refused)" in text


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_sensor_keeps_its_retries_for_a_failure_a_retry_may_fix(
    airflow: EmulatorHandle, mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    airflow.fault(kind="fail_generation", count=1, code="inferenceError", message="GPU on fire")
    outcome = run_dag(SCENARIOS, f"runware_sensor_retry_{mode}")
    assert outcome.tasks["wait"] == ("failed", 2), "the retry was used"
    text = printed(capfd)
    assert "RunwareGenerationError" in text
    assert "inferenceError" in text


@pytest.mark.parametrize("fixed", [True, False])
def test_an_image_that_could_not_be_stored_is_rechecked_never_regenerated(
    airflow: EmulatorHandle,
    s3_bucket: str,
    aws_conn: str,
    s3_client: Any,
    capfd: pytest.CaptureFixture[str],
    fixed: bool,
) -> None:
    airflow.fault(kind="upload_skip", count=1)
    conf = {"output_location": f"s3://{s3_bucket}/x/", "storage_conn_id": aws_conn}
    when = datetime(2026, 11, 21, 6, tzinfo=UTC)
    first = run_dag(SCENARIOS, "runware_to_s3_retry", conf=conf, logical_date=when)
    assert first.state == "failed"
    assert first.tasks["generate"][1] == 1, "a storage failure is fatal: no paid retry"
    assert "could not be stored" in printed(capfd)
    if fixed:
        key = next(entry["target"] for entry in airflow.requests("upload")).split(f"/{s3_bucket}/", 1)[1]
        s3_client.put_object(Bucket=s3_bucket, Key=key, Body=b"uploaded late")
    second = run_dag(SCENARIOS, "runware_to_s3_retry", conf=conf, logical_date=when)
    assert generations(airflow) == 1, "the image was paid for once"
    if fixed:
        assert second.state == "success"
        (image,) = only_result(second)
        assert image["bytes"] == len(b"uploaded late")
    else:
        assert second.state == "failed"
        assert "could not be stored" in printed(capfd)


@pytest.mark.parametrize("mode", ["deferrable", "blocking"])
def test_the_batch_form_keeps_every_guarantee_per_row(
    airflow: EmulatorHandle, mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """Five rows, six images, in one task instance: one POST, each row named, one regeneration."""
    airflow.fault(kind="fail_generation", count=1, code="inferenceError", message="GPU on fire")
    outcome = run_dag(SCENARIOS, f"runware_batch_{mode}")
    assert outcome.state == "success"
    assert outcome.tasks["generate"] == ("success", 2), "the failed image failed try 1, by name"
    assert "row " in printed(capfd), "the failure named its row"
    sent = airflow.tasks_of_type("imageInference")
    assert len({entry["post"] for entry in sent[:6]}) == 1, "the six images went in one POST"
    assert len(submissions(airflow)) == 7, "six images plus one regeneration under a new UUID"
    assert set(submissions(airflow).values()) == {1}
    images = only_result(outcome)
    assert sorted((image["row"], image["index"]) for image in images) == [
        (0, 0),
        (1, 0),
        (1, 1),
        (2, 0),
        (3, 0),
        (4, 0),
    ]
    by_row = {image["row"]: image for image in images}
    assert by_row[1]["width"] == 512
    assert by_row[3]["positive_prompt"] == "a kettle"
