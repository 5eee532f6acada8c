"""A SIGKILLed worker (waiting for images, and for a video), a restarted triggerer and a cleared task on
real Airflow services (api-server, scheduler with the LocalExecutor, triggerer, dag-processor), on
whichever Airflow line the suite runs: every image and video is reported and none is generated twice. The
ledger lives in this line's home (task_state_store from 3.3, an Airflow Variable below), so this is also
the ledger's test across real process deaths and a user's Clear.

Airflow 3.0's task supervisor may fail a task whose process was killed without using its retries (3.1
added the retry; on 3.0.2 the image task was failed and the video task retried), so on 3.0 a killed
task that failed is cleared by hand, as its user would, and must then finish from the ledger without
paying again.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import airflow
from airflow_services import AirflowServices
from emulator_handle import EmulatorHandle
from packaging.version import Version
from service_runs import accepted, generated, returned_images, runware_services, task_try, wait_for

RETRIES_A_KILLED_TASK = Version(airflow.__version__) >= Version("3.1.0")
IMAGE_SECONDS = 20


def accepted_prompts(runware: EmulatorHandle, task_type: str = "imageInference") -> Counter[str]:
    """Tasks the emulator accepted (and so started generating), per prompt."""
    return Counter(entry["task"]["positivePrompt"] for entry in accepted(runware, task_type))


def kill_when_waiting(services: AirflowServices, dag_id: str, ready: Any) -> None:
    """SIGKILL the task's process once it is running and Runware has accepted what it asked for."""
    pid = wait_for(
        f"{dag_id}'s blocking task to wait for its accepted results",
        lambda: (ti := task_try(services, dag_id)).state == "running" and ti.pid and ready() and ti.pid,
    )
    os.kill(int(pid), signal.SIGKILL)


def finish_killed_run(services: AirflowServices, dag_id: str, run_id: str) -> None:
    """The killed task's run ends in success on its second try. Airflow 3.0 may fail a killed task
    without using its retries (3.1 always retries it); its user then clears it, as here."""
    state = services.wait_for_run(dag_id, run_id, timeout=240)
    if state == "failed" and not RETRIES_A_KILLED_TASK:
        cleared = services.airflow("tasks", "clear", dag_id, "--yes")
        assert cleared.returncode == 0, cleared.stderr[-2000:]
        wait_for("the cleared run to start again", lambda: services.run_state(dag_id, run_id) != "failed")
        state = services.wait_for_run(dag_id, run_id, timeout=240)
    assert state == "success"
    assert task_try(services, dag_id).try_number == 2, "the second try finished what the first paid for"


def test_a_killed_worker_a_restarted_triggerer_and_a_clear_never_pay_twice(
    runware: EmulatorHandle, tmp_path: Path
) -> None:
    runware.fault(kind="queue_delay", seconds=IMAGE_SECONDS)
    with runware_services(tmp_path / "airflow", "runware_process_faults.py", runware) as services:
        killed_run = services.trigger("runware_worker_killed", {})
        video_run = services.trigger("runware_video_worker_killed", {})
        restarted_run = services.trigger("runware_triggerer_restarted", {})

        # Each worker waits for what Runware has accepted: a crash now must not pay for it again.
        kill_when_waiting(
            services,
            "runware_worker_killed",
            lambda: accepted_prompts(runware)["a ceramic mug, studio light"] == 2,
        )
        kill_when_waiting(
            services,
            "runware_video_worker_killed",
            lambda: accepted_prompts(runware, "videoInference")["a ceramic mug turning on a table"] == 1,
        )

        wait_for(
            "the deferrable task to defer",
            lambda: task_try(services, "runware_triggerer_restarted").state == "deferred",
        )
        services.kill_component("triggerer")
        time.sleep(3)
        services.start_component("triggerer")

        finish_killed_run(services, "runware_worker_killed", killed_run)
        finish_killed_run(services, "runware_video_worker_killed", video_run)
        (video,) = returned_images(services, "runware_video_worker_killed")
        assert video["video_uuid"]
        assert video["video_url"].startswith(runware.root_url)
        assert services.wait_for_run("runware_triggerer_restarted", restarted_run, timeout=240) == "success"
        first_uuids = [i["task_uuid"] for i in returned_images(services, "runware_triggerer_restarted")]
        assert services.restarts["triggerer"] == 1

        for dag_id in ("runware_worker_killed", "runware_triggerer_restarted"):
            images = returned_images(services, dag_id)
            assert sorted(image["index"] for image in images) == [0, 1]

        # A user clears the succeeded task: from 3.3 its ledger says every image is stored; below 3.3
        # the ledger went with the success and the same taskUUIDs meet Runware's conflictTaskUUID.
        cleared = services.airflow("tasks", "clear", "runware_triggerer_restarted", "--yes")
        assert cleared.returncode == 0, cleared.stderr[-2000:]
        wait_for(
            "the cleared task to succeed again",
            lambda: task_try(services, "runware_triggerer_restarted")[::2] == ("success", 2),
            timeout=180,
        )
        assert sorted(
            i["task_uuid"] for i in returned_images(services, "runware_triggerer_restarted")
        ) == sorted(first_uuids)
    generations = generated(runware)
    assert len(generations) == 5, "two images for each image DAG, one video"
    assert set(generations.values()) == {1}, "no image or video was generated twice"
