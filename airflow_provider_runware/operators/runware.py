"""RunwareImageInferenceOperator: generate images with Runware from a DAG, paid for once.

Each requested image becomes its own Runware task with a deterministic taskUUID (see ``identity``),
its own presigned upload URL when an output location is set, and an entry in a ledger kept in
``task_state_store`` (see ``ledger``). This module only orchestrates: ``planning`` decides what to
submit, the hook and the trigger wait through one poll decision (``polling``), and ``finishing``
verifies, accounts for every image and reports the cost. Every try of every wait mode goes through
the same three steps, so a retry, a crash or a manual clear picks up what earlier tries paid for.

This module is imported when DAG files are parsed: HTTP clients, pydantic schemas and cloud SDKs are
imported inside methods only.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, conf

from airflow_provider_runware.catalog import Violation, get_model_spec, raise_for_violations
from airflow_provider_runware.exceptions import RunwareError, RunwareValidationError, error_from_dict
from airflow_provider_runware.identity import (
    TaskInstanceIdentity,
    derive_task_uuid,
    object_name,
    request_fingerprint,
)
from airflow_provider_runware.inference import (
    BULKY_OUTPUT_TYPES,
    InferenceArguments,
    is_templated,
    requests_from,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_runware.finishing import Finisher
    from airflow_provider_runware.hooks.runware import RunwareHook
    from airflow_provider_runware.ledger import ImageEntry, ImageLedger, RequestPlan
    from airflow_provider_runware.planning import SubmissionPlanner
    from airflow_provider_runware.storage import OutputLocation

LEDGER_KEY = "runware_images"
# Airflow can fail a task that resumes within seconds of deferring (apache/airflow#72716: the
# executor's stale "success" for the deferring try arrives after the resumed try started). So the
# worker first waits this long itself (fast images never defer), and a trigger never fires sooner
# than this after deferral.
WORKER_WAIT_SECONDS = 8.0
DEFERRAL_RACE_MARGIN = 8.0


class RunwareModelLifecycleWarning(UserWarning):
    """A DAG uses a model Runware has deprecated or retired; the message names the replacement."""


class RunwareImageInferenceOperator(BaseOperator):
    """Generate images with Runware's ``imageInference`` and (optionally) store them in a bucket.

    :param positive_prompt: What to draw. Templated. (Optional with ``requests``.)
    :param model: Runware AIR model id, e.g. ``openai:2@2``. Templated.
    :param width: Image width in pixels (the model's rules apply). Templated.
    :param height: Image height in pixels. Templated.
    :param number_results: How many images; each becomes its own Runware task.
    :param output_format: ``JPG``, ``PNG`` or ``WEBP``.
    :param output_type: ``URL`` (default), ``base64Data`` or ``dataURI``; the latter two need
        ``output_location`` because megabytes of base64 must not go to XCom.
    :param output_quality: 20-99, or None for Runware's default.
    :param include_cost: Ask Runware for each image's cost (logged per image and in total).
    :param safety: Runware's ``safety`` object, e.g. ``{"checkContent": True, "mode": "fast"}``.
    :param ttl: Seconds Runware keeps image URLs (``outputType`` URL only).
    :param extra_params: Further Runware parameters passed through as-is. Templated.
    :param output_location: ``s3://bucket/prefix/``, ``gs://bucket/prefix/``,
        ``wasbs://container@account.blob.core.windows.net/prefix/`` (or an ``https://`` upload URL)
        where Runware PUTs each image through its own presigned URL. Templated.
    :param storage_conn_id: Airflow connection for the output location's cloud (aws, google_cloud_platform
        or wasb). Templated.
    :param webhook_url: Runware POSTs each finished image here. Templated; masked in logs.
    :param wait_for_completion: False submits and returns the task UUIDs (use a RunwareTaskSensor).
    :param deferrable: Wait in the triggerer instead of a worker slot.
    :param poll_interval: Upper bound of the polling backoff, in seconds.
    :param timeout: Seconds to wait for each image, counted from its first submission across retries,
        manual clears and triggerer restarts (it may still finish and bill later).
    :param max_cost_usd: Refuse to submit when the catalog's estimate for the new images exceeds it.
    :param fail_on_partial: Fail when some images failed (stored ones stay recorded and are reused by
        the retry); False returns the stored ones and logs the failures. Images still running or
        unaccounted for always fail the task.
    :param verify_uploads: Check that each stored object exists and is not empty.
    :param regenerate: Any new value forces new (paid) images for an otherwise identical request;
        the default reuses what this task instance already generated. Templated.
    :param requests: The batch form, for many rows per task instance: a list of dicts (or a JSON
        string), one per request, each setting any of ``positive_prompt``, ``width``, ``height``,
        ``number_results``, ``output_format``, ``model``, ... and ``extra_params`` (merged over the
        operator's); the operator's own arguments are the defaults. Every image keeps the guarantees
        of a single request: its own ledger entry and taskUUID, up to 100 tasks per POST, one trigger
        for the whole batch, and each row's failures named. The XCom records carry ``row``. Templated.
    :param runware_conn_id: Airflow connection of type ``runware``.
    """

    template_fields: Sequence[str] = (
        "positive_prompt",
        "model",
        "width",
        "height",
        "number_results",
        "output_location",
        "storage_conn_id",
        "extra_params",
        "webhook_url",
        "regenerate",
        "requests",
    )
    template_fields_renderers = {"extra_params": "json", "positive_prompt": "py"}
    ui_color = "#f3e8ff"

    def __init__(
        self,
        *,
        positive_prompt: str | None = None,
        model: str,
        width: int | str | None = None,
        height: int | str | None = None,
        number_results: int | str = 1,
        output_format: str = "JPG",
        output_type: str = "URL",
        output_quality: int | None = None,
        include_cost: bool = True,
        safety: dict[str, Any] | None = None,
        ttl: int | None = None,
        extra_params: dict[str, Any] | None = None,
        output_location: str | None = None,
        storage_conn_id: str | None = None,
        webhook_url: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 10.0,
        timeout: float = 1800.0,
        max_cost_usd: float | None = None,
        fail_on_partial: bool = True,
        verify_uploads: bool = True,
        regenerate: str | None = None,
        requests: list[dict[str, Any]] | str | None = None,
        runware_conn_id: str = "runware_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.positive_prompt = positive_prompt
        self.model = model
        self.width = width
        self.height = height
        self.number_results = number_results
        self.output_format = output_format
        self.output_type = output_type
        self.output_quality = output_quality
        self.include_cost = include_cost
        self.safety = safety
        self.ttl = ttl
        self.extra_params = extra_params or {}
        self.output_location = output_location
        self.storage_conn_id = storage_conn_id
        self.webhook_url = webhook_url
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.max_cost_usd = max_cost_usd
        self.fail_on_partial = fail_on_partial
        self.verify_uploads = verify_uploads
        self.regenerate = regenerate
        self.requests = requests
        self.runware_conn_id = runware_conn_id
        self._ledger: ImageLedger | None = None
        self._location_cache: tuple[tuple[str, str | None], OutputLocation] | None = None
        self._result: list[dict[str, Any]] = []
        self._requests_cache: tuple[str, list[InferenceArguments]] | None = None
        self._check_arguments(at_parse_time=True)

    # ----- validation -------------------------------------------------------------------------

    def _arguments(self) -> InferenceArguments:
        return InferenceArguments(
            positive_prompt=self.positive_prompt,
            model=self.model,
            width=self.width,
            height=self.height,
            number_results=self.number_results,
            output_format=self.output_format,
            output_type=self.output_type,
            output_quality=self.output_quality,
            include_cost=self.include_cost,
            safety=self.safety,
            ttl=self.ttl,
            extra_params=self.extra_params,
        )

    def _rows(self, skip_arguments: Sequence[str] = ()) -> tuple[list[InferenceArguments], list[Violation]]:
        """Every request of this task instance and every rule they break, each named by its row."""
        return requests_from(self._arguments(), self.requests, skip_arguments)

    def _check_arguments(self, *, at_parse_time: bool) -> None:
        """Fail on bad values before any HTTP call; at parse time only literal values are judged."""
        templated = (
            [name for name in self.template_fields if is_templated(getattr(self, name))]
            if at_parse_time
            else []
        )
        if "requests" not in templated:
            raise_for_violations(self._rows(skip_arguments=templated)[1])
        if at_parse_time and "model" not in templated:
            warning = get_model_spec(str(self.model)).lifecycle_warning()
            if warning:
                warnings.warn(warning, RunwareModelLifecycleWarning, stacklevel=3)
        if self.timeout <= 0 or self.poll_interval <= 0:
            raise RunwareValidationError(
                f"timeout={self.timeout!r} and poll_interval={self.poll_interval!r} must both be positive",
                parameter="timeout",
            )
        if (
            self.output_type in BULKY_OUTPUT_TYPES
            and not self.output_location
            and "output_location" not in templated
        ):
            raise RunwareValidationError(
                f"output_type={self.output_type!r} needs output_location: base64 images are megabytes and "
                "must not be pushed to XCom. Use output_type='URL' or set output_location.",
                parameter="output_type",
            )

    # ----- shared building blocks -------------------------------------------------------------

    @cached_property
    def hook(self) -> RunwareHook:
        """One hook (one connection lookup, one HTTP client) per operator instance."""
        from airflow_provider_runware.hooks.runware import RunwareHook

        return RunwareHook(runware_conn_id=self.runware_conn_id)

    def _location(self) -> OutputLocation | None:
        """Parsed once per rendered value: each parse builds a storage hook and a cloud client."""
        if not self.output_location:
            return None
        key = (self.output_location, self.storage_conn_id)
        if self._location_cache is None or self._location_cache[0] != key:
            from airflow_provider_runware.storage import parse_output_location

            self._location_cache = (key, parse_output_location(self.output_location, self.storage_conn_id))
        return self._location_cache[1]

    def _fingerprint(self, arguments: InferenceArguments) -> str:
        task = arguments.wire_task()
        task.pop("numberResults", None)  # asking for more images later reuses the ones already made
        task["outputLocation"] = self.output_location
        task["regenerate"] = self.regenerate
        return request_fingerprint(task)

    def _object_name(self, entry: ImageEntry) -> str:
        output_format = self._requests()[entry.row or 0].output_format
        return object_name(self._identity, entry.index, str(output_format), row=entry.row)

    def _requests(self) -> list[InferenceArguments]:
        """The rendered requests (validated in ``_submit``); cached per rendered value."""
        key = json.dumps(self.requests, sort_keys=True, default=str)
        if self._requests_cache is None or self._requests_cache[0] != key:
            self._requests_cache = (key, self._rows()[0])
        return self._requests_cache[1]

    @staticmethod
    def _load_ledger(context: Context) -> ImageLedger | None:
        from airflow_provider_runware.ledger import ImageLedger

        store = context.get("task_state_store")
        return ImageLedger.from_json(store.get(LEDGER_KEY)) if store is not None else None

    def _save_ledger(self, context: Context, ledger: ImageLedger) -> None:
        self._ledger = ledger
        store = context.get("task_state_store")
        if store is not None:
            store.set(LEDGER_KEY, ledger.to_json())

    def _planner(self) -> SubmissionPlanner:
        from airflow_provider_runware.planning import SubmissionPlanner

        return SubmissionPlanner(
            hook=self.hook,
            log=self.log,
            requests=self._requests(),
            location=self._location(),
            object_name_for=self._object_name,
            timeout=self.timeout,
            webhook_url=self.webhook_url,
            max_cost_usd=self.max_cost_usd,
        )

    def _finisher(self) -> Finisher:
        from airflow_provider_runware.finishing import Finisher

        return Finisher(
            log=self.log,
            location=self._location(),
            verify_uploads=self.verify_uploads,
            fail_on_partial=self.fail_on_partial,
            object_name_for=self._object_name,
            requests=self._requests(),
        )

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Register secrets in rendered values before Airflow stores the rendered fields.

        A webhook URL carries its token in the query (Runware sends no signature header), and an
        ``https://`` output location may carry a SAS or token: both are masked in rendered fields and
        logs from here on.
        """
        super().render_template_fields(context, jinja_env)
        for value in (self.webhook_url, self.output_location):
            if isinstance(value, str) and "?" in value:
                from airflow_provider_runware.storage.base import register_user_url_secrets

                register_user_url_secrets(value)

    # ----- execute paths ----------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        self._identity = TaskInstanceIdentity.from_context(context)
        ledger = self._submit(context)
        if not self.wait_for_completion:
            return ledger.task_uuids
        deadline = ledger.wait_deadline()
        if deadline is not None and self.deferrable:
            self._wait(context, ledger, min(time.time() + WORKER_WAIT_SECONDS, deadline))
            if ledger.waiting and time.time() < deadline:
                self._defer(ledger, deadline)
        elif deadline is not None:
            self._wait(context, ledger, deadline)
        return self._finish(context, ledger)

    def _submit(self, context: Context) -> ImageLedger:
        """Plan, reconcile with earlier tries, then submit only what no earlier try paid for."""
        from airflow_provider_runware.ledger import ImageLedger, RequestPlan
        from airflow_provider_runware.planning import check_location

        self._check_arguments(at_parse_time=False)
        location = self._location()
        requests = self._requests()
        if location is not None:
            check_location(location, sum(r.expected_images for r in requests), self.timeout)
        batch = self.requests is not None
        plans = [
            RequestPlan(
                row=row if batch else None, fingerprint=self._fingerprint(r), images=r.expected_images
            )
            for row, r in enumerate(requests)
        ]

        def uuid_for(request: RequestPlan, index: int, generation: int) -> str:
            return derive_task_uuid(self._identity, index, request.fingerprint, generation, row=request.row)

        planner = self._planner()
        ledger = ImageLedger.plan(self._load_ledger(context), plans, uuid_for)
        planner.reconcile(ledger, time.time())
        ledger = ImageLedger.plan(ledger, plans, uuid_for)
        planner.log_plan(ledger)
        planner.submit(ledger, lambda current: self._save_ledger(context, current))
        self._save_ledger(context, ledger)
        context["ti"].xcom_push(key="runware_task_uuids", value=ledger.task_uuids)
        return ledger

    def _wait(self, context: Context, ledger: ImageLedger, deadline: float) -> None:
        """Poll in the worker until ``deadline``; transient errors are retried, the ledger is saved."""

        running = ledger.waiting  # "submitting" too: Runware may know it though its answer was lost
        if not running:
            return
        from airflow_provider_runware.planning import record_poll
        from airflow_provider_runware.polling import WaitOutcome, format_deadline
        from airflow_provider_runware.schemas import PollState

        self.log.info(
            "Waiting in the worker for %d images until %s (images' deadline %s)",
            len(running),
            format_deadline(deadline),
            format_deadline(ledger.wait_deadline()),
        )
        state = PollState.expecting({entry.task_uuid: 1 for entry in running})
        step = self.hook.wait(
            state,
            deadline=deadline,
            poll_interval=self.poll_interval,
            submitted_at=ledger.first_submitted_at(running),
        )
        record_poll(ledger, state)
        self._save_ledger(context, ledger)
        if step.outcome is WaitOutcome.FAILED and step.error is not None:
            raise step.error

    def _defer(self, ledger: ImageLedger, deadline: float) -> None:
        from airflow_provider_runware.polling import format_deadline
        from airflow_provider_runware.triggers.runware import RunwareTaskTrigger

        entries = ledger.waiting
        running = [entry.task_uuid for entry in entries]
        self.log.info(
            "Deferring while Runware generates %d images (deadline %s)",
            len(running),
            format_deadline(deadline),
        )
        self.defer(
            trigger=RunwareTaskTrigger(
                task_uuids=running,
                end_time=deadline,
                runware_conn_id=self.runware_conn_id,
                poll_interval=self.poll_interval,
                not_before=time.time() + DEFERRAL_RACE_MARGIN,
                submitted_at=ledger.first_submitted_at(entries),
            ),
            method_name="execute_complete",
            kwargs={"ledger": ledger.to_json()},
            timeout=self.execution_timeout,
        )

    def execute_complete(
        self,
        context: Context,
        event: Mapping[str, Any] | None = None,
        ledger: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Resume after the trigger; this runs on a fresh operator instance, so state comes from args."""
        from airflow_provider_runware.ledger import ImageLedger
        from airflow_provider_runware.planning import record_event
        from airflow_provider_runware.triggers.runware import validate_event

        event = validate_event(event)
        self._identity = TaskInstanceIdentity.from_context(context)
        current = self._load_ledger(context) or ImageLedger.from_json(ledger)
        if current is None:
            raise RunwareError("Runware ledger missing on resume: cannot tell which images were submitted")
        record_event(current, list(event.get("results", [])), list(event.get("errors", [])))
        self._save_ledger(context, current)
        failure = event.get("failure")
        if failure:
            waiting = ", ".join(entry.task_uuid for entry in current.waiting)
            raise error_from_dict(
                failure, message=f"{event.get('message')}; images still running at Runware: {waiting}"
            )
        return self._finish(context, current)

    # ----- finish -----------------------------------------------------------------------------

    def _finish(self, context: Context, ledger: ImageLedger) -> list[dict[str, Any]]:
        """Verify, report, account; the ledger is saved before anything raises."""
        from airflow_provider_runware.ledger import ImageState

        finisher = self._finisher()
        finisher.verify(ledger)
        finisher.report(ledger)
        self._save_ledger(context, ledger)
        self._result = [finisher.record(entry) for entry in ledger.in_state(ImageState.STORED)]
        if self.output_location and "outlet_events" in context:
            from airflow_provider_runware.lineage import emit_asset_events

            emitted = emit_asset_events(self.outlets, context["outlet_events"], self._result)
            self.log.info("Registered %d Asset events for the stored images", emitted)
        return finisher.account(ledger)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: one output dataset per stored image plus a run facet (model, prompt hash, cost)."""
        from airflow_provider_runware.lineage import operator_lineage

        return operator_lineage(str(self.model), str(self.positive_prompt), self._result)

    def on_kill(self) -> None:
        ledger = self._ledger
        running = [e.task_uuid for e in ledger.waiting] if ledger else []
        self.log.warning(
            "Task killed. Runware keeps processing (and billing) tasks already submitted: %s. A retry of "
            "this task instance polls them instead of submitting again.",
            ", ".join(running) or "none",
        )
