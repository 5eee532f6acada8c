"""The campaign's plan (``dags/chaos_plan.json``) as the checker sees it: task instances and their images.

The DAG builds its tasks from the same file, so "how many images must this task instance account for"
has one answer. Object keys come from the provider's own identity rules: the key of an image is a pure
function of dag, run, task, map index and image index, and that is what the checker relies on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_runware.run.identity import TaskInstanceIdentity, object_name

PLAN_FILE = Path(__file__).parent / "dags" / "chaos_plan.json"
DAG_FILES = [Path(__file__).parent / "dags" / "runware_chaos_campaign.py", PLAN_FILE]
IMAGE_TASK_MODES = ("deferrable", "blocking", "submit")


@dataclass(frozen=True)
class Instance:
    """One task instance of the run. A sensor's images are those of the submit-only task it waits for."""

    task_id: str
    map_index: int
    mode: str
    images: int
    source_task_id: str
    output_format: str = "JPG"

    @property
    def label(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"

    @property
    def key(self) -> tuple[str, int]:
        return self.task_id, self.map_index


@dataclass(frozen=True)
class Plan:
    dag_id: str
    bucket: str
    prefix: str
    storage_conn_id: str
    instances: tuple[Instance, ...]
    raw: dict[str, Any]

    @classmethod
    def load(cls, path: Path = PLAN_FILE) -> Plan:
        raw = json.loads(path.read_text())
        bucket, _, prefix = raw["output_location"].removeprefix("s3://").partition("/")
        instances: list[Instance] = []
        for group in raw["groups"]:
            map_indexes = range(len(group["prompts"])) if "prompts" in group else [-1]
            for map_index in map_indexes:
                instances.append(
                    Instance(group["task_id"], map_index, group["mode"], group["images"], group["task_id"])
                )
                sensor = group.get("sensor")
                if sensor:
                    instances.append(
                        Instance(sensor["task_id"], map_index, "sensor", group["images"], group["task_id"])
                    )
        return cls(raw["dag_id"], bucket, prefix, raw["storage_conn_id"], tuple(instances), raw)

    @property
    def total_images(self) -> int:
        return sum(instance.images for instance in self.instances if instance.mode in IMAGE_TASK_MODES)

    def with_mode(self, *modes: str) -> list[Instance]:
        return [instance for instance in self.instances if instance.mode in modes]

    def object_keys(self, run_id: str, instance: Instance) -> list[str]:
        """Storage keys of the instance's images, by image index (a sensor: its submit task's)."""
        identity = TaskInstanceIdentity(self.dag_id, run_id, instance.source_task_id, instance.map_index)
        return [
            f"{self.prefix}{object_name(identity, index, instance.output_format)}"
            for index in range(instance.images)
        ]

    def object_prefix(self, run_id: str, instance: Instance) -> str:
        identity = TaskInstanceIdentity(self.dag_id, run_id, instance.source_task_id, instance.map_index)
        return f"{self.prefix}{identity.object_prefix()}/"
