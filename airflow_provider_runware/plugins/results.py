"""A run's results as the gallery shows them, read from the tasks' gallery records in XCom.

The run engine pushes one record per task instance try (``run/gallery.py``); XCom keeps the last try's.
This module reads them from the metadata database inside the api-server (``XComModel``, the same on
Airflow 3.0 to 3.3) and adds what only the whole run knows: the total cost, the split per model, and
which result an input came from (a scene's reference image is the cut-out made by an earlier task).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from airflow_provider_runware.plugins.urls import image_relpath
from airflow_provider_runware.run.gallery import GALLERY_XCOM_KEY
from airflow_provider_runware.run.metrics import UNKNOWN

# The model of a result whose task did not know it (a sensor waiting on taskUUIDs no upstream task
# recorded; Runware's answer names no model), in the per-model split: the metrics' label for it.
UNKNOWN_MODEL = UNKNOWN


@dataclass(frozen=True)
class TaskRecord:
    task_id: str
    map_index: int
    record: dict[str, Any]

    @property
    def results(self) -> list[dict[str, Any]]:
        """The record's results in image-index order."""
        results = self.record.get("results")
        found = [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []
        return sorted(found, key=_position)


def _position(result: dict[str, Any]) -> int:
    position = result.get("position")
    return position if isinstance(position, int) else 0


def in_order(records: Iterable[TaskRecord]) -> list[TaskRecord]:
    """Each task's records together, tasks in the order they first recorded (the run's order, as the
    database returns them oldest first), and a mapped task's instances by map index as numbers
    (``2`` before ``10``), whichever finished first."""
    records = list(records)
    first_seen: dict[str, int] = {}
    for number, record in enumerate(records):
        first_seen.setdefault(record.task_id, number)
    return sorted(records, key=lambda record: (first_seen[record.task_id], record.map_index))


def _value(row: Any) -> Any:
    from airflow.models.xcom import XComModel

    return XComModel.deserialize_value(row)


def load_records(
    session: Any, dag_id: str, run_id: str, task_id: str | None = None, map_index: int | None = None
) -> list[TaskRecord]:
    """Every gallery record of the run (or of one task, one task instance), oldest first."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    query = select(XComModel).where(
        XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == GALLERY_XCOM_KEY
    )
    if task_id is not None:
        query = query.where(XComModel.task_id == task_id)
    if map_index is not None:
        query = query.where(XComModel.map_index == map_index)
    rows = session.scalars(query.order_by(XComModel.timestamp, XComModel.task_id, XComModel.map_index))
    records = []
    for row in rows:
        value = _value(row)
        if isinstance(value, dict):
            records.append(TaskRecord(row.task_id, int(row.map_index), value))
    return records


def run_view(records: Iterable[TaskRecord]) -> dict[str, Any]:
    """The gallery's data (also ``results.json``): every result with its URLs, inputs matched to the
    results they came from, the run's total cost and the split per model.

    A result's cost counts once, whichever try paid for it: a ``reused`` result was paid by an
    earlier try of the same task instance, and its cost belongs to the run all the same.
    """
    records = in_order(records)
    by_uuid: dict[str, str] = {}
    by_uri: dict[str, str] = {}
    for task in records:
        for result in task.results:
            url = image_relpath(task.task_id, task.map_index, int(result.get("position", 0)))
            if result.get("result_uuid"):
                by_uuid[str(result["result_uuid"]).lower()] = url
            if result.get("storage_uri"):
                by_uri[str(result["storage_uri"])] = url
    tasks = []
    total = 0.0
    per_model: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for task in records:
        shown = []
        for result in task.results:
            position = int(result.get("position", 0))
            url = image_relpath(task.task_id, task.map_index, position)
            cost = result.get("cost")
            if isinstance(cost, int | float) and not isinstance(cost, bool):
                total += float(cost)
                per_model[str(result.get("model") or UNKNOWN_MODEL)] += float(cost)
            counts[str(result.get("state"))] += 1
            inputs = []
            for number, ref in enumerate(result.get("inputs") or []):
                made_by = by_uuid.get(str(ref.get("image_uuid", "")).lower())
                made_by = made_by or by_uri.get(str(ref.get("uri")))
                own = f"{url}/inputs/{number}" if ref.get("uri") else None
                inputs.append(
                    {
                        "parameter": ref.get("parameter"),
                        "uri": ref.get("uri"),
                        "image_uuid": ref.get("image_uuid"),
                        "url": ref.get("url"),
                        "image": made_by or own,
                        "thumbnail": f"{made_by or own}/thumbnail" if (made_by or own) else None,
                    }
                )
            has_file = bool(result.get("storage_uri")) and result.get("state") in ("stored", "reused")
            shown.append(
                {
                    **{key: value for key, value in result.items() if key != "inputs"},
                    "image": url if has_file else None,
                    "thumbnail": f"{url}/thumbnail" if has_file and result.get("kind") == "image" else None,
                    "inputs": inputs,
                }
            )
        tasks.append(
            {
                "task_id": task.task_id,
                "map_index": task.map_index,
                "task_type": task.record.get("task_type"),
                "try_number": task.record.get("try_number"),
                "output_location": task.record.get("output_location"),
                "results": shown,
            }
        )
    return {
        "total_cost": round(total, 6),
        "cost_per_model": {model: round(cost, 6) for model, cost in sorted(per_model.items())},
        "counts": dict(sorted(counts.items())),
        "tasks": tasks,
    }


def find_result(record: TaskRecord, image_index: int) -> dict[str, Any] | None:
    return next((r for r in record.results if r.get("position") == image_index), None)
