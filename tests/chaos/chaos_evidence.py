"""Everything the invariant checker judges, gathered once the campaign is over.

Four witnesses that do not share code paths with the operator: the emulator's request log (what was
submitted, generated, failed and uploaded, and the presigned URLs it was handed), the object store
(what is really stored), the metadata DB (task states, XCom, and every text column of every table) and
the files under AIRFLOW_HOME (task, trigger and component logs).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from airflow_services import AirflowServices
from chaos_plan import Plan
from emulator_handle import EmulatorHandle

TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb")
MAX_FILE_BYTES = 64 * 1024 * 1024
BASE64_WINDOW = 40
EXTENSIONS = {"JPG": "jpg", "PNG": "png", "WEBP": "webp"}
# attempt=N.log is the task's own log; attempt=N.log.trigger.M.log are its trigger's.
ATTEMPT_LOG = re.compile(r"attempt=\d+\.log")


@dataclass(frozen=True)
class TaskInstanceRow:
    task_id: str
    map_index: int
    state: str | None
    try_number: int

    @property
    def label(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


@dataclass
class Evidence:
    run_id: str
    run_state: str | None
    task_instances: dict[tuple[str, int], TaskInstanceRow] = field(default_factory=dict)
    xcoms: dict[tuple[str, int], Any] = field(default_factory=dict)
    submissions: list[dict[str, Any]] = field(default_factory=list)
    generations: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    fault_stats: dict[str, Any] = field(default_factory=dict)
    objects: dict[str, bytes] = field(default_factory=dict)
    emulator_images: dict[str, bytes] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, set[str]] = field(default_factory=dict)
    failure_reasons: dict[str, str] = field(default_factory=dict)


def _json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def collect_db(services: AirflowServices, plan: Plan, evidence: Evidence) -> None:
    """Task states and XCom of the run, and every text column of every table (for the secrets scan)."""
    params = {"dag_id": plan.dag_id, "run_id": evidence.run_id}
    rows = services.query(
        "SELECT task_id, map_index, state, try_number FROM task_instance "
        "WHERE dag_id = :dag_id AND run_id = :run_id",
        **params,
    )
    for task_id, map_index, state, try_number in rows:
        row = TaskInstanceRow(task_id, int(map_index), state, int(try_number or 0))
        evidence.task_instances[(row.task_id, row.map_index)] = row
    for task_id, map_index, value in services.query(
        "SELECT task_id, map_index, value FROM xcom "
        "WHERE dag_id = :dag_id AND run_id = :run_id AND key = 'return_value'",
        **params,
    ):
        evidence.xcoms[(task_id, int(map_index))] = _json(value)
    evidence.texts.update(dump_tables(services))


def _as_text(value: Any) -> str:
    if isinstance(value, memoryview | bytes):
        raw = bytes(value)
        with contextlib.suppress(zlib.error):
            raw = zlib.decompress(raw)  # compressed columns (serialized DAGs) are searched inflated
        return raw.decode("latin-1")
    return str(value)


def dump_tables(services: AirflowServices) -> dict[str, str]:
    """``db:<table>.<column>`` -> all its values, for every text, JSON and bytea column in the DB."""
    columns: dict[str, list[str]] = {}
    for table, column, data_type in services.query(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
    ):
        if data_type in TEXT_TYPES or data_type == "bytea":
            columns.setdefault(table, []).append(column)
    texts: dict[str, str] = {}
    for table, names in columns.items():
        selected = ", ".join(f'"{name}"' for name in names)
        values: dict[str, list[str]] = {name: [] for name in names}
        for row in services.query(f'SELECT {selected} FROM "{table}"'):
            for name, value in zip(names, row, strict=True):
                if value is not None:
                    values[name].append(_as_text(value))
        for name, found in values.items():
            if found:
                texts[f"db:{table}.{name}"] = "\n".join(found)
    return texts


def collect_emulator(emulator: EmulatorHandle, evidence: Evidence) -> None:
    """The request log, the fault counts, and the bytes of every image the emulator uploaded."""
    evidence.submissions = emulator.requests("api", task_type="imageInference")
    evidence.generations = emulator.requests("generation")
    evidence.uploads = emulator.requests("upload")
    evidence.fault_stats = emulator.fault_stats()
    formats = {
        entry["taskUUID"]: (entry.get("task") or {}).get("outputFormat", "JPG")
        for entry in evidence.submissions
    }
    with httpx.Client(trust_env=False, timeout=10.0) as client:
        for upload in evidence.uploads:
            image_uuid = upload.get("imageUUID")
            extension = EXTENSIONS.get(formats.get(upload.get("taskUUID"), "JPG"), "jpg")
            if image_uuid and image_uuid not in evidence.emulator_images:
                response = client.get(f"{emulator.root_url}/images/{image_uuid}.{extension}")
                if response.status_code == 200:
                    evidence.emulator_images[image_uuid] = response.content
    signatures = set()
    for entry in evidence.submissions:
        endpoint = (entry.get("task") or {}).get("uploadEndpoint") or ""
        for name, value in parse_qsl(urlsplit(endpoint).query):
            if name.lower() in ("x-amz-signature", "signature") and value:
                signatures.add(value)
    evidence.secrets["presigned_signature"] = signatures


def save_emulator_log(evidence: Evidence, path: Path) -> None:
    """The emulator's log for a post-mortem next to the server logs, presigned queries cut off."""

    def sanitized(entry: dict[str, Any]) -> dict[str, Any]:
        task = dict(entry.get("task") or {})
        if isinstance(task.get("uploadEndpoint"), str):
            task["uploadEndpoint"] = task["uploadEndpoint"].split("?", 1)[0]
        return {**entry, "task": task} if "task" in entry else entry

    log = {
        "submissions": [sanitized(entry) for entry in evidence.submissions],
        "generations": evidence.generations,
        "uploads": evidence.uploads,
        "fault_stats": evidence.fault_stats,
    }
    path.write_text(json.dumps(log, indent=1))


def collect_objects(s3_client: Any, bucket: str, evidence: Evidence) -> None:
    """Every object in the campaign's bucket, with its bytes."""
    paginator = s3_client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            body = s3_client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            evidence.objects[item["Key"]] = body
    evidence.secrets["image_base64"] = {
        window
        for data in [*evidence.objects.values(), *evidence.emulator_images.values()]
        if data
        for window in [_base64_window(data)]
    }


def _base64_window(data: bytes) -> str:
    """A slice from the middle of the image's base64: specific to the image (JPEG headers are not)."""
    encoded = base64.b64encode(data).decode("ascii")
    middle = len(encoded) // 2
    return encoded[middle : middle + BASE64_WINDOW]


def collect_files(home: Path, evidence: Evidence) -> None:
    """Every file under AIRFLOW_HOME: task and trigger logs, component consoles, config."""
    for path in sorted(home.rglob("*")):
        if path.is_file() and path.stat().st_size <= MAX_FILE_BYTES:
            evidence.texts[str(path.relative_to(home))] = path.read_text(errors="replace")
    evidence.failure_reasons.update(_failure_reasons(home, evidence))


def _task_log(home: Path, evidence: Evidence, row: TaskInstanceRow, dag_id: str) -> Path | None:
    folder = home / "logs" / f"dag_id={dag_id}" / f"run_id={evidence.run_id}" / f"task_id={row.task_id}"
    if row.map_index >= 0:
        folder = folder / f"map_index={row.map_index}"
    attempts = [path for path in folder.glob("attempt=*.log") if ATTEMPT_LOG.fullmatch(path.name)]
    return max(attempts, key=lambda path: int(path.name.split("=")[1].split(".")[0]), default=None)


def _error_events(path: Path) -> Iterator[str]:
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") in ("error", "critical"):
            detail = record.get("error_detail")
            message = ""
            # The raised exception comes first, then its causes.
            if isinstance(detail, list) and detail and isinstance(detail[0], dict):
                message = f"{detail[0].get('exc_type')}: {detail[0].get('exc_value')}"
            yield f"{record.get('event')} {message}".strip()


def _failure_reasons(home: Path, evidence: Evidence) -> dict[str, str]:
    """Why each failed task instance failed: the last error of its final attempt's log or, when the
    task itself logged none, what the scheduler said when it failed the task instance."""
    reasons = {}
    dag_ids = {p.name.removeprefix("dag_id=") for p in (home / "logs").glob("dag_id=*")}
    scheduler_errors = [
        line
        for path in sorted(home.glob("scheduler*.console.log"))
        for line in path.read_text(errors="replace").splitlines()
        if "[error" in line
    ]
    for row in evidence.task_instances.values():
        if row.state != "failed":
            continue
        for dag_id in dag_ids:
            path = _task_log(home, evidence, row, dag_id)
            errors = list(_error_events(path)) if path is not None else []
            if errors:
                reasons[row.label] = errors[-1][:600]
            elif path is not None:
                reasons[row.label] = _scheduler_reason(scheduler_errors, dag_id, evidence.run_id, row)
    return reasons


def _scheduler_reason(lines: list[str], dag_id: str, run_id: str, row: TaskInstanceRow) -> str:
    """The scheduler's last error naming this task instance (e.g. an executor/state mismatch)."""
    name = f"<TaskInstance: {dag_id}.{row.task_id} {run_id}"
    mapped = f"map_index={row.map_index} " if row.map_index >= 0 else ""
    for line in reversed(lines):
        if name in line and (not mapped or mapped in line):
            message = line.split("[error", 1)[1].split("]", 1)[-1].strip()
            return f"scheduler: {message[:500]}"
    return "(no error in the task's log nor the scheduler's)"
