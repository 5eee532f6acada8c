"""RunwareTaskSensor: wait for Runware tasks submitted elsewhere (``wait_for_completion=False``).

It fails as soon as Runware reports a failed generation, with the error's details, rather than
waiting out its timeout; a failure is not something more waiting can fix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_runware.compat import conf

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_runware.api.schemas import PollState
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

    @cached_property
    def hook(self) -> RunwareHook:
        """One hook and HTTP client for every poke of this try (closed when the try ends)."""
        from airflow_provider_runware.hooks.runware import RunwareHook

        return RunwareHook(runware_conn_id=self.runware_conn_id)

    def _check(self, context: Context) -> PollState:
        """One poll. A transient failure is not a verdict on the images: the next poke asks again."""
        from airflow_provider_runware.api.schemas import PollState
        from airflow_provider_runware.exceptions import RunwareError
        from airflow_provider_runware.hooks.runware import raise_for_failed_images
        from airflow_provider_runware.run.polling import WAIT_ENDING_CATEGORIES

        uuids = parse_task_uuids(self.task_uuids)
        state = PollState.expecting(dict.fromkeys(uuids, self.number_results))
        try:
            self.hook.poll(state)
        except RunwareError as error:
            if error.category in WAIT_ENDING_CATEGORIES:
                raise
            self.log.warning("Polling Runware failed (%s); trying again at the next poke", error)
            return state
        try:
            raise_for_failed_images(state)
        except RunwareError as error:
            self._count_failures(context, error, [{"taskType": e.task_type} for e in state.errors()])
            raise
        return state

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
        batch = MetricsBatch(dag_id=ti.dag_id, task_id=ti.task_id)
        count_wire_results(batch, results, errors)
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
            return self._execute(context)
        finally:
            self.hook.close()

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
        from airflow_provider_runware.exceptions import error_from_dict
        from airflow_provider_runware.hooks.runware import timeout_error
        from airflow_provider_runware.triggers.runware import validate_event

        event = validate_event(event)
        if event.get("failure"):
            raise error_from_dict(event["failure"], message=str(event.get("message")))
        if event["status"] == "timeout":
            raise timeout_error(event.get("pending", []), self.timeout)
        if event["status"] != "success":
            errors = event.get("errors") or [{}]
            details = "; ".join(f"{e.get('task_uuid')}: {e.get('code')}: {e.get('message')}" for e in errors)
            error = error_from_dict(errors[0], message=f"{event.get('message')} ({details})")
            self._count_failures(context, error, event.get("errors") or [])
            raise error
        return self._count(context, [*(finished or []), *event.get("results", [])])
