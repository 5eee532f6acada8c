"""One run of a Runware operator, whatever its task type: plan, submit, wait or defer, finish.

``planning`` decides what to submit, the hook and the trigger wait through one poll decision
(``polling``), ``finishing`` verifies, accounts for every result and reports the cost, and ``metrics``
counts the results for Airflow's metrics. Every try of every wait mode goes through the same three
steps, so a retry, a crash or a manual clear picks up what earlier tries paid for. Imported by the
worker when a task runs, never when a DAG file is parsed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_runware.exceptions import RunwareError, error_from_dict
from airflow_provider_runware.links import RunwareStoredImagesLink
from airflow_provider_runware.run.finishing import Finisher
from airflow_provider_runware.run.identity import (
    TaskInstanceIdentity,
    derive_task_uuid,
    object_name,
    request_fingerprint,
)
from airflow_provider_runware.run.in_flight import check_in_flight_limit
from airflow_provider_runware.run.ledger import RequestPlan, ResultEntry, ResultLedger, ResultState
from airflow_provider_runware.run.ledger_home import ledger_home
from airflow_provider_runware.run.metrics import MetricsBatch, count_ledger
from airflow_provider_runware.run.planning import (
    SubmissionPlanner,
    check_location,
    record_event,
    record_poll,
    results_noun,
)
from airflow_provider_runware.run.polling import WaitOutcome, format_deadline

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_runware.hooks.runware import RunwareHook
    from airflow_provider_runware.operators.base import RunwareTaskOperator
    from airflow_provider_runware.storage import OutputLocation
    from airflow_provider_runware.storage.inputs import InputResolver
    from airflow_provider_runware.tasks.base import TaskArguments

# Airflow can fail a task that resumes within seconds of deferring (apache/airflow#72716: the
# executor's stale "success" for the deferring try arrives after the resumed try started). So the
# worker first waits this long itself (fast images never defer), and a trigger never fires sooner
# than this after deferral.
WORKER_WAIT_SECONDS = 8.0
DEFERRAL_RACE_MARGIN = 8.0


def fingerprint(request: TaskArguments, output_location: str | None, regenerate: str | None) -> str:
    """What makes two requests the same images: the wire task as the user wrote it (input URIs, not
    their signed URLs), where the images go, and ``regenerate``; not how many are asked for, so
    asking for more later reuses the ones already made."""
    task = request.wire_task()
    task.pop(request.COUNT_PARAMETER or "numberResults", None)
    task["outputLocation"] = output_location
    task["regenerate"] = regenerate
    return request_fingerprint(task)


class TaskRun:
    """The operator's arguments, rendered, applied to one task instance's try."""

    def __init__(self, operator: RunwareTaskOperator, context: Context) -> None:
        self.operator = operator
        self.context = context
        self.log = operator.log
        self.identity = TaskInstanceIdentity.from_context(context)
        self.settings = operator.run_settings()
        self.requests: list[TaskArguments] = operator._rows()[0]
        self._location: OutputLocation | None = None
        self._hook: RunwareHook | None = None
        self.ledger_home = ledger_home(context, self.identity)

    # ----- building blocks --------------------------------------------------------------------

    @property
    def hook(self) -> RunwareHook:
        """One hook (one connection lookup, one HTTP client) per run."""
        if self._hook is None:
            from airflow_provider_runware.hooks.runware import RunwareHook

            self._hook = RunwareHook(runware_conn_id=self.settings.runware_conn_id)
        return self._hook

    @property
    def location(self) -> OutputLocation | None:
        """Parsed once per run: each parse builds a storage hook and a cloud client."""
        if self.settings.output_location and self._location is None:
            from airflow_provider_runware.storage import parse_output_location

            self._location = parse_output_location(
                self.settings.output_location, self.settings.storage_conn_id
            )
        return self._location

    def _inputs(self) -> InputResolver | None:
        if not any(arguments.image_input_references() for arguments in self.requests):
            return None
        from airflow_provider_runware.storage.inputs import InputResolver

        return InputResolver(self.settings.storage_conn_id, self.settings.output_location)

    def _object_name(self, entry: ResultEntry) -> str:
        request = self.requests[entry.row or 0]
        return object_name(
            self.identity, entry.index, str(request.file_format()), row=entry.row, kind=request.RESULT
        )

    def _load_ledger(self) -> ResultLedger | None:
        return ResultLedger.from_json(self.ledger_home.load())

    def _save_ledger(self, ledger: ResultLedger) -> None:
        """Only a saved ledger becomes the one ``on_kill`` reports: an entry whose "submitting" could
        not be saved was never sent, and may be another try's to report."""
        self.ledger_home.save(ledger.to_json())
        self.operator._ledger = ledger

    def _planner(self) -> SubmissionPlanner:
        return SubmissionPlanner(
            hook=self.hook,
            log=self.log,
            requests=self.requests,
            location=self.location,
            object_name_for=self._object_name,
            timeout=self.settings.timeout,
            webhook_url=self.settings.webhook_url,
            max_cost_usd=self.settings.max_cost_usd,
            inputs=self._inputs(),
        )

    def _finisher(self) -> Finisher:
        return Finisher(
            log=self.log,
            location=self.location,
            verify_uploads=self.settings.verify_uploads,
            fail_on_partial=self.settings.fail_on_partial,
            object_name_for=self._object_name,
            requests=self.requests,
        )

    def _count(self, ledger: ResultLedger, *, finishing: bool) -> MetricsBatch:
        """This try's metrics, marked in the ledger; best effort, like sending them."""
        batch = MetricsBatch(dag_id=self.identity.dag_id, task_id=self.identity.task_id)
        try:
            count_ledger(batch, ledger, self.requests, time.time(), finishing=finishing)
        except Exception as error:
            self.log.warning("Runware metrics could not be counted: %r", error)
        return batch

    def _count_failures(self) -> None:
        """A try that stops before finishing (Runware refused a submission) still counts the results
        that failed for good; the ledger records it so no later try counts them again."""
        ledger = self.operator._ledger
        if ledger is None:
            return
        batch = self._count(ledger, finishing=False)
        if not batch.counters:
            return
        try:
            self._save_ledger(ledger)
        except Exception as error:  # the task's own error is the one to raise
            self.log.warning("Could not record the counted failures in the ledger: %r", error)
        batch.send(self.log)

    # ----- execute paths ----------------------------------------------------------------------

    def execute(self) -> Any:
        try:
            return self._execute()
        except RunwareError:
            self._count_failures()
            raise

    def _execute(self) -> Any:
        ledger = self._submit()
        if not self.settings.wait_for_completion:
            return ledger.task_uuids
        deadline = ledger.wait_deadline()
        if deadline is not None and self.settings.deferrable:
            self._wait(ledger, min(time.time() + WORKER_WAIT_SECONDS, deadline))
            if ledger.waiting and time.time() < deadline:
                self._defer(ledger, deadline)
        elif deadline is not None:
            self._wait(ledger, deadline)
        return self._finish(ledger)

    def _submit(self) -> ResultLedger:
        """Plan, reconcile with earlier tries, then submit only what no earlier try paid for."""
        self.operator._check_arguments(at_parse_time=False)
        check_in_flight_limit(
            limit=self.hook.settings.max_images_in_flight,
            images=sum(request.expected_results for request in self.requests),
            pool=self.operator.pool,
            pool_slots=self.operator.pool_slots,
            conn_id=self.settings.runware_conn_id,
        )
        location, output_location = self.location, self.settings.output_location
        if location is not None and output_location:
            images = sum(request.expected_results for request in self.requests)
            check_location(location, images, self.settings.timeout)
            RunwareStoredImagesLink.persist(
                self.context,
                output_location,
                self.settings.storage_conn_id,
                self.identity.object_prefix(),
            )
        plans = [
            RequestPlan(
                row=row if self.settings.batch else None,
                fingerprint=fingerprint(request, self.settings.output_location, self.settings.regenerate),
                images=request.expected_results,
            )
            for row, request in enumerate(self.requests)
        ]

        def uuid_for(request: RequestPlan, index: int, generation: int) -> str:
            return derive_task_uuid(self.identity, index, request.fingerprint, generation, row=request.row)

        planner = self._planner()
        ledger = ResultLedger.plan(self._load_ledger(), plans, uuid_for)
        planner.reconcile(ledger, time.time())
        ledger = ResultLedger.plan(ledger, plans, uuid_for)
        planner.log_plan(ledger)
        planner.submit(ledger, self._save_ledger)
        self._save_ledger(ledger)
        self.context["ti"].xcom_push(key="runware_task_uuids", value=ledger.task_uuids)
        return ledger

    def _wait(self, ledger: ResultLedger, deadline: float) -> None:
        """Poll in the worker until ``deadline``; transient errors are retried, the ledger is saved."""
        running = ledger.waiting  # "submitting" too: Runware may know it though its answer was lost
        if not running:
            return
        from airflow_provider_runware.api.schemas import PollState

        self.log.info(
            "Waiting in the worker for %d %s until %s (their deadline %s)",
            len(running),
            results_noun(self.requests),
            format_deadline(deadline),
            format_deadline(ledger.wait_deadline()),
        )
        state = PollState.expecting({entry.task_uuid: 1 for entry in running})
        step = self.hook.wait(
            state,
            deadline=deadline,
            poll_interval=self.settings.poll_interval,
            submitted_at=ledger.first_submitted_at(running),
        )
        record_poll(ledger, state)
        self._save_ledger(ledger)
        if step.outcome is WaitOutcome.FAILED and step.error is not None:
            raise step.error

    def _defer(self, ledger: ResultLedger, deadline: float) -> None:
        from airflow_provider_runware.triggers.runware import RunwareTaskTrigger

        entries = ledger.waiting
        self.log.info(
            "Deferring while Runware generates %d %s (deadline %s)",
            len(entries),
            results_noun(self.requests),
            format_deadline(deadline),
        )
        self.operator.defer(
            trigger=RunwareTaskTrigger(
                task_uuids=[entry.task_uuid for entry in entries],
                end_time=deadline,
                runware_conn_id=self.settings.runware_conn_id,
                poll_interval=self.settings.poll_interval,
                not_before=time.time() + DEFERRAL_RACE_MARGIN,
                submitted_at=ledger.first_submitted_at(entries),
            ),
            method_name="execute_complete",
            kwargs={"ledger": ledger.to_json()},
            timeout=self.operator.execution_timeout,
        )

    def resume(
        self, event: Mapping[str, Any] | None, ledger_json: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        """After the trigger: fold its event into the ledger, then finish as any other try."""
        try:
            return self._resume(event, ledger_json)
        except RunwareError:
            self._count_failures()
            raise

    def _resume(
        self, event: Mapping[str, Any] | None, ledger_json: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        from airflow_provider_runware.triggers.runware import validate_event

        event = validate_event(event)
        current = self._load_ledger() or ResultLedger.from_json(ledger_json)
        if current is None:
            raise RunwareError("Runware ledger missing on resume: cannot tell which images were submitted")
        record_event(current, list(event.get("results", [])), list(event.get("errors", [])))
        self._save_ledger(current)
        failure = event.get("failure")
        if failure:
            waiting = ", ".join(entry.task_uuid for entry in current.waiting)
            raise error_from_dict(
                failure, message=f"{event.get('message')}; images still running at Runware: {waiting}"
            )
        return self._finish(current)

    def _finish(self, ledger: ResultLedger) -> list[dict[str, Any]]:
        """Verify, count, report, account; the ledger is saved before anything raises, and metrics are
        sent once it records that they were."""
        finisher = self._finisher()
        finisher.verify(ledger)
        metrics = self._count(ledger, finishing=True)
        finisher.report(ledger)
        self._save_ledger(ledger)
        metrics.send(self.log)
        result = [finisher.record(entry) for entry in ledger.in_state(ResultState.STORED)]
        self.operator._result = result
        if self.settings.output_location and "outlet_events" in self.context:
            from airflow_provider_runware.operators.lineage import emit_asset_events

            emitted = emit_asset_events(self.operator.outlets, self.context["outlet_events"], result)
            self.log.info("Registered %d Asset events for the stored images", emitted)
        records = finisher.account(ledger)
        self.ledger_home.discard()
        return records
