"""The campaign's invariants, judged from the evidence alone (never from what the operator says of itself).

1. Every successful task lists exactly its stored objects, each present, non-empty and the very image
   the result names; no task succeeds with fewer images than it asked for (a missing one is *lost*).
2. Each image (task instance and image index, i.e. its storage key) is generated at most once unless
   its earlier generation failed; a second successful generation is a *duplicate* (paid twice).
3. The API key, the AWS secret, presigned signatures and base64 image data appear in no file under
   AIRFLOW_HOME and in no DB table.
4. Nothing the campaign started is left running.
A task that failed although every one of its images was generated and stored is a *spurious failure*.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from chaos_evidence import Evidence
from chaos_plan import Instance, Plan
from chaos_process_faults import upload_key
from chaos_processes import SeenProcess

NOT_RUN_STATES = ("upstream_failed", "skipped", "removed")
FAILURE_CAUSE = re.compile(r"exception (\w+)")


@dataclass(frozen=True)
class Violation:
    invariant: str
    where: str
    detail: str


@dataclass
class ImageHistory:
    """What happened to one image (one storage key) at the emulator, in order."""

    key: str
    task_uuids: list[str] = field(default_factory=list)
    generations: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)

    @property
    def billed(self) -> list[dict[str, Any]]:
        return [g for g in self.generations if g.get("status") == "success"]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [g for g in self.generations if g.get("status") != "success"]

    def uploaded(self) -> bool:
        return any(isinstance(u.get("status"), int) and 200 <= u["status"] < 300 for u in self.uploads)

    def describe(self, started: float) -> str:
        steps = []
        for generation in self.generations:
            image_uuid = generation.get("imageUUID")
            upload = next((u for u in self.uploads if u.get("imageUUID") == image_uuid), None)
            stored = f", upload {upload.get('status') or upload.get('error')}" if upload else ""
            steps.append(
                f"t+{generation['at'] - started:.1f}s {generation['taskUUID'][:8]} {generation['status']}"
                f"{' ' + generation['code'] if generation.get('code') else ''}{stored}"
            )
        return "; ".join(steps) or "never generated"


@dataclass
class Report:
    """Counts for the summary line, every violation with its details, and each task's outcome."""

    counts: dict[str, int]
    faults: dict[str, int]
    fault_stats: dict[str, Any]
    violations: list[Violation]
    outcomes: dict[str, str]
    failure_reasons: dict[str, str]
    failed_by: dict[str, int]
    scanned: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "failed_by": self.failed_by,
            "scanned": self.scanned,
            "faults": self.faults,
            "fault_stats": self.fault_stats,
            "violations": [asdict(v) for v in self.violations],
            "outcomes": self.outcomes,
            "failure_reasons": self.failure_reasons,
        }


class Checker:
    def __init__(self, plan: Plan, evidence: Evidence) -> None:
        self.plan = plan
        self.evidence = evidence
        self.violations: list[Violation] = []
        self.counts: Counter[str] = Counter()
        self.key_of_uuid: dict[str, str] = {}
        self.histories: dict[str, ImageHistory] = {}
        self.started = min((e["at"] for e in evidence.submissions), default=0.0)
        self._index_emulator_log()

    def flag(self, invariant: str, where: str, detail: str) -> None:
        self.violations.append(Violation(invariant, where, detail))

    # ----- the emulator's view of every image ---------------------------------------------------

    def _index_emulator_log(self) -> None:
        for entry in self.evidence.submissions:
            key = upload_key(entry.get("task") or {})
            task_uuid = entry.get("taskUUID")
            if not key or not task_uuid:
                continue
            known = self.key_of_uuid.setdefault(task_uuid, key)
            if known != key:
                self.flag("uuid_reused", task_uuid, f"one taskUUID for two objects: {known} and {key}")
            history = self.histories.setdefault(key, ImageHistory(key))
            if task_uuid not in history.task_uuids:
                history.task_uuids.append(task_uuid)
        for generation in self.evidence.generations:
            key = self.key_of_uuid.get(generation.get("taskUUID", ""))
            if key is not None:
                self.histories[key].generations.append(generation)
        for upload in self.evidence.uploads:
            key = self.key_of_uuid.get(upload.get("taskUUID", ""))
            if key is not None:
                self.histories[key].uploads.append(upload)

    def history(self, key: str) -> ImageHistory:
        return self.histories.get(key) or ImageHistory(key)

    def stored(self, key: str) -> bool:
        return bool(self.evidence.objects.get(key))

    def generated_and_stored(self, key: str) -> bool:
        history = self.history(key)
        return bool(history.billed) and history.uploaded() and self.stored(key)

    # ----- invariants -----------------------------------------------------------------------------

    def check_generations(self) -> None:
        """Invariant 2: a second successful generation of the same image is a second payment."""
        for key, history in sorted(self.histories.items()):
            billed = history.billed
            self.counts["generations"] += len(history.generations)
            self.counts["failed_generations"] += len(history.failed)
            if len(billed) > 1:
                self.counts["duplicates"] += len(billed) - 1
                self.flag(
                    "duplicate_generation",
                    key,
                    f"generated and billed {len(billed)} times: {history.describe(self.started)}",
                )

    def check_instances(self) -> dict[str, str]:
        outcomes = {}
        for instance in self.plan.instances:
            row = self.evidence.task_instances.get(instance.key)
            state = row.state if row is not None else None
            outcomes[instance.label] = f"{state} (try {row.try_number})" if row else "never created"
            self.counts["tasks"] += 1
            keys = self.plan.object_keys(self.evidence.run_id, instance)
            if state == "success":
                self.counts["succeeded"] += 1
                self._check_success(instance, keys, self.evidence.xcoms.get(instance.key))
            elif state == "failed":
                self.counts["failed"] += 1
                self._check_failure(instance, keys)
            elif state in NOT_RUN_STATES:
                self.counts["not_run"] += 1
            else:
                self.counts["unfinished"] += 1
                self.flag("unfinished", instance.label, f"still {state!r} when the campaign ended")
        return outcomes

    def _check_failure(self, instance: Instance, keys: list[str]) -> None:
        if all(self.generated_and_stored(key) for key in keys):
            self.counts["spurious_failures"] += 1
            reason = self.evidence.failure_reasons.get(instance.label, "reason not found in its log")
            self.flag(
                "spurious_failure",
                instance.label,
                f"failed although all {len(keys)} images were generated and stored; its log: {reason}",
            )

    def _check_success(self, instance: Instance, keys: list[str], value: Any) -> None:
        if instance.mode == "submit":
            self._check_submitted(instance, keys, value)
            return
        if not isinstance(value, list):
            self._lost(instance, keys, f"succeeded with no result list (XCom {value!r:.80})")
            return
        listed: dict[str, Mapping[str, Any]] = {}
        for item in value:
            key = self._key_of_result(instance, item)
            if key is None or key not in keys:
                self.flag("unexpected_result", instance.label, f"lists {_short(item)}, not one of its images")
            elif key in listed:
                self.flag("listed_twice", instance.label, f"lists {key} twice")
            else:
                listed[key] = item
        missing = [key for key in keys if key not in listed]
        if missing:
            self._lost(instance, missing, f"succeeded listing {len(listed)} of {len(keys)} images")
        for key, item in listed.items():
            if self._check_listed_object(instance, key, item):
                self.counts["delivered"] += 1

    def _key_of_result(self, instance: Instance, item: Any) -> str | None:
        if not isinstance(item, Mapping):
            return None
        if instance.mode == "sensor":
            return self.key_of_uuid.get(str(_either(item, "task_uuid", "taskUUID")))
        uri = item.get("storage_uri")
        head = f"s3://{self.plan.bucket}/"
        if not isinstance(uri, str) or not uri.startswith(head):
            return None
        key = uri.removeprefix(head)
        named = self.key_of_uuid.get(str(item.get("task_uuid")))
        if named is not None and named != key:
            self.flag("result_names_wrong_task", instance.label, f"{key} listed with the taskUUID of {named}")
        return key

    def _check_listed_object(self, instance: Instance, key: str, item: Mapping[str, Any]) -> bool:
        data = self.evidence.objects.get(key)
        if data is None:
            self.flag("listed_object_missing", instance.label, f"lists {key}, which is not in the bucket")
            return False
        if not data:
            self.flag("listed_object_empty", instance.label, f"lists {key}, which is empty")
            return False
        image_uuid = _either(item, "image_uuid", "imageUUID")
        rendered = self.evidence.emulator_images.get(str(image_uuid))
        if rendered is not None and rendered != data:
            self.flag(
                "listed_object_differs",
                instance.label,
                f"{key} holds other bytes than image {image_uuid} it lists: "
                f"{self.history(key).describe(self.started)}",
            )
            return False
        return True

    def _check_submitted(self, instance: Instance, keys: list[str], value: Any) -> None:
        uuids = value if isinstance(value, list) else []
        covered = sorted(self.key_of_uuid.get(str(uuid), f"unknown taskUUID {uuid}") for uuid in uuids)
        if covered != sorted(keys):
            self.flag(
                "submit_result_mismatch",
                instance.label,
                f"returned {len(uuids)} taskUUIDs covering {covered}, expected one for each of {keys}",
            )

    def _lost(self, instance: Instance, keys: list[str], summary: str) -> None:
        self.counts["lost"] += len(keys)
        for key in keys:
            stored = "stored" if self.stored(key) else "not in the bucket"
            self.flag(
                "lost_image",
                f"{instance.label} {key.rsplit('/', 1)[-1]}",
                f"{summary}; object {stored}; at Runware: {self.history(key).describe(self.started)}",
            )

    def check_secrets(self, secrets: Mapping[str, Iterable[str]]) -> None:
        """Invariant 3: one violation per place and kind of secret, with how many distinct values."""
        for where, text in sorted(self.evidence.texts.items()):
            for kind, values in secrets.items():
                found = sum(1 for value in values if value and value in text)
                if found:
                    self.counts["leaks"] += 1
                    self.flag("secret_leak", where, f"{found} {kind} value(s)")

    def check_processes(self, leftovers: Iterable[SeenProcess]) -> None:
        """Invariant 4."""
        for seen in leftovers:
            self.counts["leftovers"] += 1
            self.flag("leftover_process", f"pid {seen.pid}", seen.command)


def check(plan: Plan, evidence: Evidence, leftovers: Iterable[SeenProcess]) -> Report:
    checker = Checker(plan, evidence)
    checker.counts["images"] = plan.total_images
    for name in ("delivered", "lost", "duplicates", "spurious_failures", "leaks", "leftovers"):
        checker.counts[name] += 0
    checker.check_generations()
    outcomes = checker.check_instances()
    checker.check_secrets(evidence.secrets)
    checker.check_processes(leftovers)
    if evidence.run_state not in ("success", "failed"):
        checker.flag("unfinished", "dag run", f"{evidence.run_id} still {evidence.run_state!r} at the end")
    faults = dict(evidence.fault_stats.get("injected", {}))
    return Report(
        counts=dict(checker.counts),
        faults=faults,
        fault_stats=dict(evidence.fault_stats),
        violations=checker.violations,
        outcomes=outcomes,
        failure_reasons=dict(evidence.failure_reasons),
        failed_by=dict(
            sorted(Counter(failure_cause(reason) for reason in evidence.failure_reasons.values()).items())
        ),
        scanned={
            "texts": len(evidence.texts),
            "characters": sum(len(text) for text in evidence.texts.values()),
            "secret_values": {kind: len(set(values)) for kind, values in evidence.secrets.items()},
        },
    )


def failure_cause(reason: str) -> str:
    """The exception class a failed task's log names (``Task failed with exception X: ...``)."""
    if reason.startswith("scheduler:") and "finished with state success, but" in reason:
        return "executor_state_mismatch"  # apache/airflow#72716, the deferral race
    match = FAILURE_CAUSE.search(reason)
    return match.group(1) if match else "unknown"


def _either(item: Mapping[str, Any], record_key: str, wire_key: str) -> Any:
    """A sensor's result items are XCom records (snake_case) or, from older code, Runware's wire items."""
    return item.get(record_key, item.get(wire_key))


def _short(item: Any) -> str:
    if isinstance(item, Mapping):
        return str({k: item.get(k) for k in ("task_uuid", "taskUUID", "storage_uri") if k in item})
    return repr(item)[:80]


def group_by_invariant(violations: Iterable[Violation]) -> dict[str, list[Violation]]:
    grouped: dict[str, list[Violation]] = defaultdict(list)
    for violation in violations:
        grouped[violation.invariant].append(violation)
    return dict(grouped)
