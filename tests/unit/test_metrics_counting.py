"""What the metrics count across tries, read from the ledger as each try saves and loads it.

The DAG-level test (tests/integration/test_metrics.py) shows the lines a StatsD server receives from one
run with a retry; these cover the cases that take a manual clear or storage that recovers, where only
the ledger's record keeps a result from being counted twice.
"""

from __future__ import annotations

from airflow_provider_runware.run.identity import TaskInstanceIdentity, derive_task_uuid
from airflow_provider_runware.run.ledger import RequestPlan, ResultLedger, ResultState
from airflow_provider_runware.run.metrics import (
    COST_USD_MICROS,
    FAILED,
    GENERATED,
    REUSED,
    MetricsBatch,
    count_ledger,
    label,
)
from airflow_provider_runware.tasks.image_inference import InferenceArguments

TI = TaskInstanceIdentity("campaign", "scheduled__2026-11-25T06:00:00+00:00", "generate_images")
REQUESTS = [InferenceArguments(model="openai:2@2", positive_prompt="a mug", width=256, height=256)]
MODEL = ("imageInference", "openai_2_2")


def next_try(ledger: ResultLedger | None, images: int) -> ResultLedger:
    """The ledger as the next try (a retry or a clear) plans it from what the last one saved."""
    saved = None if ledger is None else ResultLedger.from_json(ledger.to_json())
    request = RequestPlan(row=None, fingerprint="fp", images=images)
    return ResultLedger.plan(saved, [request], lambda r, i, g: derive_task_uuid(TI, i, r.fingerprint, g))


def finish(ledger: ResultLedger, now: float = 2000.0) -> dict[str, int]:
    """One try's finish: count, then mark the billed results reported (``Finisher.report``)."""
    batch = MetricsBatch(dag_id=TI.dag_id, task_id=TI.task_id)
    count_ledger(batch, ledger, REQUESTS, now, finishing=True)
    ledger.mark_cost_reported()
    assert all(key[1:] == MODEL for key in batch.counters)
    return {name: amount for (name, *_), amount in batch.counters.items()}


def submitted(ledger: ResultLedger, now: float = 1000.0) -> ResultLedger:
    planned = ledger.in_state(ResultState.PLANNED)
    ledger.mark_submitting(planned, now, 600.0, upload_margin=900.0)
    ledger.mark_submitted(entry.task_uuid for entry in planned)
    return ledger


def test_a_refused_result_counts_as_failed_once_even_when_the_task_is_cleared() -> None:
    first = submitted(next_try(None, 2))
    first.mark_finished(first.entries[0].task_uuid, {"imageUUID": "a", "cost": 0.016})
    first.mark_stored(first.entries[0], 100)
    first.mark_failed(first.entries[1].task_uuid, {"code": "contentModeration", "category": "safety"})
    assert finish(first) == {GENERATED: 1, FAILED: 1, COST_USD_MICROS: 16000}

    cleared = next_try(first, 2)
    assert [e.state for e in cleared.entries] == [ResultState.STORED, ResultState.FAILED]
    assert finish(cleared) == {REUSED: 1}, "the refusal was counted by try 1; the image is reused"


def test_an_image_stored_only_by_a_later_try_is_billed_once_and_generated_once() -> None:
    first = submitted(next_try(None, 1))
    first.mark_finished(first.entries[0].task_uuid, {"imageUUID": "a", "cost": 0.0123456})
    first.mark_not_stored(first.entries[0], {"code": "uploadFailed", "category": "storage"})
    assert finish(first) == {FAILED: 1, COST_USD_MICROS: 12346}

    second = next_try(first, 1)
    second.mark_stored(second.entries[0], 100)
    assert finish(second) == {GENERATED: 1}, "its cost was counted when it was billed"
    assert finish(next_try(second, 1)) == {REUSED: 1}


def test_a_failed_generation_is_counted_and_its_regeneration_too() -> None:
    first = submitted(next_try(None, 1))
    first.mark_failed(first.entries[0].task_uuid, {"code": "inferenceError", "category": "generation"})
    assert finish(first) == {FAILED: 1}

    second = submitted(next_try(first, 1))
    assert second.entries[0].generation == 1
    second.mark_finished(second.entries[0].task_uuid, {"imageUUID": "b", "cost": 0.016})
    second.mark_stored(second.entries[0], 100)
    batch = MetricsBatch(dag_id=TI.dag_id, task_id=TI.task_id)
    count_ledger(batch, second, REQUESTS, 1012.5, finishing=True)
    assert batch.counters == {(GENERATED, *MODEL): 1, (COST_USD_MICROS, *MODEL): 16000}
    assert batch.timings == [(*MODEL, 12.5)], "seconds from its submission to stored"


def test_a_try_that_stops_early_counts_only_its_failures() -> None:
    ledger = submitted(next_try(None, 2))
    ledger.mark_finished(ledger.entries[0].task_uuid, {"imageUUID": "a", "cost": 0.016})
    ledger.mark_refused(
        ledger.entries[1].task_uuid, {"code": "invalidPositivePrompt", "category": "validation"}
    )
    batch = MetricsBatch(dag_id=TI.dag_id, task_id=TI.task_id)
    count_ledger(batch, ledger, REQUESTS, 2000.0, finishing=False)
    assert batch.counters == {(FAILED, *MODEL): 1}, "the finished image waits for a try that stores it"

    cleared = next_try(ledger, 2)
    cleared.mark_stored(cleared.entries[0], 100)
    assert finish(cleared) == {GENERATED: 1, COST_USD_MICROS: 16000}


def test_labels_survive_every_backend() -> None:
    assert label("openai:2@2") == "openai_2_2"
    assert label("klingai:kling-video@3-standard") == "klingai_kling-video_3-standard"
    assert label("civitai:1.5@7,x=y") == "civitai_1_5_7_x_y"
    assert label(None) == "unknown"
