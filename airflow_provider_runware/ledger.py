"""The per-task-instance record of which images were asked for, submitted, finished or failed.

It lives in Airflow's ``task_state_store`` (kept across tries of the same task instance), so a retry
knows what the earlier try paid for: finished images are reused, images still running are polled,
and only images whose generation failed are generated again (under a new taskUUID, because Runware
refuses a reused one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_provider_runware.exceptions import ErrorCategory, error_category

PLANNED = "planned"
SUBMITTED = "submitted"
SUCCESS = "success"
FAILED = "error"


@dataclass
class ImageEntry:
    index: int
    task_uuid: str
    generation: int = 0
    status: str = PLANNED
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def error_is_lost_task(self) -> bool:
        """Runware forgot a task it accepted: regenerating would be a second payment."""
        return error_category(self.error or {}) in (ErrorCategory.NOT_FOUND, ErrorCategory.LOST)

    @property
    def error_is_storage(self) -> bool:
        """The image was generated (and billed) but not stored: its generation did not fail."""
        return error_category(self.error or {}) is ErrorCategory.STORAGE

    @property
    def regenerates_on_retry(self) -> bool:
        """Only failed *generations* are generated again by a retry; an image Runware lost or made
        but could not store would be paid for twice, so that takes an explicit ``regenerate``."""
        return self.status == FAILED and not (self.error_is_lost_task or self.error_is_storage)


@dataclass
class ImageLedger:
    fingerprint: str
    entries: list[ImageEntry] = field(default_factory=list)

    @classmethod
    def plan(
        cls,
        previous: ImageLedger | None,
        fingerprint: str,
        count: int,
        uuid_for: Callable[[int, int], str],
    ) -> ImageLedger:
        """Carry over what an earlier try of the same request did; bump only failed generations.

        A different fingerprint means the request changed (new prompt, size, ``regenerate`` value):
        those are new images by definition, so nothing is carried over.
        """
        carried = (
            {e.index: e for e in previous.entries} if previous and previous.fingerprint == fingerprint else {}
        )
        entries = []
        for index in range(count):
            entry = carried.get(index) or ImageEntry(index=index, task_uuid=uuid_for(index, 0))
            if entry.regenerates_on_retry:
                generation = entry.generation + 1
                entry = ImageEntry(index=index, task_uuid=uuid_for(index, generation), generation=generation)
            entries.append(entry)
        return cls(fingerprint=fingerprint, entries=entries)

    @classmethod
    def from_json(cls, value: Any) -> ImageLedger | None:
        if not isinstance(value, dict) or "fingerprint" not in value:
            return None
        return cls(
            fingerprint=value["fingerprint"],
            entries=[ImageEntry(**entry) for entry in value.get("entries", [])],
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def by_uuid(self) -> dict[str, ImageEntry]:
        return {entry.task_uuid: entry for entry in self.entries}

    def with_status(self, *statuses: str) -> list[ImageEntry]:
        return [entry for entry in self.entries if entry.status in statuses]

    @property
    def unfinished(self) -> list[ImageEntry]:
        return [entry for entry in self.entries if entry.status in (PLANNED, SUBMITTED)]

    @property
    def task_uuids(self) -> list[str]:
        return [entry.task_uuid for entry in self.entries]
