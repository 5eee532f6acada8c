"""The per-task-instance record of every result (image, video or text) a task asked for, and the only
place its state changes.

It lives in the task instance's ledger home (``ledger_home``: ``task_state_store`` from Airflow 3.3, an
Airflow Variable below; kept across tries and manual clears of the same task instance), so a later
try knows what an earlier one paid for. Each result moves through named states::

    planned -> submitting -> submitted -> finished -> stored
                    \\             \\-> failed (Runware's per-task answer) / lost (Runware forgot it)
                     \\-> planned again only while the POST never completed

``submitting`` is written *before* the POST leaves and ``submitted`` once Runware has answered it:
the difference is what lets a later try tell "never reached Runware, submitting is the first payment"
from "Runware accepted it and has since forgotten it, submitting again would be a second payment".

Deadlines and upload-URL expiry belong to the result and are recorded at its first submission, so a
retry, a manual clear or a restarted triggerer keeps the original deadline instead of starting anew.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from airflow_provider_runware.exceptions import ErrorCategory, error_category

# Failures after which generating the image again is the user's intent and not a second payment for
# something Runware already produced: the generation itself failed or never started.
REGENERABLE_CATEGORIES = frozenset({ErrorCategory.GENERATION, ErrorCategory.TRANSIENT})


class ResultState(StrEnum):
    PLANNED = "planned"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    FINISHED = "finished"
    STORED = "stored"
    FAILED = "failed"
    LOST = "lost"


# Ledgers written before the states had names.
_LEGACY_STATES = {"success": ResultState.FINISHED, "error": ResultState.FAILED}
WAITING_STATES = frozenset({ResultState.SUBMITTING, ResultState.SUBMITTED})


@dataclass
class ResultEntry:
    index: int
    task_uuid: str
    generation: int = 0
    row: int | None = None
    fingerprint: str | None = None
    state: ResultState = ResultState.PLANNED
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    submitted_at: float | None = None
    deadline: float | None = None
    upload_expires_at: float | None = None
    cost_reported: bool = False
    # The outcome Airflow metrics last counted for this result ("generated" or "failed"): a later try
    # counts a stored result as reused and never counts the same failure twice (``run.metrics``).
    counted: str | None = None

    @property
    def error_category(self) -> ErrorCategory | None:
        return error_category(self.error) if self.error else None

    @property
    def was_generated(self) -> bool:
        """Runware produced (and billed) this image, whether or not it could be stored."""
        return self.result is not None or self.error_category is ErrorCategory.STORAGE

    @property
    def regenerates_on_retry(self) -> bool:
        """Only a failed *generation* is generated again by a later try. An image Runware lost, refused
        (safety, validation) or made but could not store would be paid for twice or refused again, so
        that takes an explicit ``regenerate``."""
        return (
            self.state is ResultState.FAILED
            and self.result is None
            and self.error_category in REGENERABLE_CATEGORIES
        )

    def to_json(self) -> dict[str, Any]:
        """Fields left at ``None`` are left out: a 100-row batch's ledger must fit the home's value limit
        (64 KiB on Airflow 3.3's task_state_store), and ``from_json`` restores them as defaults."""
        fields = {key: value for key, value in asdict(self).items() if value is not None}
        return {**fields, "state": self.state.value}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ResultEntry:
        data = dict(value)
        raw_state = data.pop("state", None) or data.pop("status", ResultState.PLANNED.value)
        data.pop("status", None)
        state = _LEGACY_STATES.get(raw_state) or ResultState(raw_state)
        return cls(**data, state=state)


@dataclass(frozen=True)
class RequestPlan:
    """One request of a task instance (a row of the batch form, or the operator's only request)."""

    row: int | None
    fingerprint: str
    images: int

    def entry(
        self, index: int, generation: int, uuid_for: Callable[[RequestPlan, int, int], str]
    ) -> ResultEntry:
        return ResultEntry(
            index=index,
            task_uuid=uuid_for(self, index, generation),
            generation=generation,
            row=self.row,
            fingerprint=self.fingerprint,
        )


def _digest(requests: Sequence[RequestPlan]) -> str:
    return hashlib.sha256("|".join(r.fingerprint for r in requests).encode()).hexdigest()[:32]


@dataclass
class ResultLedger:
    fingerprint: str
    entries: list[ResultEntry] = field(default_factory=list)

    # ----- planning ---------------------------------------------------------------------------

    @classmethod
    def plan(
        cls,
        previous: ResultLedger | None,
        requests: Sequence[RequestPlan],
        uuid_for: Callable[[RequestPlan, int, int], str],
    ) -> ResultLedger:
        """Carry over what earlier tries of the same requests did; bump only failed generations.

        An image is carried over when its row and index match and its request's fingerprint is the
        same: a changed request (new prompt, size, ``regenerate`` value) means new images by
        definition, while the other rows of a batch keep theirs.
        """
        carried = {(e.row, e.index): e for e in previous.entries} if previous else {}
        entries = []
        for request in requests:
            for index in range(request.images):
                entry = carried.get((request.row, index))
                if entry is None or entry.fingerprint != request.fingerprint:
                    entry = request.entry(index, 0, uuid_for)
                elif entry.regenerates_on_retry:
                    entry = request.entry(index, entry.generation + 1, uuid_for)
                entries.append(entry)
        fingerprint = requests[0].fingerprint if len(requests) == 1 else _digest(requests)
        return cls(fingerprint=fingerprint, entries=entries)

    # ----- transitions ------------------------------------------------------------------------

    def mark_submitting(
        self, entries: Iterable[ResultEntry], now: float, timeout: float, upload_margin: float
    ) -> None:
        """Before the POST: from here on a crash leaves a record of the UUIDs. Deadline and URL expiry
        are set once per generation and kept by a resubmission of the same UUID."""
        for entry in entries:
            if entry.submitted_at is None:
                entry.submitted_at = now
                entry.deadline = now + timeout
                entry.upload_expires_at = now + timeout + upload_margin
            entry.state = ResultState.SUBMITTING

    def mark_submitted(self, task_uuids: Iterable[str]) -> None:
        """Runware answered the POST for these: accepted, or already known (``conflictTaskUUID``)."""
        for entry in self._entries_for(task_uuids, ResultState.SUBMITTING):
            entry.state = ResultState.SUBMITTED

    def mark_refused(self, task_uuid: str, error: Mapping[str, Any]) -> None:
        """Runware refused the task when it was submitted: nothing was generated."""
        for entry in self._entries_for([task_uuid], ResultState.SUBMITTING, ResultState.SUBMITTED):
            entry.state, entry.error = ResultState.FAILED, dict(error)

    def mark_unknown(self, task_uuid: str, lost_error: Mapping[str, Any]) -> None:
        """Runware says it does not know the task. If its POST never completed, sending it now (under
        the same taskUUID) is its first submission, with a fresh deadline and upload URL. If Runware
        had answered the POST, the task is lost: sending it again would be a second payment."""
        for entry in self._entries_for([task_uuid], *WAITING_STATES):
            if entry.state is ResultState.SUBMITTING:
                entry.state = ResultState.PLANNED
                entry.submitted_at = entry.deadline = entry.upload_expires_at = None
            else:
                self.mark_lost(entry, lost_error)

    def mark_finished(self, task_uuid: str, result: Mapping[str, Any]) -> None:
        for entry in self._entries_for([task_uuid], *WAITING_STATES):
            entry.state, entry.result, entry.error = ResultState.FINISHED, dict(result), None

    def mark_failed(self, task_uuid: str, error: Mapping[str, Any]) -> None:
        """Runware's own per-task answer: the generation failed or was refused (safety, validation)."""
        for entry in self._entries_for([task_uuid], *WAITING_STATES):
            entry.state, entry.error = ResultState.FAILED, dict(error)

    def mark_lost(self, entry: ResultEntry, error: Mapping[str, Any]) -> None:
        """Runware accepted the task and no longer knows it, or its upload URL expired unused."""
        entry.state, entry.error = ResultState.LOST, dict(error)

    def mark_stored(self, entry: ResultEntry, size: int) -> None:
        entry.state, entry.error = ResultState.STORED, None
        if entry.result is not None and size >= 0:
            entry.result["bytes"] = size

    def mark_not_stored(self, entry: ResultEntry, error: Mapping[str, Any]) -> None:
        """Generated and billed, but the object is missing: a later try checks it again for free."""
        entry.state, entry.error = ResultState.FAILED, dict(error)

    def mark_cost_reported(self) -> None:
        """A later try labels these images reused instead of adding their cost again."""
        for entry in self.entries:
            if entry.was_generated:
                entry.cost_reported = True

    def _entries_for(self, task_uuids: Iterable[str], *states: ResultState) -> list[ResultEntry]:
        wanted = set(task_uuids)
        return [e for e in self.entries if e.task_uuid in wanted and e.state in states]

    # ----- queries ----------------------------------------------------------------------------

    def in_state(self, *states: ResultState) -> list[ResultEntry]:
        return [entry for entry in self.entries if entry.state in states]

    @property
    def waiting(self) -> list[ResultEntry]:
        return self.in_state(*WAITING_STATES)

    @property
    def task_uuids(self) -> list[str]:
        return [entry.task_uuid for entry in self.entries]

    def wait_deadline(self) -> float | None:
        """The latest deadline of the images still running: each keeps its own from first submission."""
        deadlines = [e.deadline for e in self.waiting if e.deadline is not None]
        return max(deadlines) if deadlines else None

    @staticmethod
    def first_submitted_at(entries: Iterable[ResultEntry]) -> float | None:
        """When the oldest of these images was first submitted: their polls are paced by its age."""
        times = [e.submitted_at for e in entries if e.submitted_at is not None]
        return min(times) if times else None

    def counts(self) -> dict[str, int]:
        return {state.value: len(self.in_state(state)) for state in ResultState if self.in_state(state)}

    # ----- persistence ------------------------------------------------------------------------

    @classmethod
    def from_json(cls, value: Any) -> ResultLedger | None:
        if not isinstance(value, dict) or "fingerprint" not in value:
            return None
        entries = [ResultEntry.from_json(entry) for entry in value.get("entries", [])]
        for entry in entries:  # ledgers from before the batch form had one fingerprint for all
            entry.fingerprint = entry.fingerprint or value["fingerprint"]
        return cls(fingerprint=value["fingerprint"], entries=entries)

    def to_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "entries": [entry.to_json() for entry in self.entries]}
