"""Finishing a task instance: check storage, account for every image, and say what it cost.

The promise enforced here: a task instance succeeds only when every image it asked for is accounted
for: stored and verified (or, without an output location, returned by Runware), or failed and
explicitly accepted with ``fail_on_partial=False``. Anything else (an image still running, never
confirmed, lost, refused or not stored) fails the task with every such image named by taskUUID and
object. No trigger event, try or code path can turn a missing image into success, because success
is only ever returned from :meth:`Finisher.account`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_runware.exceptions import (
    ErrorCategory,
    RunwareError,
    RunwareFatalError,
    RunwareTaskTimeoutError,
    RunwareUploadError,
    error_from_dict,
)
from airflow_provider_runware.run.ledger import ResultEntry, ResultLedger, ResultState
from airflow_provider_runware.run.records import result_fields

if TYPE_CHECKING:
    from airflow_provider_runware.storage import OutputLocation, UploadTarget
    from airflow_provider_runware.tasks.base import TaskArguments

NOT_STORED_HINT = (
    "Runware generated (and billed) these images but they could not be stored. Fix the storage "
    "(permissions, credentials, endpoint) and clear the task: it checks the objects again without "
    "paying; only a new `regenerate` value generates new images."
)
# Object checks in flight at once when a task instance finishes (see _check_objects).
VERIFY_CONCURRENCY = 8
UNFINISHED_REASON = {
    ResultState.PLANNED: "never submitted",
    ResultState.SUBMITTING: "submission not confirmed by Runware",
    ResultState.SUBMITTED: "still running at Runware when the wait ended",
    ResultState.FINISHED: "generated but its object was not checked",
}


def _check_objects(location: OutputLocation, targets: list[UploadTarget]) -> list[int | RunwareUploadError]:
    """Each object's size, or why it does not count, in the order of ``targets``.

    One check per object is a round trip to the store (50-100 ms to a cloud bucket), so a 100-row
    chunk checked one object after another waits seconds before it can finish; the checks run
    ``VERIFY_CONCURRENCY`` at a time. The first runs alone: it builds the store's client (a boto3
    session must not be created from several threads at once), which the others then share.
    """

    def check(target: UploadTarget) -> int | RunwareUploadError:
        try:
            location.finalize(target)
            return location.verify(target)
        except RunwareUploadError as error:
            return error

    if not targets:
        return []
    first = check(targets[0])
    with ThreadPoolExecutor(max_workers=VERIFY_CONCURRENCY) as pool:
        return [first, *pool.map(check, targets[1:])]


def describe(error: Mapping[str, Any] | None) -> str:
    """``code: message`` as Runware said it (the code is absent for failures found by the provider)."""
    error = error or {}
    code, message = error.get("code"), error.get("message") or "unknown error"
    return f"{code}: {message}" if code else str(message)


def _which(entry: ResultEntry) -> str:
    return f"image {entry.index}" if entry.row is None else f"row {entry.row} image {entry.index}"


@dataclass
class Finisher:
    log: logging.Logger | Any
    location: OutputLocation | None
    verify_uploads: bool
    fail_on_partial: bool
    object_name_for: Callable[[ResultEntry], str]
    requests: list[TaskArguments]

    @property
    def noun(self) -> str:
        """What this run's results are called in its messages: images, videos or texts."""
        from airflow_provider_runware.run.planning import results_noun

        return results_noun(self.requests)

    def record(self, entry: ResultEntry) -> dict[str, Any]:
        """The small per-image record users get in XCom: never the base64 payload or a signed URL."""
        item = entry.result or {}
        request = self.requests[entry.row or 0]
        record: dict[str, Any] = {
            **({} if entry.row is None else {"row": entry.row}),
            "index": entry.index,
            "task_uuid": entry.task_uuid,
            **result_fields(item, with_url=self.location is None),
            **request.record_fields(),
            **request.input_displays(),
        }
        if self.location is not None:
            record["storage_uri"] = self.location.uri_for(self.object_name_for(entry))
            if "bytes" in item:
                record["bytes"] = item["bytes"]
        return record

    def verify(self, ledger: ResultLedger) -> None:
        """Check every generated image's object; without an output location, generated is stored.

        Images an earlier try generated but could not store are checked again: once the storage is
        fixed (or a late upload landed) they count, without paying for them twice.
        """
        not_stored = [
            e for e in ledger.in_state(ResultState.FAILED) if e.error_category is ErrorCategory.STORAGE
        ]
        entries = [*ledger.in_state(ResultState.FINISHED), *not_stored]
        if self.location is None or not self.verify_uploads:
            for entry in entries:
                ledger.mark_stored(entry, -1)
            return
        from airflow_provider_runware.storage import UploadTarget

        targets = [
            UploadTarget(uri=self.location.uri_for(self.object_name_for(entry)), upload_url="")
            for entry in entries
        ]
        for entry, outcome in zip(entries, _check_objects(self.location, targets), strict=True):
            if isinstance(outcome, RunwareUploadError):
                if entry.state is ResultState.FINISHED:  # a re-check keeps the first cause (uploadFailed)
                    ledger.mark_not_stored(entry, {**outcome.to_dict(), "task_uuid": entry.task_uuid})
                continue
            ledger.mark_stored(entry, outcome)

    def account(self, ledger: ResultLedger) -> list[dict[str, Any]]:
        """The images this task instance returns, or an error naming every one it cannot account for."""
        stored = ledger.in_state(ResultState.STORED)
        failed = ledger.in_state(ResultState.FAILED, ResultState.LOST)
        unfinished = [e for e in ledger.entries if e not in stored and e not in failed]
        records = [self.record(entry) for entry in stored]
        if unfinished or (failed and (self.fail_on_partial or not stored)):
            raise self.failure([*failed, *unfinished], len(ledger.entries))
        if failed:
            self.log.warning(
                "%s; returning the %d stored %s",
                self.failure(failed, len(ledger.entries)),
                len(stored),
                self.noun,
            )
        return records

    def failure(self, missing: list[ResultEntry], total: int) -> RunwareError:
        """One error naming every missing image. The type follows the worst cause: a failure retrying
        cannot fix is fatal, so Airflow does not spend retries (and money) on, say, a refused prompt
        or a bucket that refuses uploads; an image still running is worth another try, which polls."""
        summary = "; ".join(
            f"{_which(e)} taskUUID={e.task_uuid}{self._object(e)}: {self._reason(e)}" for e in missing
        )
        if any(e.error_category is ErrorCategory.STORAGE for e in missing):
            summary = f"{summary}. {NOT_STORED_HINT}"
        causes = [error_from_dict({**e.error, "task_uuid": e.task_uuid}) for e in missing if e.error]
        fatal = next((c for c in causes if isinstance(c, RunwareFatalError)), None)
        message = (
            f"{len(missing)} of {total} Runware {self.noun} are not accounted for ({summary}); "
            f"{self.noun} that finished are recorded and reused by a retry"
        )
        if fatal is not None:
            return error_from_dict(fatal.to_dict(), message=message)
        if any(e.state is ResultState.SUBMITTED for e in missing):
            return RunwareTaskTimeoutError(message)
        if causes:
            return error_from_dict(causes[0].to_dict(), message=message)
        return RunwareError(message)

    def _object(self, entry: ResultEntry) -> str:
        """`` (s3://bucket/key)``: a missing image names its object, never its signed URL."""
        return f" ({self.location.uri_for(self.object_name_for(entry))})" if self.location else ""

    @staticmethod
    def _reason(entry: ResultEntry) -> str:
        if entry.error:
            return describe(entry.error)
        return UNFINISHED_REASON.get(entry.state, entry.state.value)

    def report(self, ledger: ResultLedger) -> None:
        """Cost lines that add up: every image billed in this try counts once, stored or not; images
        an earlier try already reported are labelled reused and not added again."""
        total, counted, unstored, reused = 0.0, 0, 0, 0
        for entry in ledger.entries:
            if not entry.was_generated:
                if entry.state in (ResultState.FAILED, ResultState.LOST):
                    self.log.error(
                        "%s %d/%d taskUUID=%s failed: %s",
                        self.noun[:-1].capitalize(),
                        entry.index + 1,
                        len(ledger.entries),
                        entry.task_uuid,
                        describe(entry.error),
                    )
                continue
            cost = (entry.result or {}).get("cost")
            shown = f"${cost:.4f}" if isinstance(cost, int | float) else "unknown"
            item = entry.result or {}
            where = self._object(entry).strip(" ()") or item.get("imageURL") or item.get("videoURL")
            if where is None and isinstance(item.get("text"), str):
                where = repr(item["text"][:80])
            stored = entry.state is ResultState.STORED
            if entry.cost_reported:
                reused += 1
                label = " (reused from an earlier try, not counted again)"
            else:
                total += cost if isinstance(cost, int | float) else 0.0
                counted += 1
                unstored += not stored
                label = "" if stored else f" billed, NOT stored: {describe(entry.error)}"
            self.log.info(
                "%s %d/%d taskUUID=%s -> %s cost=%s%s",
                self.noun[:-1].capitalize(),
                entry.index + 1,
                len(ledger.entries),
                entry.task_uuid,
                where,
                shown,
                label,
            )
        ledger.mark_cost_reported()
        self.log.info(
            "Runware cost of this try: $%.4f for %d %s billed (%d of them not stored); "
            "%d reused from earlier tries",
            total,
            counted,
            self.noun,
            unstored,
            reused,
        )
