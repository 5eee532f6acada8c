"""The chaos campaign's checker on hand-made evidence: it must catch every kind of violation it claims
to, and flag nothing in a clean run (no servers, no Airflow: these run in milliseconds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chaos_evidence import Evidence, TaskInstanceRow
from chaos_invariants import Report, check, failure_cause
from chaos_plan import Plan
from chaos_processes import SeenProcess

RUN_ID = "chaos-test"
BUCKET = "bucket"
API_KEY = "key-0123456789"
IMAGE = b"\xff\xd8 pretend this is a jpeg " * 8


def _plan(tmp_path: Path) -> Plan:
    raw = {
        "dag_id": "chaos_dag",
        "output_location": f"s3://{BUCKET}/p/",
        "storage_conn_id": "aws",
        "groups": [
            {"task_id": "gen", "mode": "deferrable", "images": 2, "prompt": "x"},
            {
                "task_id": "submit",
                "mode": "submit",
                "images": 1,
                "prompts": ["y"],
                "sensor": {"task_id": "sense", "mode": "deferrable"},
            },
        ],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(raw))
    return Plan.load(path)


class Run:
    """Evidence for the plan above, built step by step the way the emulator would log it."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.evidence = Evidence(run_id=RUN_ID, run_state="success")
        self.evidence.secrets = {"api_key": {API_KEY}, "presigned_signature": set()}
        self.clock = 1000.0
        self.gen_keys = plan.object_keys(RUN_ID, plan.instances[0])
        self.submit_keys = plan.object_keys(RUN_ID, plan.instances[1])

    def image(self, key: str, task_uuid: str, *, status: str = "success", upload: int | None = 200) -> str:
        self.clock += 1
        signature = f"sig{task_uuid}"
        self.evidence.secrets["presigned_signature"].add(signature)
        endpoint = f"http://127.0.0.1:1/{BUCKET}/{key}?X-Amz-Signature={signature}"
        self.evidence.submissions.append(
            {"taskUUID": task_uuid, "status": 200, "at": self.clock, "task": {"uploadEndpoint": endpoint}}
        )
        image_uuid = f"img-{task_uuid}"
        self.evidence.generations.append(
            {
                "taskUUID": task_uuid,
                "imageUUID": image_uuid if status == "success" else None,
                "status": status,
                "at": self.clock,
            }
        )
        if status == "success" and upload is not None:
            self.evidence.uploads.append({"taskUUID": task_uuid, "imageUUID": image_uuid, "status": upload})
            if upload == 200:
                data = IMAGE + task_uuid.encode()
                self.evidence.objects[key] = data
                self.evidence.emulator_images[image_uuid] = data
        return image_uuid

    def task(self, task_id: str, state: str, xcom: Any = None, map_index: int = -1) -> None:
        self.evidence.task_instances[(task_id, map_index)] = TaskInstanceRow(task_id, map_index, state, 1)
        if xcom is not None:
            self.evidence.xcoms[(task_id, map_index)] = xcom

    def clean(self) -> Run:
        """Every task succeeded with every image."""
        gen_items = [
            {
                "task_uuid": f"g{i}",
                "image_uuid": self.image(key, f"g{i}"),
                "storage_uri": f"s3://{BUCKET}/{key}",
            }
            for i, key in enumerate(self.gen_keys)
        ]
        self.task("gen", "success", gen_items)
        image_uuid = self.image(self.submit_keys[0], "s0")
        self.task("submit", "success", ["s0"], map_index=0)
        self.task("sense", "success", [{"task_uuid": "s0", "image_uuid": image_uuid}], map_index=0)
        return self

    def report(self, leftovers: list[SeenProcess] | None = None) -> Report:
        return check(self.plan, self.evidence, leftovers or [])


def invariants(report: Report) -> list[str]:
    return sorted(violation.invariant for violation in report.violations)


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return Run(_plan(tmp_path))


def test_a_clean_run_has_no_violations(run: Run) -> None:
    report = run.clean().report()
    assert report.violations == []
    assert (report.counts["images"], report.counts["delivered"], report.counts["lost"]) == (3, 3, 0)
    assert report.counts["succeeded"] == 3


def test_success_with_fewer_images_loses_the_missing_ones(run: Run) -> None:
    run.clean()
    run.evidence.xcoms[("gen", -1)] = run.evidence.xcoms[("gen", -1)][:1]
    report = run.report()
    assert invariants(report) == ["lost_image"]
    assert report.counts["lost"] == 1
    assert "image-1" in report.violations[0].where
    assert "object stored" in report.violations[0].detail, "Runware made and stored it; the task dropped it"


def test_success_with_an_empty_result_loses_everything(run: Run) -> None:
    run.clean()
    run.evidence.xcoms[("gen", -1)] = []
    assert run.report().counts["lost"] == 2


def test_a_second_paid_generation_is_a_duplicate_but_a_retry_after_a_failure_is_not(run: Run) -> None:
    run.clean()
    run.image(run.gen_keys[0], "g0-again")
    run.image(run.submit_keys[0], "s0-failed", status="error")
    report = run.report()
    assert invariants(report) == ["duplicate_generation", "listed_object_differs"]
    assert report.counts["duplicates"] == 1
    assert report.counts["failed_generations"] == 1


def test_failed_with_every_image_stored_is_spurious(run: Run) -> None:
    run.clean()
    run.task("gen", "failed")
    run.evidence.failure_reasons["gen"] = "Task failed with exception RunwareTransientError: 503"
    report = run.report()
    assert invariants(report) == ["spurious_failure"]
    assert "RunwareTransientError" in report.violations[0].detail
    assert report.failed_by == {"RunwareTransientError": 1}


def test_failed_with_an_image_not_stored_is_a_legitimate_failure(run: Run) -> None:
    run.image(run.gen_keys[0], "g0")
    run.image(run.gen_keys[1], "g1", upload=403)
    run.task("gen", "failed")
    run.task("submit", "failed", map_index=0)
    run.task("sense", "upstream_failed", map_index=0)
    report = run.report()
    assert report.violations == []
    assert (report.counts["failed"], report.counts["not_run"]) == (2, 1)


def test_listed_objects_must_exist_and_be_the_listed_image(run: Run) -> None:
    run.clean()
    del run.evidence.objects[run.gen_keys[0]]
    run.evidence.objects[run.gen_keys[1]] = b"someone else's bytes"
    assert invariants(run.report()) == ["listed_object_differs", "listed_object_missing"]


def test_a_sensor_result_may_use_runware_wire_names(run: Run) -> None:
    run.clean()
    [item] = run.evidence.xcoms[("sense", 0)]
    run.evidence.xcoms[("sense", 0)] = [{"taskUUID": item["task_uuid"], "imageUUID": item["image_uuid"]}]
    assert run.report().violations == []


def test_a_sensor_must_cover_every_image_of_its_submit_task(run: Run) -> None:
    run.clean()
    run.evidence.xcoms[("sense", 0)] = []
    run.evidence.xcoms[("submit", 0)] = []
    assert invariants(run.report()) == ["lost_image", "submit_result_mismatch"]


def test_secrets_in_logs_or_tables_are_leaks(run: Run) -> None:
    run.clean()
    run.evidence.texts["logs/task.log"] = f"calling with Bearer {API_KEY}"
    run.evidence.texts["db:xcom.value"] = "url?X-Amz-Signature=sigg1"
    report = run.report()
    assert sorted((v.where, v.detail) for v in report.violations) == [
        ("db:xcom.value", "1 presigned_signature value(s)"),
        ("logs/task.log", "1 api_key value(s)"),
    ]


def test_processes_left_running_and_unfinished_tasks_are_violations(run: Run) -> None:
    run.clean()
    run.task("gen", "running")
    run.evidence.run_state = "running"
    report = run.report([SeenProcess(4242, 1.0, "airflow triggerer")])
    assert invariants(report) == ["leftover_process", "unfinished", "unfinished"]


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("Task failed with exception RunwareUploadError: 1 of 3 Runware images failed", "RunwareUploadError"),
        (
            "scheduler: Executor LocalExecutor(parallelism=5) reported that the task instance <TaskInstance: "
            "d.t r [queued]> finished with state success, but the task instance's state attribute is queued.",
            "executor_state_mismatch",
        ),
        ("(no error in the task's log nor the scheduler's)", "unknown"),
    ],
)
def test_failure_causes_name_the_exception_or_the_deferral_race(reason: str, cause: str) -> None:
    assert failure_cause(reason) == cause
