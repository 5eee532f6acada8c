"""Many triggers in one event loop share one poller and one HTTP client (counts, never times)."""

from __future__ import annotations

import asyncio
import resource
import time
from collections import Counter
from typing import Any

import pytest
from emulator_handle import EmulatorHandle

from airflow_provider_runware.triggers.runware import RunwareTaskTrigger
from airflow_provider_runware.triggers.shared_poller import SharedPoller

MAX_TASKS_PER_POST = 100


@pytest.fixture(autouse=True)
def connection(runware: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", runware.connection(max_retries=1))


def trigger_for(task_uuid: str, **overrides: Any) -> RunwareTaskTrigger:
    kwargs: dict[str, Any] = {"task_uuids": [task_uuid], "end_time": time.time() + 120, "poll_interval": 1.0}
    return RunwareTaskTrigger(**{**kwargs, **overrides})


async def first_event(trigger: RunwareTaskTrigger) -> dict[str, Any]:
    events = [event.payload async for event in trigger.run()]
    assert len(events) == 1, "a trigger emits exactly one event"
    return dict(events[0])


def get_response_posts(runware: EmulatorHandle) -> Counter[int]:
    """Tasks per getResponse POST."""
    return Counter(entry["post"] for entry in runware.tasks_of_type("getResponse"))


def test_two_hundred_triggers_share_posts_and_each_gets_its_own_event(runware: EmulatorHandle) -> None:
    runware.fault(kind="queue_delay", seconds=2)
    uuids = runware.submit_images(200)

    async def main() -> list[dict[str, Any]]:
        return await asyncio.gather(*(first_event(trigger_for(u)) for u in uuids))

    events = asyncio.run(main())
    for task_uuid, event in zip(uuids, events, strict=True):
        assert event["status"] == "success"
        assert [r["taskUUID"] for r in event["results"]] == [task_uuid]
    posts = get_response_posts(runware)
    assert max(posts.values()) <= MAX_TASKS_PER_POST
    polls_per_task = Counter(entry["taskUUID"] for entry in runware.tasks_of_type("getResponse"))
    ticks = max(polls_per_task.values())
    assert len(posts) <= 2 * ticks, f"{len(posts)} POSTs for {ticks} polls of each task: not shared"


def test_cancelled_triggers_leave_the_rest_working_and_the_last_closes_the_client(
    runware: EmulatorHandle,
) -> None:
    runware.fault(kind="queue_delay", seconds=3)
    uuids = runware.submit_images(40)

    async def main() -> tuple[list[Any], SharedPoller]:
        tasks = [asyncio.ensure_future(first_event(trigger_for(u))) for u in uuids]
        while not SharedPoller.active() or not runware.tasks_of_type("getResponse"):
            await asyncio.sleep(0.05)
        (poller,) = SharedPoller.active()
        for task in tasks[::2]:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert SharedPoller.active() == [], "the last trigger to leave stops the poller"
        return results, poller

    results, poller = asyncio.run(main())
    cancelled, finished = results[::2], results[1::2]
    assert all(isinstance(result, asyncio.CancelledError) for result in cancelled)
    assert [event["status"] for event in finished] == ["success"] * 20
    assert poller.watches == set()
    assert poller.hook._async_client is None, "the shared client was closed"
    late_polls = {e["taskUUID"] for e in runware.tasks_of_type("getResponse")[-20:]}
    assert late_polls <= set(uuids[1::2]), "cancelled triggers are no longer polled"


def test_a_trigger_never_receives_another_tasks_error(runware: EmulatorHandle) -> None:
    runware.fault(kind="fail_generation", count=1, code="inferenceError", message="melted")
    uuids = runware.submit_images(2)

    async def main() -> list[dict[str, Any]]:
        return await asyncio.gather(*(first_event(trigger_for(u)) for u in uuids))

    events = asyncio.run(main())
    failed = [event for event in events if event["errors"]]
    assert len(failed) == 1
    (error,) = failed[0]["errors"]
    assert error["task_uuid"] == failed[0]["task_uuids"][0]
    (succeeded,) = [event for event in events if not event["errors"]]
    assert succeeded["status"] == "success"


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_thousand_waiting_triggers_share_one_client_and_stay_small(runware: EmulatorHandle) -> None:
    runware.fault(kind="queue_delay", seconds=600)
    uuids = runware.submit_images(1000)

    async def main() -> float:
        before = _rss_mb()
        tasks = [asyncio.ensure_future(first_event(trigger_for(u, poll_interval=5.0))) for u in uuids]
        while len(runware.tasks_of_type("getResponse")) < 1000:
            await asyncio.sleep(0.2)
        grown = _rss_mb() - before
        assert len(SharedPoller.active()) == 1, "one poller (one HTTP client) for the whole loop"
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results), "a cancellation was lost"
        assert SharedPoller.active() == []
        return grown

    grown = asyncio.run(main())
    assert grown < 300, f"1,000 waiting triggers grew RSS by {grown:.0f} MB"
    assert max(get_response_posts(runware).values()) <= MAX_TASKS_PER_POST


def test_batch_triggers_are_each_polled_in_a_post_of_their_own(runware: EmulatorHandle) -> None:
    """A crowd of 100-row batches (the batch form, deferred): every getResponse POST carries whole
    batches, so a batch's answer arrives in one POST and its event does not wait for the others."""
    runware.fault(kind="queue_delay", seconds=2)
    batches = [runware.submit_images(100) for _ in range(10)]

    async def main() -> list[dict[str, Any]]:
        return await asyncio.gather(
            *(first_event(trigger_for(batch[0], task_uuids=batch)) for batch in batches)
        )

    events = asyncio.run(main())
    assert [event["status"] for event in events] == ["success"] * 10
    assert [len(event["results"]) for event in events] == [100] * 10
    batch_of = {task_uuid: index for index, batch in enumerate(batches) for task_uuid in batch}
    per_post: dict[int, set[int]] = {}
    for entry in runware.tasks_of_type("getResponse"):
        per_post.setdefault(entry["post"], set()).add(batch_of[entry["taskUUID"]])
    assert all(len(batches_in_post) == 1 for batches_in_post in per_post.values())
