"""The emulator's seeded random-fault mode, over real HTTP: it fires at about the configured rate, the
same seed replays the same faults, every injected fault is counted by kind, and transport faults refuse
requests before anything is generated or billed."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from bad_inputs import valid_task
from emulator_handle import EMULATOR_API_KEY, EmulatorHandle, running_emulator

pytestmark = pytest.mark.integration

FAST = {"slow_seconds": [0.0, 0.01]}
TRANSPORT = ("http_429", "http_500", "http_502", "http_503", "http_504", "drop", "malformed")


def probe(runware: EmulatorHandle, task_uuid: str) -> tuple[str, httpx.Response | None]:
    """POST one cheap task and say what came back: ``ok``, ``http_<status>``, ``drop`` or ``malformed``."""
    try:
        response = runware.post([{"taskType": "ping", "taskUUID": task_uuid}])
    except httpx.TransportError:
        return "drop", None
    if response.status_code != 200:
        return f"http_{response.status_code}", response
    try:
        json.loads(response.text)
    except ValueError:
        return "malformed", response
    return "ok", response


def outcomes(runware: EmulatorHandle, count: int) -> list[str]:
    return [probe(runware, f"00000000-0000-4000-8000-{i:012d}")[0] for i in range(count)]


def wait_done(runware: EmulatorHandle, task_uuid: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = runware.post([{"taskType": "getResponse", "taskUUID": task_uuid}]).json()
        if not any(item.get("status") == "processing" for item in body.get("data", [])):
            return body
        time.sleep(0.05)
    raise AssertionError(f"{task_uuid} still processing after {timeout}s")


def task_failures(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-task failures in either of Runware's shapes: flat in ``errors``, or nested in ``data``."""
    nested = [item["error"] for item in body.get("data", []) if item.get("status") == "error"]
    return [*body.get("errors", []), *nested]


def usage(runware: EmulatorHandle) -> dict[str, Any]:
    task = {"taskType": "accountManagement", "operation": "getDetails", "taskUUID": str(uuid.uuid4())}
    result: dict[str, Any] = runware.post([task]).json()["data"][0]["usage"]
    return result


def test_fires_at_about_the_rate_and_counts_every_fault_by_kind(runware: EmulatorHandle) -> None:
    runware.random_faults(0.3, seed=11, **FAST)
    seen: Counter[str] = Counter()
    retry_after: Counter[bool] = Counter()
    names_task: Counter[bool] = Counter()
    for i in range(400):
        task_uuid = str(uuid.UUID(int=i, version=4))
        kind, response = probe(runware, task_uuid)
        seen[kind] += 1
        if response is not None and kind.startswith("http_"):
            retry_after["retry-after" in response.headers] += 1
            names_task[response.json()["errors"][0]["taskUUID"] == task_uuid] += 1

    stats = runware.fault_stats()
    injected = stats["injected"]
    assert stats["posts"] == 400
    assert {kind: injected.get(kind, 0) for kind in TRANSPORT} == {kind: seen[kind] for kind in TRANSPORT}
    assert set(injected) == {*TRANSPORT, "slow"}, "pings get every kind that does not need an image task"
    # 400 draws at p=0.3: mean 120, standard deviation 9.2; the seed fixes the outcome, the bounds
    # only say the mode is not wildly off its rate.
    assert 85 <= stats["total"] <= 155
    assert set(retry_after) == {True, False}, "HTTP faults come with and without Retry-After"
    assert set(names_task) == {True, False}, "error bodies name the request's task, or none"
    assert stats["variants"] == {"retry_after": retry_after[True], "names_task": names_task[True]}


def test_the_same_seed_replays_the_same_faults(runware: EmulatorHandle) -> None:
    runware.random_faults(0.4, seed=5, **FAST)
    first = outcomes(runware, 60)
    first_stats = runware.fault_stats()
    runware.random_faults(0.4, seed=5, **FAST)
    again = outcomes(runware, 60)
    runware.random_faults(0.4, seed=6, **FAST)
    other = outcomes(runware, 60)

    assert again == first
    assert runware.fault_stats()["posts"] == first_stats["posts"] == 60
    assert other != first
    assert set(first) - {"ok"}, "faults fired"


def test_transport_faults_refuse_the_request_before_anything_is_generated(runware: EmulatorHandle) -> None:
    runware.random_faults(1.0, seed=3, weights=dict.fromkeys(TRANSPORT, 1))
    tasks = [valid_task(deliveryMethod="async") for _ in range(12)]
    for task in tasks:
        with contextlib.suppress(httpx.TransportError):
            runware.post([task])
    injected = runware.fault_stats()["injected"]
    runware.stop_random_faults()

    assert sum(injected.values()) == len(tasks)
    assert {entry["fault"] for entry in runware.tasks_of_type("imageInference")} <= set(TRANSPORT)
    assert runware.requests("generation") == [], "nothing was generated"
    assert usage(runware)["imagesGenerated"] == 0, "nothing was billed"
    resubmitted = [runware.post([task]).status_code for task in tasks]
    assert resubmitted == [200] * len(tasks), "the refused tasks were never registered: no conflict"


def test_failed_generation_fails_one_image_unbilled(runware: EmulatorHandle) -> None:
    runware.random_faults(1.0, seed=1, weights={"fail_generation": 1})
    first, second = valid_task(deliveryMethod="async"), valid_task(deliveryMethod="async")
    assert runware.post([first, second]).status_code == 200
    runware.stop_random_faults()
    bodies = [wait_done(runware, task["taskUUID"]) for task in (first, second)]

    failures = [failure for body in bodies for failure in task_failures(body)]
    assert len(failures) == 1, "one task of the POST fails its generation"
    assert failures[0]["code"] == "inferenceError"
    generations = runware.requests("generation")
    assert sorted((g["status"], g.get("fault")) for g in generations) == [
        ("error", "fail_generation"),
        ("success", None),
    ]
    assert usage(runware)["imagesGenerated"] == 1, "the failed image is not billed"


def test_queue_delays_only_hit_image_submissions(runware: EmulatorHandle) -> None:
    runware.random_faults(1.0, seed=2, weights={"queue_delay": 1}, queue_delay_seconds=[0.2, 0.3])
    task = valid_task(deliveryMethod="async")
    assert outcomes(runware, 5) == ["ok"] * 5, "a ping has no images to delay"
    assert runware.post([task]).status_code == 200
    body = wait_done(runware, task["taskUUID"])

    assert [item["status"] for item in body["data"]] == ["success"]
    assert runware.fault_stats()["injected"] == {"queue_delay": 1}


def test_upload_faults_have_their_own_rate(runware: EmulatorHandle) -> None:
    runware.random_faults(0.0, seed=4, upload_rate=1.0)
    # Nothing listens there: the fault refuses the upload before any PUT would be tried.
    task = valid_task(uploadEndpoint="http://127.0.0.1:9/bucket/image.jpg")
    body = runware.post([task]).json()

    assert body["errors"][0]["code"] == "uploadFailed"
    [upload] = runware.requests("upload")
    assert (upload["fault"], upload["status"] in (403, 500, 503)) == ("upload_fail", True)
    stats = runware.fault_stats()
    assert (stats["injected"], stats["uploads"]) == ({"upload_fail": 1}, 1)
    assert usage(runware)["imagesGenerated"] == 1, "the image was generated and billed, then not stored"


@pytest.mark.parametrize(
    "config",
    [
        {"rate": 1.5},
        {"rate": 0.1, "seed": "seven"},
        {"rate": 0.1, "weights": {"meteor_strike": 1}},
        {"rate": 0.1, "slow_seconds": [5, 1]},
        {"rate": 0.1, "colour": "red"},
    ],
)
def test_bad_configurations_are_refused(runware: EmulatorHandle, config: dict[str, Any]) -> None:
    with httpx.Client(trust_env=False) as client:
        response = client.post(f"{runware.root_url}/_emulator/faults/random", json=config)
    assert response.status_code == 400
    assert runware.fault_stats() == {"enabled": False}


def test_command_line_flags_start_the_mode_and_reset_replays_it() -> None:
    flags = ("--fault-rate", "0.5", "--fault-seed", "3")
    with running_emulator(EMULATOR_API_KEY, *flags) as emulator:
        stats = emulator.fault_stats()
        assert (stats["rate"], stats["seed"], stats["upload_rate"]) == (0.5, 3, 0.05)
        first = outcomes(emulator, 6)
        emulator.reset()
        assert emulator.fault_stats()["posts"] == 0
        assert outcomes(emulator, 6) == first
