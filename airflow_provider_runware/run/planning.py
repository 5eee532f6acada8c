"""Deciding what to submit: reconcile with what earlier tries paid for, guard the cost, build the tasks.

Everything here runs in the worker before money is spent, and every decision is recorded in the
ledger before the POST leaves. The rules that keep a retry from paying twice:

- an image an earlier try *submitted* (Runware answered the POST) is polled, never resubmitted; if
  Runware no longer knows it, it is lost and only an explicit ``regenerate`` pays for it again;
- an image whose POST never completed (the try died or the POST failed between recording the UUID and
  reading Runware's answer) is sent again under the *same* taskUUID, so if it did reach Runware the
  answer is ``conflictTaskUUID`` ("already running: poll it") rather than a second bill;
- only images whose generation failed are generated again, under a new taskUUID.

Imported only at execute time (it pulls in pydantic schemas and the hook).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_runware.api.schemas import PollState
from airflow_provider_runware.catalog.image_models import get_model_spec
from airflow_provider_runware.exceptions import (
    ErrorCategory,
    RunwareCostLimitError,
    RunwareLostTaskError,
    RunwareValidationError,
)
from airflow_provider_runware.run.ledger import ResultEntry, ResultLedger, ResultState
from airflow_provider_runware.run.ledger_home import RunwareLedgerError, answer_not_recorded

if TYPE_CHECKING:
    from airflow_provider_runware.hooks.runware import RunwareHook
    from airflow_provider_runware.storage import OutputLocation
    from airflow_provider_runware.storage.inputs import ImageInput, InputResolver
    from airflow_provider_runware.tasks.base import TaskArguments

UPLOAD_URL_MARGIN = timedelta(minutes=15)
LOST_HINT = (
    "Runware has no record of this task any more although it accepted it (results expired, or it was "
    "lost). Nothing was regenerated, to avoid paying twice: set `regenerate` to a new value to "
    "generate it again."
)
URL_EXPIRED_HINT = (
    "Its upload URL expired before Runware finished it, so it cannot be stored. Nothing was "
    "regenerated, to avoid paying twice: set `regenerate` to a new value to generate it again."
)


def check_location(location: OutputLocation, images: int, timeout: float) -> None:
    """Everything about the output location that can be refused before Runware is paid."""
    location.validate()
    if images > 1 and not location.supports_many:
        raise RunwareValidationError(
            f"output_location={location.display_uri!r} is one fixed URL but {images} images were asked "
            "for: include '{object_name}' in it so each image gets its own URL",
            parameter="output_location",
        )
    needed = timedelta(seconds=timeout) + UPLOAD_URL_MARGIN
    if location.max_expiry is not None and needed > location.max_expiry:
        raise RunwareValidationError(
            f"timeout={timeout:.0f}s needs upload URLs valid for {needed}, longer than "
            f"{location.scheme} allows ({location.max_expiry}); lower the timeout",
            parameter="timeout",
        )


@dataclass
class SubmissionPlanner:
    """One try's view of the request: what to ask Runware, and where each image goes."""

    hook: RunwareHook
    log: logging.Logger | Any
    requests: list[TaskArguments]
    location: OutputLocation | None
    object_name_for: Callable[[ResultEntry], str]
    timeout: float
    webhook_url: str | None = None
    max_cost_usd: float | None = None
    inputs: InputResolver | None = None

    @property
    def noun(self) -> str:
        """What this run's results are called in its log lines: images, videos or texts."""
        return results_noun(self.requests)

    def reconcile(self, ledger: ResultLedger, now: float) -> None:
        """Ask Runware about every image an earlier try recorded as submitting or submitted."""
        earlier = ledger.waiting
        if not earlier:
            return
        state = self.hook.poll(PollState.expecting({entry.task_uuid: 1 for entry in earlier}))
        record_poll(ledger, state)
        self._expire_unusable_urls(ledger, now)
        self.log.info(
            "Earlier tries submitted %d %s; Runware now says: %s",
            len(earlier),
            self.noun,
            ", ".join(f"{count} {state}" for state, count in ledger.counts().items()),
        )

    def _expire_unusable_urls(self, ledger: ResultLedger, now: float) -> None:
        """An image still running after its upload URL expired can never be stored: fail it by name."""
        if self.location is None:
            return
        for entry in ledger.waiting:
            if entry.upload_expires_at is not None and now >= entry.upload_expires_at:
                expired = RunwareLostTaskError(
                    URL_EXPIRED_HINT, code="uploadUrlExpired", task_uuid=entry.task_uuid
                )
                ledger.mark_lost(entry, expired.to_dict())

    def guard_cost(self, entries: list[ResultEntry]) -> None:
        estimates = [self._request(entry).estimated_cost(1) for entry in entries]
        estimate = None if None in estimates else round(sum(e for e in estimates if e is not None), 6)
        models = ", ".join(sorted({str(self._request(entry).model) for entry in entries}))
        if estimate is not None:
            self.log.info(
                "Estimated cost of %d new %s with %s: $%.4f", len(entries), self.noun, models, estimate
            )
        if self.max_cost_usd is None:
            return
        if estimate is None:
            raise RunwareCostLimitError(
                f"max_cost_usd={self.max_cost_usd} is set but the catalog has no price for model "
                f"{models!r} at the requested size, so the limit cannot be enforced; nothing was submitted",
                parameter="max_cost_usd",
            )
        if estimate > self.max_cost_usd:
            raise RunwareCostLimitError(
                f"Estimated cost ${estimate:.4f} for {len(entries)} {self.noun} exceeds "
                f"max_cost_usd=${self.max_cost_usd:.4f}; nothing was submitted",
                parameter="max_cost_usd",
            )

    def log_plan(self, ledger: ResultLedger) -> None:
        for model in sorted({str(request.model) for request in self.requests}):
            warning = get_model_spec(model).lifecycle_warning()
            if warning:
                self.log.warning(warning)
        counts = ledger.counts()
        self.log.info(
            "Runware plan: %d %s; %d new to submit, %d already finished by an earlier try, %d still running",
            len(ledger.entries),
            self.noun,
            counts.get(ResultState.PLANNED.value, 0),
            counts.get(ResultState.FINISHED.value, 0) + counts.get(ResultState.STORED.value, 0),
            len(ledger.waiting),
        )

    def _image_inputs(self, entry: ResultEntry) -> list[ImageInput]:
        """The entry's image inputs, each named by the argument (and batch row) it came from."""
        from airflow_provider_runware.storage.inputs import parse_image_input

        where = "" if entry.row is None else f"requests[{entry.row}]."
        return [
            parse_image_input(reference, f"{where}{argument}")
            for argument, reference in self._request(entry).image_input_references()
        ]

    def check_inputs(self, entries: list[ResultEntry]) -> None:
        """Every input object exists before anything is submitted: a missing photo must not cost."""
        if self.inputs is None:
            return
        checked: set[str] = set()
        for entry in entries:
            for image_input in self._image_inputs(entry):
                if image_input.reference not in checked:
                    self.inputs.check(image_input)
                    checked.add(image_input.reference)

    def _request(self, entry: ResultEntry) -> TaskArguments:
        return self.requests[entry.row or 0]

    def submit(self, ledger: ResultLedger, save: Callable[[ResultLedger], None]) -> None:
        """Record the UUIDs as submitting, save, POST, then record Runware's answer and save again."""
        to_submit = ledger.in_state(ResultState.PLANNED)
        if not to_submit:
            return
        self.check_inputs(to_submit)
        self.guard_cost(to_submit)
        now = time.time()
        ledger.mark_submitting(to_submit, now, self.timeout, UPLOAD_URL_MARGIN.total_seconds())
        tasks = [self._wire_task(entry, now) for entry in to_submit]
        save(ledger)  # before the POST: a crash from here on still knows the UUIDs
        result = self.hook.submit(tasks)
        refused = {error.task_uuid or _only(to_submit): error for error in result.errors}
        if "" in refused:
            # An error nobody can pin on a task: only what Runware named is known to have arrived;
            # the rest stay "submitting", which a later try resolves by asking Runware.
            ledger.mark_submitted(result.submitted)
        else:
            ledger.mark_submitted(e.task_uuid for e in to_submit if e.task_uuid not in refused)
        for task_uuid, error in refused.items():
            ledger.mark_refused(task_uuid, error.to_exception().to_dict())
        record_event(ledger, result.finished, [])
        try:
            save(ledger)
        except RunwareLedgerError as err:
            raise answer_not_recorded(err, [entry.task_uuid for entry in to_submit]) from err
        if result.already_submitted:
            self.log.info(
                "%d %s were already submitted by an earlier try (conflictTaskUUID); polling them "
                "instead of paying again",
                len(result.already_submitted),
                self.noun,
            )
        result.raise_for_errors()

    def _wire_task(self, entry: ResultEntry, now: float) -> dict[str, Any]:
        request = self._request(entry)
        task = request.wire_task(entry.task_uuid)
        task["deliveryMethod"] = "async"
        # Runware may fetch inputs and PUT the result as late as the image's deadline: both URLs
        # stay valid until the upload URL expiry the ledger recorded.
        expires_in = timedelta(seconds=max((entry.upload_expires_at or now + self.timeout) - now, 1.0))
        if self.location is not None:
            task["uploadEndpoint"] = self.location.target_for(
                self.object_name_for(entry), expires_in
            ).upload_url
        if self.webhook_url:
            task["webhookURL"] = self.webhook_url
        if self.inputs is not None:
            self._resolve_inputs(task, request, entry, expires_in)
        if request.COUNT_PARAMETER is not None:
            task[request.COUNT_PARAMETER] = 1
        return request.checked_wire_task(task)

    def _resolve_inputs(
        self, task: dict[str, Any], request: TaskArguments, entry: ResultEntry, expires_in: timedelta
    ) -> None:
        """Swap each input reference for what Runware can fetch (a presigned GET, a URL or a UUID)."""
        assert self.inputs is not None
        resolved = iter([self.inputs.wire_value(i, expires_in) for i in self._image_inputs(entry)])
        request.place_inputs(task, resolved)


def results_noun(requests: list[TaskArguments]) -> str:
    return f"{requests[0].RESULT}s" if requests else "results"


def record_poll(ledger: ResultLedger, state: PollState) -> None:
    """Fold what a poll learnt into the ledger: finished images, and Runware's per-task answers."""
    record_event(ledger, state.result_dicts(), state.error_dicts())


def record_event(ledger: ResultLedger, results: list[dict[str, Any]], errors: list[dict[str, Any]]) -> None:
    """The same for a trigger event's ``results`` and ``errors`` (plain dicts across processes).

    A "not found" answer is not a failed generation: the ledger decides whether the task never reached
    Runware (send it) or was forgotten after Runware accepted it (lost, never paid for again).
    """
    for item in results:
        ledger.mark_finished(str(item.get("taskUUID")), item)
    for error in errors:
        task_uuid = str(error.get("task_uuid"))
        if error.get("category") == ErrorCategory.NOT_FOUND.value:
            lost = RunwareLostTaskError(LOST_HINT, code=error.get("code"), task_uuid=task_uuid)
            ledger.mark_unknown(task_uuid, lost.to_dict())
        else:
            ledger.mark_failed(task_uuid, error)


def _only(entries: list[ResultEntry]) -> str:
    """An error without a taskUUID can only be pinned on the task when there was one."""
    return entries[0].task_uuid if len(entries) == 1 else ""
