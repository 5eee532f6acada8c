"""Deterministic identities and the retry ledger: the two halves of "never pay twice"."""

from __future__ import annotations

import uuid

from airflow_provider_runware.identity import (
    TaskInstanceIdentity,
    derive_task_uuid,
    object_name,
    request_fingerprint,
)
from airflow_provider_runware.ledger import FAILED, PLANNED, SUCCESS, ImageLedger

TI = TaskInstanceIdentity("campaign", "scheduled__2026-11-25T06:00:00+00:00", "generate_images", 3)
REQUEST = {
    "taskType": "imageInference",
    "model": "openai:2@2",
    "positivePrompt": "a mug",
    "width": 512,
    "height": 512,
}


def test_task_uuid_is_v4_and_a_pure_function_of_identity() -> None:
    first = derive_task_uuid(TI, 0, "fp", 0)
    assert uuid.UUID(first).version == 4
    assert first == derive_task_uuid(TI, 0, "fp", 0)
    others = {
        derive_task_uuid(TI, 1, "fp", 0),
        derive_task_uuid(TI, 0, "fp2", 0),
        derive_task_uuid(TI, 0, "fp", 1),
        derive_task_uuid(TaskInstanceIdentity("campaign", TI.run_id, "generate_images", 4), 0, "fp", 0),
    }
    assert first not in others
    assert len(others) == 4


def test_fingerprint_ignores_per_try_values_but_not_the_request() -> None:
    base = request_fingerprint(REQUEST)
    assert base == request_fingerprint(
        {**REQUEST, "taskUUID": str(uuid.uuid4()), "uploadEndpoint": "https://x?sig=1"}
    )
    assert base != request_fingerprint({**REQUEST, "positivePrompt": "a cup"})


def test_object_names_are_path_safe_and_stable() -> None:
    name = object_name(TI, 2, "PNG")
    assert name == "campaign/scheduled__2026-11-25T06-00-00-00-00/generate_images/map-3/image-2.png"
    assert object_name(TI, 2, "PNG") == name


def uuid_for(index: int, generation: int) -> str:
    return derive_task_uuid(TI, index, "fp", generation)


def test_plan_reuses_successes_and_bumps_only_failed_generations() -> None:
    ledger = ImageLedger.plan(None, "fp", 3, uuid_for)
    assert [e.status for e in ledger.entries] == [PLANNED] * 3
    ledger.entries[0].status = SUCCESS
    ledger.entries[1].status = FAILED
    ledger.entries[1].error = {"kind": "RunwareGenerationError", "code": "inferenceError"}
    replanned = ImageLedger.plan(ImageLedger.from_json(ledger.to_json()), "fp", 3, uuid_for)
    assert replanned.entries[0].status == SUCCESS
    assert replanned.entries[0].task_uuid == uuid_for(0, 0)
    assert replanned.entries[1].status == PLANNED
    assert replanned.entries[1].generation == 1
    assert replanned.entries[1].task_uuid == uuid_for(1, 1)
    assert replanned.entries[2].task_uuid == uuid_for(2, 0)


def test_lost_tasks_are_never_silently_regenerated() -> None:
    ledger = ImageLedger.plan(None, "fp", 1, uuid_for)
    ledger.entries[0].status = FAILED
    ledger.entries[0].error = {"kind": "RunwareNotFoundError", "code": "taskNotFound"}
    replanned = ImageLedger.plan(ledger, "fp", 1, uuid_for)
    assert replanned.entries[0].status == FAILED
    assert replanned.entries[0].generation == 0


def test_images_generated_but_not_stored_are_not_regenerated() -> None:
    ledger = ImageLedger.plan(None, "fp", 1, uuid_for)
    ledger.entries[0].status = FAILED
    ledger.entries[0].error = {"kind": "RunwareUploadError", "code": "uploadFailed"}
    replanned = ImageLedger.plan(ledger, "fp", 1, uuid_for)
    assert replanned.entries[0].status == FAILED
    assert replanned.entries[0].task_uuid == uuid_for(0, 0)


def test_a_changed_request_starts_a_new_ledger() -> None:
    ledger = ImageLedger.plan(None, "fp", 2, uuid_for)
    ledger.entries[0].status = SUCCESS
    fresh = ImageLedger.plan(ledger, "other", 2, lambda i, g: derive_task_uuid(TI, i, "other", g))
    assert [e.status for e in fresh.entries] == [PLANNED, PLANNED]
    assert not set(fresh.task_uuids) & set(ledger.task_uuids)


def test_garbage_in_the_store_is_ignored() -> None:
    assert ImageLedger.from_json(None) is None
    assert ImageLedger.from_json({"unexpected": 1}) is None
