"""Deterministic identities and the retry ledger: the two halves of "never pay twice"."""

from __future__ import annotations

import uuid

import pytest

from airflow_provider_runware.run.identity import (
    TaskInstanceIdentity,
    derive_task_uuid,
    object_name,
    request_fingerprint,
)
from airflow_provider_runware.run.ledger import RequestPlan, ResultLedger, ResultState

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


def plan(previous: ResultLedger | None, count: int, fingerprint: str = "fp") -> ResultLedger:
    request = RequestPlan(row=None, fingerprint=fingerprint, images=count)
    return ResultLedger.plan(previous, [request], lambda r, i, g: derive_task_uuid(TI, i, r.fingerprint, g))


def test_batch_rows_keep_their_own_images_when_another_row_changes() -> None:
    def batch(previous: ResultLedger | None, prompts: list[str]) -> ResultLedger:
        rows = [RequestPlan(row=row, fingerprint=prompt, images=1) for row, prompt in enumerate(prompts)]
        return ResultLedger.plan(
            previous, rows, lambda r, i, g: derive_task_uuid(TI, i, r.fingerprint, g, row=r.row)
        )

    first = batch(None, ["a mug", "a lamp", "a vase"])
    assert len(set(first.task_uuids)) == 3, "every row and image has its own taskUUID"
    assert first.task_uuids[0] != uuid_for(0, 0), "rows are part of the identity"
    first.mark_submitting(first.entries, 1000.0, 60.0, upload_margin=900.0)
    first.mark_submitted(first.task_uuids)
    second = batch(first, ["a mug", "a teapot", "a vase"])
    assert second.entries[0] is first.entries[0]
    assert second.entries[2] is first.entries[2]
    assert second.entries[1].state is ResultState.PLANNED
    assert second.entries[1].task_uuid not in first.task_uuids


def generation_failure(code: str = "inferenceError", category: str = "generation") -> dict[str, str]:
    return {"code": code, "category": category, "message": "nope"}


def submitted(count: int, now: float = 1000.0, timeout: float = 60.0) -> ResultLedger:
    ledger = plan(None, count)
    ledger.mark_submitting(ledger.entries, now, timeout, upload_margin=900.0)
    ledger.mark_submitted(ledger.task_uuids)
    return ledger


def test_plan_reuses_finished_images_and_bumps_only_failed_generations() -> None:
    ledger = submitted(3)
    ledger.mark_finished(uuid_for(0, 0), {"imageUUID": "i0"})
    ledger.mark_failed(uuid_for(1, 0), generation_failure())
    replanned = plan(ResultLedger.from_json(ledger.to_json()), 3)
    states = [e.state for e in replanned.entries]
    assert states == [ResultState.FINISHED, ResultState.PLANNED, ResultState.SUBMITTED]
    assert replanned.entries[0].task_uuid == uuid_for(0, 0)
    assert replanned.entries[1].generation == 1
    assert replanned.entries[1].task_uuid == uuid_for(1, 1)
    assert replanned.entries[1].deadline is None, "a new generation gets its own deadline"
    assert replanned.entries[2].task_uuid == uuid_for(2, 0)


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("taskNotFound", "not_found"),
        ("uploadFailed", "storage"),
        ("contentPolicyViolation", "safety"),
        ("invalidPositivePrompt", "validation"),
    ],
)
def test_refusals_and_losses_are_never_silently_regenerated(code: str, category: str) -> None:
    ledger = submitted(1)
    ledger.mark_failed(uuid_for(0, 0), generation_failure(code, category))
    replanned = plan(ledger, 1)
    assert replanned.entries[0].state is ResultState.FAILED
    assert replanned.entries[0].generation == 0


def test_a_lost_task_stays_lost() -> None:
    ledger = submitted(1)
    ledger.mark_lost(ledger.entries[0], {"category": "lost", "message": "forgotten"})
    replanned = plan(ledger, 1)
    assert replanned.entries[0].state is ResultState.LOST
    assert replanned.entries[0].task_uuid == uuid_for(0, 0)


def test_a_transport_failure_never_moves_an_image() -> None:
    ledger = submitted(1)
    ledger.mark_failed("some-other-uuid", generation_failure())
    assert ledger.entries[0].state is ResultState.SUBMITTED


def test_deadline_and_upload_expiry_are_kept_by_a_resubmission_of_the_same_uuid() -> None:
    ledger = plan(None, 1)
    ledger.mark_submitting(ledger.entries, 1000.0, 60.0, upload_margin=900.0)
    first = ledger.entries[0]
    assert (first.deadline, first.upload_expires_at) == (1060.0, 1960.0)
    ledger.mark_submitting(ledger.entries, 5000.0, 60.0, upload_margin=900.0)
    assert (first.submitted_at, first.deadline) == (1000.0, 1060.0)
    assert ledger.wait_deadline() == 1060.0


def test_a_post_that_never_completed_may_be_sent_again_with_a_fresh_deadline() -> None:
    ledger = plan(None, 2)
    ledger.mark_submitting(ledger.entries, 1000.0, 60.0, upload_margin=900.0)
    ledger.mark_submitted([uuid_for(1, 0)])
    ledger.mark_unknown(uuid_for(0, 0), {"category": "lost"})
    ledger.mark_unknown(uuid_for(1, 0), {"category": "lost"})
    assert [e.state for e in ledger.entries] == [ResultState.PLANNED, ResultState.LOST]
    assert ledger.entries[0].deadline is None
    assert ledger.entries[0].task_uuid == uuid_for(0, 0), "same UUID: Runware answers a duplicate"


def test_storage_failures_keep_the_result_and_can_be_stored_later() -> None:
    ledger = submitted(1)
    ledger.mark_finished(uuid_for(0, 0), {"imageUUID": "i0", "cost": 0.02})
    entry = ledger.entries[0]
    ledger.mark_not_stored(entry, {"category": "storage", "message": "missing"})
    assert entry.was_generated
    assert not entry.regenerates_on_retry
    ledger.mark_stored(entry, 12)
    assert entry.state is ResultState.STORED
    assert entry.result == {"imageUUID": "i0", "cost": 0.02, "bytes": 12}


def test_legacy_ledgers_still_load() -> None:
    legacy = {
        "fingerprint": "fp",
        "entries": [
            {"index": 0, "task_uuid": "a", "generation": 0, "status": "success", "result": {}, "error": None},
            {
                "index": 1,
                "task_uuid": "b",
                "generation": 0,
                "status": "error",
                "result": None,
                "error": {"kind": "RunwareGenerationError"},
            },
        ],
    }
    ledger = ResultLedger.from_json(legacy)
    assert ledger is not None
    assert [e.state for e in ledger.entries] == [ResultState.FINISHED, ResultState.FAILED]
    assert ledger.entries[1].regenerates_on_retry


def test_a_changed_request_starts_a_new_ledger() -> None:
    ledger = submitted(2)
    fresh = plan(ledger, 2, fingerprint="other")
    assert [e.state for e in fresh.entries] == [ResultState.PLANNED, ResultState.PLANNED]
    assert not set(fresh.task_uuids) & set(ledger.task_uuids)


def test_garbage_in_the_store_is_ignored() -> None:
    assert ResultLedger.from_json(None) is None
    assert ResultLedger.from_json({"unexpected": 1}) is None
