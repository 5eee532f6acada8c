"""RunwareTaskSensor: wait for Runware tasks submitted elsewhere (``wait_for_completion=False``).

It fails as soon as Runware reports a failed generation, with the error's details, rather than
waiting out its timeout; a failure is not something more waiting can fix.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_runware.compat import conf

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_runware.api.schemas import PollState
    from airflow_provider_runware.exceptions import RunwareError
    from airflow_provider_runware.hooks.runware import RunwareHook


def parse_task_uuids(value: Any) -> list[str]:
    """Accept what users pass: a list (XComArg output), a JSON list or a comma-separated string.

    Anything else, or nothing to wait for, is a :class:`RunwareValidationError` naming the value."""
    from airflow_provider_runware.exceptions import RunwareValidationError

    def invalid(rule: str) -> RunwareValidationError:
        return RunwareValidationError(f"task_uuids={value!r} is invalid: {rule}", parameter="task_uuids")

    items: Any = value
    if isinstance(value, str):
        text = value.strip()
        try:
            items = json.loads(text) if text.startswith("[") else text.split(",")
        except ValueError:
            raise invalid("must be a list of taskUUIDs (not valid JSON)") from None
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise invalid("must be a list of taskUUIDs")
    uuids = [str(item).strip() for item in items if str(item).strip()]
    if not uuids:
        raise invalid("must name at least one taskUUID")
    return uuids


class RunwareTaskSensor(BaseSensorOperator):
    """Wait until Runware tasks are done; returns one small record per result, with the operators' keys
    (``task_uuid``, then ``image_uuid``/``image_url``, ``video_uuid``/``video_url`` or ``text``, and
    ``seed``, ``cost``, ``nsfw`` where Runware reports them; never base64). Works for every task type
    an operator submits with ``wait_for_completion=False``.

    :param task_uuids: Task UUIDs to wait for (a list, e.g. ``submit.output``, or a string). Templated.
    :param number_results: Images expected per task UUID.
    :param runware_conn_id: Airflow connection of type ``runware``.
    :param deferrable: Wait in the triggerer (poke once first).
    :param poll_interval: Upper bound of the trigger's polling backoff, in seconds.
    """

    template_fields: Sequence[str] = ("task_uuids",)

    def __init__(
        self,
        *,
        task_uuids: Sequence[str] | str,
        number_results: int = 1,
        runware_conn_id: str = "runware_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 10.0,
        **kwargs: Any,
    ) -> None:
        if deferrable:
            kwargs.setdefault("poke_interval", poll_interval)
        super().__init__(**kwargs)
        self.task_uuids = task_uuids
        self.number_results = number_results
        self.runware_conn_id = runware_conn_id
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self._seen = Seen()

    @cached_property
    def hook(self) -> RunwareHook:
        """One hook and HTTP client for every poke of this try (closed when the try ends)."""
        from airflow_provider_runware.hooks.runware import RunwareHook

        return RunwareHook(runware_conn_id=self.runware_conn_id)

    def _check(self, context: Context) -> PollState:
        """One poll. A transient failure is not a verdict on the images: the next poke asks again."""
        from airflow_provider_runware.api.schemas import PollState
        from airflow_provider_runware.exceptions import RunwareError
        from airflow_provider_runware.run.polling import WAIT_ENDING_CATEGORIES

        uuids = parse_task_uuids(self.task_uuids)
        state = PollState.expecting(dict.fromkeys(uuids, self.number_results))
        self._seen = Seen(pending=dict.fromkeys(uuids, self.number_results))
        try:
            self.hook.poll(state)
        except RunwareError as error:
            if error.category in WAIT_ENDING_CATEGORIES:
                raise
            self.log.warning("Polling Runware failed (%s); trying again at the next poke", error)
            return state
        errors = state.error_dicts()
        self._seen = Seen(state.result_dicts(), errors, self._still_running(state))
        if errors:
            failure = failure_for(errors)
            self._count_failures(context, failure, errors)
            raise failure
        return state

    def _still_running(self, state: PollState) -> dict[str, int]:
        return {uuid: max(1, self.number_results - state.terminal_count(uuid)) for uuid in state.pending}

    @cached_property
    def _submitted(self) -> Submitted:
        return Submitted()

    def _count_failures(
        self, context: Context, error: Exception, errors: Sequence[Mapping[str, Any]]
    ) -> None:
        """Failed results count once: in the try that ends the task instance (a fatal error, or
        its last retry), since every try before it meets the same failure again."""
        from airflow_provider_runware.compat import AirflowFailException

        ti = context["ti"]
        if isinstance(error, AirflowFailException) or ti.try_number > getattr(ti, "max_tries", 0):
            self._count(context, [], errors)

    def _count(
        self,
        context: Context,
        results: Sequence[Mapping[str, Any]],
        errors: Sequence[Mapping[str, Any]] = (),
    ) -> list[dict[str, Any]]:
        """Send the metrics of what this sensor waited for; returns the XCom records of ``results``."""
        from airflow_provider_runware.run.metrics import MetricsBatch, count_wire_results
        from airflow_provider_runware.run.records import result_records

        ti = context["ti"]
        submitted = self._submitted.lookup(self, context, self._seen.task_uuids)
        batch = MetricsBatch(dag_id=ti.dag_id, task_id=ti.task_id)
        count_wire_results(batch, results, errors, submitted.results, submitted.task_type)
        batch.send(self.log)
        return result_records(results)

    def poke(self, context: Context) -> PokeReturnValue:
        state = self._check(context)
        if state.done:
            return PokeReturnValue(is_done=True, xcom_value=self._count(context, state.result_dicts()))
        self.log.info(
            "Waiting for %d of %d Runware tasks: %s",
            len(state.pending),
            len(state.expected),
            ", ".join(state.pending),
        )
        return PokeReturnValue(is_done=False)

    def execute(self, context: Context) -> Any:
        try:
            with self._gallery_at_end(context):
                return self._execute(context)
        finally:
            self.hook.close()

    @contextlib.contextmanager
    def _gallery_at_end(self, context: Context) -> Iterator[None]:
        """Push the gallery record when the try ends, however it ends, as the operators do; not when
        it defers or is rescheduled (the try goes on)."""
        from airflow.exceptions import AirflowRescheduleException

        from airflow_provider_runware.compat import TaskDeferred

        try:
            yield
        except (TaskDeferred, AirflowRescheduleException):
            raise
        except BaseException:
            self._push_gallery(context)
            raise
        self._push_gallery(context)

    def _push_gallery(self, context: Context) -> None:
        """Best effort, like the operators': a record is never worth failing the task."""
        from airflow_provider_runware.run.gallery import GALLERY_XCOM_KEY, sensor_record

        seen = self._seen
        if not seen.task_uuids:
            return
        try:
            submitted = self._submitted.lookup(self, context, seen.task_uuids)
            ti = context["ti"]
            record = sensor_record(
                results=seen.results,
                errors=seen.errors,
                pending=seen.pending,
                submitted=submitted.results,
                task_type=next((r.get("taskType") for r in seen.results), None) or submitted.task_type,
                try_number=getattr(ti, "try_number", None),
            )
            ti.xcom_push(key=GALLERY_XCOM_KEY, value=record)
        except Exception as err:
            self.log.warning("No gallery record for this try: %s", type(err).__name__)

    def _execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        state = self._check(context)
        if state.done:
            return self._count(context, state.result_dicts())
        from airflow_provider_runware.run.execution import DEFERRAL_RACE_MARGIN
        from airflow_provider_runware.triggers.runware import RunwareTaskTrigger

        self.log.info("Deferring while waiting for Runware tasks: %s", ", ".join(state.pending))
        self.defer(
            trigger=RunwareTaskTrigger(
                task_uuids=state.pending,
                end_time=time.time() + self.timeout,
                number_results=self.number_results,
                runware_conn_id=self.runware_conn_id,
                poll_interval=self.poll_interval,
                not_before=time.time() + DEFERRAL_RACE_MARGIN,
            ),
            method_name="execute_complete",
            kwargs={"finished": state.result_dicts()},
            timeout=timedelta(seconds=self.timeout)
            if self.execution_timeout is None
            else self.execution_timeout,
        )

    def execute_complete(
        self,
        context: Context,
        event: Mapping[str, Any] | None = None,
        finished: list[dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        with self._gallery_at_end(context):
            return self._complete(context, event, finished or [])

    def _complete(
        self, context: Context, event: Mapping[str, Any] | None, finished: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        from airflow_provider_runware.exceptions import error_from_dict
        from airflow_provider_runware.hooks.runware import timeout_error
        from airflow_provider_runware.triggers.runware import validate_event

        self._seen = Seen(finished, pending=dict.fromkeys(parse_task_uuids(self.task_uuids), 0))
        event = validate_event(event)
        results = [*finished, *(event.get("results") or [])]
        errors = list(event.get("errors") or [])
        pending = {uuid: self.number_results for uuid in event.get("pending") or []}
        for item in (*results, *errors):
            uuid = str(item.get("taskUUID") or item.get("task_uuid"))
            if uuid in pending:
                pending[uuid] = max(1, pending[uuid] - 1)
        self._seen = Seen(results, errors, pending)
        if event.get("failure"):
            raise error_from_dict(event["failure"], message=str(event.get("message")))
        if event["status"] == "timeout":
            raise timeout_error(event.get("pending", []), self.timeout)
        if event["status"] != "success":
            error = failure_for(errors or [{}])
            self._count_failures(context, error, errors)
            raise error
        return self._count(context, results)


@dataclass
class Seen:
    """What this try knows of the tasks it waits for: Runware's result items, the failures as
    :meth:`RunwareError.to_dict` dicts, and how many images of each taskUUID are still running."""

    results: Sequence[Mapping[str, Any]] = ()
    errors: Sequence[Mapping[str, Any]] = ()
    pending: Mapping[str, int] = field(default_factory=dict)

    @property
    def task_uuids(self) -> list[str]:
        found = [str(r.get("taskUUID")) for r in self.results]
        failed = [str(e.get("task_uuid")) for e in self.errors]
        return list(dict.fromkeys([*found, *failed, *self.pending]))


@dataclass
class SubmittedTasks:
    """What the submitting tasks recorded of the taskUUIDs: their gallery records' results (prompt,
    model, size, inputs) by taskUUID, and their task type."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_type: str | None = None


class Submitted:
    """Finds the gallery records of the tasks that submitted what the sensor waits for.

    Runware's getResponse items name no model (see docs/ui.md), so the sensor reads the records its
    upstream tasks pushed, nearest first, stopping once every taskUUID is found: usually one XCom read
    of the direct upstream. Asked once per try."""

    def __init__(self) -> None:
        self._found: SubmittedTasks | None = None

    def lookup(self, sensor: BaseSensorOperator, context: Context, uuids: Sequence[str]) -> SubmittedTasks:
        if self._found is None:
            try:
                self._found = self._search(sensor, context, set(uuids))
            except Exception as err:  # best effort: the model is then "unknown", never the task's failure
                sensor.log.warning("Could not read the submitting tasks' records: %s", type(err).__name__)
                self._found = SubmittedTasks()
        return self._found

    @staticmethod
    def _search(sensor: BaseSensorOperator, context: Context, uuids: set[str]) -> SubmittedTasks:
        from airflow_provider_runware.run.gallery import GALLERY_XCOM_KEY

        ti = context["ti"]
        tasks = getattr(getattr(sensor, "dag", None), "task_dict", {})
        own = getattr(ti, "map_index", None)
        map_indexes = sorted({-1, -1 if own is None else int(own)})
        found = SubmittedTasks()
        queue, visited = list(sensor.upstream_task_ids), set()
        while queue and not uuids <= found.results.keys():
            task_id = queue.pop(0)
            if task_id in visited:
                continue
            visited.add(task_id)
            for map_index in map_indexes:
                record = ti.xcom_pull(task_ids=task_id, key=GALLERY_XCOM_KEY, map_indexes=map_index)
                if not isinstance(record, dict):
                    continue
                for result in record.get("results") or []:
                    if isinstance(result, dict) and result.get("task_uuid") in uuids:
                        found.results.setdefault(str(result["task_uuid"]), result)
                        found.task_type = found.task_type or record.get("task_type")
            if task_id in tasks:
                queue.extend(sorted(tasks[task_id].upstream_task_ids))
        return found


def failure_for(errors: Sequence[Mapping[str, Any]]) -> RunwareError:
    """One error naming every failed taskUUID with Runware's code and message. As the operators'
    (``Finisher.failure``), its type follows the worst cause: if any failure is one retrying cannot fix
    (a content refusal, an invalid parameter), the error is fatal and Airflow spends no retry on it."""
    from airflow_provider_runware.exceptions import RunwareFatalError, error_from_dict

    causes = [error_from_dict(error) for error in errors]
    lead = next((cause for cause in causes if isinstance(cause, RunwareFatalError)), causes[0])
    if len(causes) == 1:
        return lead
    details = "; ".join(f"{c.task_uuid} ({c.code}: {c.message})" for c in causes)
    return error_from_dict(lead.to_dict(), message=f"{len(causes)} Runware results failed: {details}")
