"""A triggerer may hold 10,000 waiting images: their poll state must stay out of the garbage
collector's way (a full collection scans every tracked object and stops the triggerer's event loop),
and still answer exactly as a small one does."""

from __future__ import annotations

import gc
import json
import uuid
from collections.abc import Callable

from airflow_provider_runware.api.schemas import ApiResponse, PollState

TASKS = 1000
# A state's own containers; anything per task would be at least TASKS.
MOST_TRACKED = 50


def answer(task_uuids: list[str], finished: bool) -> ApiResponse:
    """A getResponse body as Runware sends it, read as the hook reads it."""
    items = [
        {"taskType": "imageInference", "taskUUID": task_uuid, "status": "processing"}
        if not finished
        else {
            "taskType": "imageInference",
            "taskUUID": task_uuid,
            "imageUUID": f"image-of-{task_uuid}",
            "imageURL": f"https://im.runware.ai/image/{task_uuid}.png",
            "status": "success",
            "cost": 0.0013,
        }
        for task_uuid in task_uuids
    ]
    return ApiResponse.parse(json.dumps({"data": items}), 200)


def tracked_after(action: Callable[[], None]) -> int:
    """How many more objects the garbage collector tracks after ``action`` than before it."""
    gc.collect()
    before = len(gc.get_objects())
    action()
    gc.collect()
    return len(gc.get_objects()) - before


def test_a_thousand_tasks_cost_the_collector_a_few_objects_waiting_and_finished() -> None:
    task_uuids = [str(uuid.uuid4()) for _ in range(TASKS)]
    PollState.expecting({"warm-up": 1}).merge(answer(["warm-up"], finished=True))  # pydantic's caches
    holder: list[PollState] = []

    def waiting() -> None:
        holder.append(PollState.expecting(dict.fromkeys(task_uuids, 1)))
        holder[0].merge(answer(task_uuids, finished=False))

    assert tracked_after(waiting) < MOST_TRACKED
    state = holder[0]
    assert state.pending == task_uuids
    assert state.result_count == 0

    finished = answer(task_uuids[::-1], finished=True)
    other = answer([str(uuid.uuid4())], finished=True)  # a task this state does not hold

    def finishing() -> None:
        state.merge(finished)
        state.merge(finished)  # each poll repeats what is finished
        state.merge(other)

    assert tracked_after(finishing) < MOST_TRACKED
    assert state.done
    assert state.pending == []
    assert state.result_count == TASKS
    assert [result.task_uuid for result in state.results()] == task_uuids
    assert state.result_dicts()[0]["imageUUID"] == f"image-of-{task_uuids[0]}"
