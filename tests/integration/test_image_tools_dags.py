"""Image inputs and the image tools through real Airflow machinery (dag.test, deferral) against the
emulator and a moto S3 server: photo in a bucket -> cut-out -> restyled scene -> upscale.

The emulator logs every input it fetched (``kind: "input"``), so "Runware read the photo through a
presigned GET from the bucket" and "nothing was submitted for a missing photo" are read from its
side, not from ours.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from airflow_runs import printed, run_dag
from emulator_handle import EmulatorHandle
from PIL import Image

TOOLS = "runware_image_tools.py"
SIGNATURE_MARKERS = ("X-Amz-Signature", "X-Amz-Credential", "Signature=")


def product_photo() -> bytes:
    """A mug-coloured square on a plain light background, as a catalogue photo is."""
    photo = Image.new("RGB", (256, 256), (244, 244, 240))
    photo.paste((30, 90, 160), (80, 70, 176, 200))
    buffer = io.BytesIO()
    photo.save(buffer, format="PNG")
    return buffer.getvalue()


def stored_image(s3_client: Any, uri: str) -> Image.Image:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return Image.open(io.BytesIO(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()))


def test_a_photo_in_a_bucket_is_cut_out_restyled_and_upscaled(
    airflow: EmulatorHandle, s3_bucket: str, aws_conn: str, s3_client: Any
) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key="photos/mug.png", Body=product_photo())
    photo = f"s3://{s3_bucket}/photos/mug.png"
    outcome = run_dag(
        TOOLS,
        "runware_tools_chain",
        conf={"photo": photo, "output_location": f"s3://{s3_bucket}/campaign/", "storage_conn_id": aws_conn},
    )
    assert outcome.state == "success", outcome.tasks
    (cut_out,), (scene,), (upscaled,) = (outcome.xcom(task)[0] for task in ("cut_out", "scene", "upscale"))

    # Runware fetched the photo from the bucket through a presigned GET, and chained the rest by UUID.
    fetched = airflow.requests("input")
    photo_fetches = [entry for entry in fetched if entry["target"].endswith(f"/{s3_bucket}/photos/mug.png")]
    assert [(entry["parameter"], entry["status"]) for entry in photo_fetches] == [("inputImage", 200)]
    assert photo_fetches[0]["target"].startswith("http://127.0.0.1:")
    assert any(entry["target"] == cut_out["image_uuid"] for entry in fetched)
    assert any(entry["target"] == scene["image_uuid"] for entry in fetched)
    assert cut_out["input_image"] == photo
    assert scene["reference_images"] == [cut_out["image_uuid"]]
    assert upscaled["input_image"] == scene["image_uuid"]

    # What was stored derives from the inputs: a transparent cut-out, a 2x upscale of the scene.
    cut = stored_image(s3_client, cut_out["storage_uri"])
    assert cut.format == "PNG"
    assert cut.mode == "RGBA"
    assert cut.getpixel((0, 0))[3] == 0
    assert cut.getpixel((128, 128))[3] == 255
    big = stored_image(s3_client, upscaled["storage_uri"])
    assert big.size == (2048, 2048)
    assert stored_image(s3_client, scene["storage_uri"]).size == (1024, 1024)

    # The photo's signed URL went to Runware only: not to XCom, not to the records.
    xcom_text = json.dumps([cut_out, scene, upscaled])
    assert not any(marker in xcom_text for marker in SIGNATURE_MARKERS)


def test_a_missing_photo_fails_before_runware_is_paid(
    airflow: EmulatorHandle, s3_bucket: str, aws_conn: str, capfd: Any
) -> None:
    outcome = run_dag(
        TOOLS,
        "runware_tools_chain",
        conf={
            "photo": f"s3://{s3_bucket}/photos/missing.png",
            "output_location": f"s3://{s3_bucket}/campaign/",
            "storage_conn_id": aws_conn,
        },
    )
    assert outcome.state == "failed"
    assert outcome.tasks["cut_out"][0] == "failed"
    assert airflow.tasks_of_type("removeBackground") == []
    output = printed(capfd)
    assert f"s3://{s3_bucket}/photos/missing.png" in output


def test_the_batch_form_cuts_out_every_row_and_names_rows_in_records(
    airflow: EmulatorHandle, s3_bucket: str, aws_conn: str, s3_client: Any
) -> None:
    for name in ("mug", "lamp", "vase"):
        s3_client.put_object(Bucket=s3_bucket, Key=f"photos/{name}.png", Body=product_photo())
    rows = [{"input_image": f"s3://{s3_bucket}/photos/{name}.png"} for name in ("mug", "lamp", "vase")]
    outcome = run_dag(
        TOOLS,
        "runware_tools_batch",
        conf={"rows": rows, "output_location": f"s3://{s3_bucket}/cutouts/", "storage_conn_id": aws_conn},
    )
    assert outcome.state == "success", outcome.tasks
    (records,) = outcome.xcom("cut_out")
    assert [(record["row"], record["input_image"]) for record in records] == [
        (row, item["input_image"]) for row, item in enumerate(rows)
    ]
    assert len(airflow.tasks_of_type("removeBackground")) == 3


def test_a_text_to_image_model_refuses_a_rendered_seed_image_before_any_http(
    airflow: EmulatorHandle, capfd: Any
) -> None:
    outcome = run_dag(TOOLS, "runware_tools_seed_refused", conf={"photo": "https://example.com/mug.png"})
    assert outcome.state == "failed"
    assert airflow.requests("api") == []
    output = printed(capfd)
    assert "takes no image inputs (text-to-image only)" in output


def test_a_photo_in_gcs_is_fetched_through_a_signed_url_the_signature_checking_front_accepts(
    airflow: EmulatorHandle, gcs_bucket: str, gcs_conn: str, gcs_client: Any
) -> None:
    gcs_client.bucket(gcs_bucket).blob("photos/mug.png").upload_from_string(product_photo())
    photo = f"gs://{gcs_bucket}/photos/mug.png"
    outcome = run_dag(
        TOOLS,
        "runware_tools_batch",
        conf={
            "rows": [{"input_image": photo}],
            "output_location": f"gs://{gcs_bucket}/cutouts/",
            "storage_conn_id": gcs_conn,
        },
    )
    assert outcome.state == "success", outcome.tasks
    (fetch,) = [entry for entry in airflow.requests("input") if entry["parameter"] == "inputImage"]
    assert fetch["status"] == 200
    assert fetch["target"].endswith(f"/{gcs_bucket}/photos/mug.png")
    ((record,),) = outcome.xcom("cut_out")
    assert record["input_image"] == photo
    key = record["storage_uri"].removeprefix(f"gs://{gcs_bucket}/")
    cut = Image.open(io.BytesIO(gcs_client.bucket(gcs_bucket).blob(key).download_as_bytes()))
    assert cut.getpixel((0, 0))[3] == 0


def photos_in(s3_client: Any, bucket: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    for name in names:
        s3_client.put_object(Bucket=bucket, Key=f"photos/{name}.png", Body=product_photo())
    return [{"input_image": f"s3://{bucket}/photos/{name}.png"} for name in names]


def test_a_lost_answer_and_a_cleared_run_never_pay_twice_for_a_cut_out(
    airflow: EmulatorHandle, s3_bucket: str, aws_conn: str, s3_client: Any
) -> None:
    """The tools share the inference operator's ledger: an answer lost after Runware accepted the
    POST is resent under the same taskUUIDs (conflictTaskUUID), and clearing the run pays nothing."""
    conf = {
        "rows": photos_in(s3_client, s3_bucket, ("mug", "lamp")),
        "output_location": f"s3://{s3_bucket}/cutouts/",
        "storage_conn_id": aws_conn,
    }
    airflow.fault(kind="drop_connection", task_type="removeBackground", after=True, count=1)
    first = run_dag(TOOLS, "runware_tools_batch", conf=conf, logical_date=datetime(2026, 3, 1, tzinfo=UTC))
    assert first.state == "success", first.tasks
    answers = Counter(
        (entry["taskUUID"], entry["status"]) for entry in airflow.tasks_of_type("removeBackground")
    )
    uuids = {task_uuid for task_uuid, _ in answers}
    assert len(uuids) == 2
    assert all(answers[(task_uuid, 400)] == 1 for task_uuid in uuids), "the resend met conflictTaskUUID"
    assert len(airflow.requests("generation")) == 2

    again = run_dag(TOOLS, "runware_tools_batch", conf=conf, logical_date=datetime(2026, 3, 1, tzinfo=UTC))
    assert again.state == "success", again.tasks
    assert len(airflow.requests("generation")) == 2, "the cleared run reused both cut-outs"
    assert {record["task_uuid"] for record in again.xcom("cut_out")[0]} == uuids
