"""The per-try gallery record (``run/gallery.py``): every result of the ledger, with its state, and
nothing secret. Built from a real ledger, real task arguments and a real S3 location (``uri_for`` does
no I/O); the whole path (operator -> XCom -> api-server plugin) is tests/integration/test_gallery_e2e.py.
"""

from __future__ import annotations

import json

from airflow_provider_runware.run.gallery import gallery_record, scrub
from airflow_provider_runware.run.ledger import ResultEntry, ResultLedger, ResultState
from airflow_provider_runware.storage.s3 import S3OutputLocation
from airflow_provider_runware.tasks.image_inference import InferenceArguments
from airflow_provider_runware.tasks.upscale import UpscaleArguments

SIGNED = "https://bucket.s3.amazonaws.com/a.png?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA"
LOCATION = S3OutputLocation("shop", "campaign/", "aws_shop")


def name_for(entry: ResultEntry) -> str:
    return f"image-{entry.index}.jpg"


def image(index: int, state: ResultState, **fields: object) -> ResultEntry:
    return ResultEntry(index=index, task_uuid=f"uuid-{index}", state=state, fingerprint="f", **fields)  # type: ignore[arg-type]


def record_of(entries: list[ResultEntry], requests: list, reused: frozenset[str] = frozenset()) -> dict:
    return gallery_record(
        ResultLedger(fingerprint="f", entries=entries),
        requests,
        location=LOCATION,
        object_name_for=name_for,
        storage_conn_id="aws_shop",
        output_location="s3://shop/campaign/",
        reused=reused,
        try_number=2,
    )


def test_every_result_is_listed_with_its_state_cost_and_uri() -> None:
    request = InferenceArguments(model="google:2@3", positive_prompt="a mug", width=1408, height=768)
    result = {"imageUUID": "img-0", "seed": 42, "cost": 0.02, "bytes": 1234}
    record = record_of(
        [
            image(0, ResultState.STORED, result=dict(result), cost_reported=True),
            image(1, ResultState.STORED, result={**result, "imageUUID": "img-1"}),
            image(2, ResultState.FAILED, error={"code": "inferenceError", "message": "GPU on fire"}),
            image(3, ResultState.SUBMITTED),
        ],
        [request],
        reused=frozenset({"uuid-0"}),
    )
    assert record["task_type"] == "imageInference"
    assert record["storage_conn_id"] == "aws_shop"
    assert record["try_number"] == 2
    states = [(r["position"], r["state"]) for r in record["results"]]
    assert states == [(0, "reused"), (1, "stored"), (2, "failed"), (3, "pending")]
    first = record["results"][0]
    assert first["storage_uri"] == "s3://shop/campaign/image-0.jpg"
    assert (first["model"], first["prompt"], first["width"], first["height"]) == (
        "google:2@3",
        "a mug",
        1408,
        768,
    )
    assert (first["seed"], first["cost"], first["result_uuid"]) == (42, 0.02, "img-0")
    failed = record["results"][2]
    assert failed["error"] == "inferenceError: GPU on fire"
    assert failed["cost"] is None
    assert "storage_uri" in failed
    assert "storage_uri" not in record["results"][3]


def test_inputs_name_their_uri_and_connection_or_the_uuid_they_came_from() -> None:
    requests = [
        UpscaleArguments(model="runware:503@1", input_image="s3://shop/products/mug.png"),
        UpscaleArguments(model="runware:503@1", input_image="8F0E3C1A-1234-4D5E-9ABC-0123456789AB"),
    ]
    entries = [image(0, ResultState.STORED, row=0), image(0, ResultState.STORED, row=1)]
    results = record_of(entries, requests)["results"]
    assert results[0]["inputs"] == [
        {"parameter": "input_image", "uri": "s3://shop/products/mug.png", "conn_id": "aws_shop"}
    ]
    assert results[1]["inputs"] == [
        {"parameter": "input_image", "image_uuid": "8f0e3c1a-1234-4d5e-9abc-0123456789ab"}
    ]
    assert [r["row"] for r in results] == [0, 1]


def test_nothing_signed_reaches_the_record() -> None:
    request = InferenceArguments(model="google:2@3", positive_prompt="a mug", width=1408, height=768)
    error = {"code": "uploadFailed", "message": f"PUT {SIGNED} answered 403 (sig=abc&se=2026)"}
    record = record_of([image(0, ResultState.FAILED, error=error)], [request])
    text = json.dumps(record)
    for secret in ("X-Amz-", "deadbeef", "AKIA", "sig=abc"):
        assert secret not in text
    assert "https://bucket.s3.amazonaws.com/a.png answered 403" in record["results"][0]["error"]


def test_scrub_cuts_long_text() -> None:
    assert len(scrub("x" * 1000)) == 400
