"""No secret reaches task logs, trigger logs, console output, XCom or rendered fields.

Runs a DAG through the real services (task supervisor with secrets masking, real triggerer) with a
Runware key, an S3 connection whose presigned URLs carry signatures, a webhook URL with a token, and
one task that fails (exception text), then searches everything Airflow wrote.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from airflow_services import airflow_services
from emulator_handle import EmulatorHandle
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
AWS_SECRET = "probe-aws-secret-Q9x7Lm"
WEBHOOK_TOKEN = "whk-Secret-77aaZt"
UNMASKED_SIGNATURE = re.compile(
    r"(X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|X-Goog-Signature|X-Goog-Credential|[?&]sig)"
    r"(=|%3D)(?!\*\*\*)[A-Za-z0-9%/+_.-]{6,}",
    re.IGNORECASE,
)


def test_no_secret_leaks_through_real_airflow_services(
    runware: EmulatorHandle, moto_server: Any, s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    aws = {
        "conn_type": "aws",
        "login": "probe-access-key",
        "password": AWS_SECRET,
        "extra": {"endpoint_url": moto_server.endpoint_url, "region_name": "us-east-1"},
    }
    photo = io.BytesIO()
    Image.new("RGB", (64, 64), (240, 240, 236)).save(photo, format="PNG")
    s3_client.put_object(Bucket=s3_bucket, Key="photos/mug.png", Body=photo.getvalue())
    runware.fault(kind="upload_skip", count=1)
    # Long enough that the deferrable tasks really defer (the worker itself waits a few seconds).
    runware.fault(kind="queue_delay", seconds=10)
    with airflow_services(
        tmp_path / "airflow",
        [REPO / "tests" / "dags" / "runware_secrets_probe.py"],
        {"AIRFLOW_CONN_RUNWARE_DEFAULT": runware.connection(), "AIRFLOW_CONN_AWS_PROBE": json.dumps(aws)},
    ) as services:
        state = services.trigger_and_wait(
            "runware_secrets_probe",
            {
                "output_location": f"s3://{s3_bucket}/probe/",
                "storage_conn_id": "aws_probe",
                "webhook_url": f"{runware.root_url}/_emulator/health?token={WEBHOOK_TOKEN}",
                "photo": f"s3://{s3_bucket}/photos/mug.png",
            },
        )
    # Read only after every component stopped, so the logs are complete.
    texts = services.all_text()
    task_states = dict(services.query("SELECT task_id, state FROM task_instance"))

    assert state == "failed", "one task is meant to fail (its upload goes missing)"
    assert sorted(task_states.values()) == ["failed", "success", "success", "success"]
    uploads = [entry for entry in runware.requests("upload") if not entry.get("skipped")]
    assert len(uploads) == 4, "presigned URLs were really handed out and used"
    assert len(runware.requests("generation")) == 5, "5 images, each paid for once, retries included"
    (photo_fetch,) = runware.requests("input")
    assert (photo_fetch["status"], photo_fetch["target"].endswith("/photos/mug.png")) == (200, True)
    assert any(".log.trigger." in path for path in texts), "trigger logs were searched"
    task_logs = "".join(text for path, text in texts.items() if "task_id=" in path)
    assert "Runware cost of this try" in task_logs
    assert "RunwareUploadError" in task_logs
    assert f"s3://{s3_bucket}/probe/" in task_logs
    assert any(key.startswith("rendered:") for key in texts)

    for secret in (runware.api_key, AWS_SECRET, WEBHOOK_TOKEN):
        leaks = [where for where, text in texts.items() if secret in text]
        assert not leaks, f"secret {secret[:4]}... found in {leaks}"
    signature_leaks = {where: UNMASKED_SIGNATURE.findall(text) for where, text in texts.items()}
    assert not {where: found for where, found in signature_leaks.items() if found}
