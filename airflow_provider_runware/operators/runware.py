"""RunwareImageInferenceOperator: generate images with Runware from a DAG, paid for once.

Each requested image becomes its own Runware task with a deterministic taskUUID (see ``identity``),
its own presigned upload URL when an output location is set, and an entry in a ledger kept in
``task_state_store``. That ledger plus Runware's ``conflictTaskUUID`` answer is what lets a retried
or crashed task pick up what an earlier try paid for instead of paying again.

This module is imported when DAG files are parsed: HTTP clients, pydantic schemas and cloud SDKs are
imported inside methods only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, ResumableJobMixin, conf

from airflow_provider_runware.catalog import get_model_spec, raise_for_violations
from airflow_provider_runware.exceptions import (
    RunwareCostLimitError,
    RunwareError,
    RunwareFatalError,
    RunwareUploadError,
    RunwareValidationError,
    error_from_dict,
)
from airflow_provider_runware.identity import (
    TaskInstanceIdentity,
    derive_task_uuid,
    object_name,
    request_fingerprint,
)
from airflow_provider_runware.inference import BULKY_OUTPUT_TYPES, InferenceArguments
from airflow_provider_runware.ledger import FAILED, PLANNED, SUBMITTED, SUCCESS, ImageEntry, ImageLedger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_runware.hooks.runware import RunwareHook
    from airflow_provider_runware.storage import OutputLocation

LEDGER_KEY = "runware_images"
UPLOAD_URL_MARGIN = timedelta(minutes=15)
NOT_FOUND_HINT = (
    "Runware has no record of this task any more (results expired, or the request never reached it "
    "although an earlier try was answered conflictTaskUUID). Nothing was regenerated, to avoid paying "
    "twice: set `regenerate` to a new value to generate these images again."
)
NOT_STORED_HINT = (
    "Runware generated (and billed) these images but they could not be stored. Fix the storage "
    "(permissions, credentials, endpoint) and clear the task: it checks the objects again without "
    "paying; only a new `regenerate` value generates new images."
)


def _is_templated(value: Any) -> bool:
    """Values Airflow will render or resolve later cannot be judged when the DAG is parsed."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(_is_templated(v) for v in value.values())
    return not isinstance(value, int | float | bool | type(None) | list | tuple)


def _describe(error: Mapping[str, Any] | None) -> str:
    """``code: message`` as Runware said it (the code is absent for failures found by the provider)."""
    error = error or {}
    code, message = error.get("code"), error.get("message") or "unknown error"
    return f"{code}: {message}" if code else str(message)


def _mask_url_and_query_values(url: str) -> None:
    """Whatever a user's URL carries in its query (token, key, sig) is a secret to the masker."""
    from urllib.parse import parse_qsl, urlsplit

    from airflow.providers.common.compat.sdk import mask_secret

    mask_secret(url)
    for _, value in parse_qsl(urlsplit(url).query):
        mask_secret(value)


class RunwareImageInferenceOperator(ResumableJobMixin, BaseOperator):
    """Generate images with Runware's ``imageInference`` and (optionally) store them in a bucket.

    :param positive_prompt: What to draw. Templated.
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
    :param timeout: Seconds to wait for all images before failing (they may still finish and bill).
    :param max_cost_usd: Refuse to submit when the catalog's estimate for the new images exceeds it.
    :param fail_on_partial: Fail when some images failed (successful ones stay recorded and are
        reused by the retry); False returns the successful ones and logs the failures.
    :param verify_uploads: Check that each stored object exists and is not empty.
    :param regenerate: Any new value forces new (paid) images for an otherwise identical request;
        the default reuses what this task instance already generated. Templated.
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
    )
    template_fields_renderers = {"extra_params": "json", "positive_prompt": "py"}
    ui_color = "#f3e8ff"
    external_id_key = LEDGER_KEY

    def __init__(
        self,
        *,
        positive_prompt: str,
        model: str,
        width: int | str,
        height: int | str,
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
        self.runware_conn_id = runware_conn_id
        self._ledger: ImageLedger | None = None
        self._location_cache: tuple[tuple[str, str | None], OutputLocation] | None = None
        self._result: list[dict[str, Any]] | None = None
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

    def _check_arguments(self, *, at_parse_time: bool) -> None:
        """Fail on bad values before any HTTP call; at parse time only literal values are judged."""
        templated = (
            [name for name in self.template_fields if _is_templated(getattr(self, name))]
            if at_parse_time
            else []
        )
        raise_for_violations(self._arguments().violations(skip_arguments=templated))
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

    def _check_location(self, location: OutputLocation, images: int) -> None:
        """Everything about the output location that can be refused before Runware is paid."""
        location.validate()
        if images > 1 and not location.supports_many:
            raise RunwareValidationError(
                f"output_location={location.display_uri!r} is one fixed URL but {images} images were asked "
                "for: include '{object_name}' in it so each image gets its own URL",
                parameter="output_location",
            )
        needed = timedelta(seconds=self.timeout) + UPLOAD_URL_MARGIN
        if location.max_expiry is not None and needed > location.max_expiry:
            raise RunwareValidationError(
                f"timeout={self.timeout:.0f}s needs upload URLs valid for {needed}, longer than "
                f"{location.scheme} allows ({location.max_expiry}); lower the timeout",
                parameter="timeout",
            )

    def _fingerprint(self) -> str:
        task = self._arguments().wire_task()
        task.pop("numberResults", None)  # asking for more images later reuses the ones already made
        task["outputLocation"] = self.output_location
        task["regenerate"] = self.regenerate
        return request_fingerprint(task)

    @staticmethod
    def _load_ledger(context: Context) -> ImageLedger | None:
        store = context.get("task_state_store")
        return ImageLedger.from_json(store.get(LEDGER_KEY)) if store is not None else None

    def _save_ledger(self, context: Context, ledger: ImageLedger) -> None:
        self._ledger = ledger
        store = context.get("task_state_store")
        if store is not None:
            store.set(LEDGER_KEY, ledger.to_json())

    def _record(
        self, ledger: ImageLedger, results: Sequence[Mapping[str, Any]], errors: Sequence[Mapping[str, Any]]
    ) -> None:
        """Fold finished images and errors (trigger-event shapes) into the ledger."""
        entries = ledger.by_uuid()
        for item in results:
            entry = entries.get(str(item.get("taskUUID")))
            if entry is not None and entry.status != SUCCESS:
                entry.status, entry.result, entry.error = SUCCESS, self._xcom_item(entry, item), None
        for error in errors:
            entry = entries.get(str(error.get("task_uuid")))
            if entry is not None and entry.status != SUCCESS:
                entry.status, entry.error = FAILED, dict(error)

    def _xcom_item(self, entry: ImageEntry, item: Mapping[str, Any]) -> dict[str, Any]:
        """The small per-image record users get in XCom: never the base64 payload or a signed URL."""
        record: dict[str, Any] = {
            "index": entry.index,
            "task_uuid": entry.task_uuid,
            "image_uuid": item.get("imageUUID"),
            "seed": item.get("seed"),
            "cost": item.get("cost"),
            "nsfw": item.get("NSFWContent"),
            "model": self.model,
            "width": int(self.width),
            "height": int(self.height),
            "format": self.output_format,
            "positive_prompt": self.positive_prompt,
        }
        if self.output_location:
            record["storage_uri"] = self._target_uri(entry)
        else:
            record["image_url"] = item.get("imageURL")
        return record

    def _target_uri(self, entry: ImageEntry) -> str:
        location = self._location()
        assert location is not None
        return location.uri_for(self._object_name(entry))

    def _object_name(self, entry: ImageEntry) -> str:
        return object_name(self._identity, entry.index, str(self.output_format))

    # ----- submit -----------------------------------------------------------------------------

    def _submit(self, context: Context) -> ImageLedger:
        """Plan, reconcile with earlier tries, guard the cost, persist, then POST only what is needed."""
        self._check_arguments(at_parse_time=False)
        location = self._location()
        arguments = self._arguments()
        if location is not None:
            self._check_location(location, arguments.expected_images)
        fingerprint = self._fingerprint()

        def uuid_for(index: int, generation: int) -> str:
            return derive_task_uuid(self._identity, index, fingerprint, generation)

        ledger = ImageLedger.plan(
            self._load_ledger(context), fingerprint, arguments.expected_images, uuid_for
        )
        self._reconcile(ledger)
        ledger = ImageLedger.plan(ledger, fingerprint, arguments.expected_images, uuid_for)
        to_submit = ledger.with_status(PLANNED)
        self._log_plan(ledger, to_submit)
        if to_submit:
            self._guard_cost(arguments, len(to_submit))
            tasks = self._wire_tasks(arguments, to_submit, location)
            for entry in to_submit:
                entry.status = SUBMITTED
            self._save_ledger(context, ledger)  # before the POST: a crash now still knows the UUIDs
            self._post(ledger, tasks, context)
        self._save_ledger(context, ledger)
        context["ti"].xcom_push(key="runware_task_uuids", value=ledger.task_uuids)
        return ledger

    def _reconcile(self, ledger: ImageLedger) -> None:
        """Ask Runware about images an earlier try submitted, before deciding what to (re)submit."""
        submitted = ledger.with_status(SUBMITTED)
        if not submitted:
            return
        from airflow_provider_runware.schemas import PollState

        state = self.hook.poll(PollState.expecting({entry.task_uuid: 1 for entry in submitted}))
        unknown = {e.task_uuid for e in state.errors() if e.code and "NotFound" in e.code}
        self._record(
            ledger, state.result_dicts(), [e for e in state.error_dicts() if e["task_uuid"] not in unknown]
        )
        for entry in submitted:
            if entry.task_uuid in unknown:
                entry.status = PLANNED  # never reached Runware: submitting it now is the first payment
        self.log.info(
            "Earlier try submitted %d images: %d finished, %d failed, %d still running, %d unknown",
            len(submitted),
            sum(e.status == SUCCESS for e in submitted),
            sum(e.status == FAILED for e in submitted),
            sum(e.status == SUBMITTED for e in submitted),
            len(unknown),
        )

    def _log_plan(self, ledger: ImageLedger, to_submit: list[ImageEntry]) -> None:
        warning = get_model_spec(str(self.model)).lifecycle_warning()
        if warning:
            self.log.warning(warning)
        reused = len(ledger.with_status(SUCCESS))
        running = len(ledger.with_status(SUBMITTED))
        self.log.info(
            "Runware plan: %d images; %d new to submit, %d reused from an earlier try, %d already running",
            len(ledger.entries),
            len(to_submit),
            reused,
            running,
        )

    def _guard_cost(self, arguments: InferenceArguments, images: int) -> None:
        estimate = arguments.estimated_cost(images)
        if estimate is not None:
            self.log.info("Estimated cost of %d new images with %s: $%.4f", images, self.model, estimate)
        if self.max_cost_usd is None:
            return
        if estimate is None:
            raise RunwareCostLimitError(
                f"max_cost_usd={self.max_cost_usd} is set but the catalog has no price for model "
                f"{self.model!r}, so the limit cannot be enforced; nothing was submitted",
                parameter="max_cost_usd",
            )
        if estimate > self.max_cost_usd:
            raise RunwareCostLimitError(
                f"Estimated cost ${estimate:.4f} for {images} images exceeds "
                f"max_cost_usd=${self.max_cost_usd:.4f}; nothing was submitted",
                parameter="max_cost_usd",
            )

    def _wire_tasks(
        self, arguments: InferenceArguments, entries: list[ImageEntry], location: OutputLocation | None
    ) -> list[dict[str, Any]]:
        from airflow_provider_runware.schemas import ImageInferenceRequest

        expires_in = timedelta(seconds=self.timeout) + UPLOAD_URL_MARGIN
        tasks = []
        for entry in entries:
            task = arguments.wire_task(entry.task_uuid)
            task.update(numberResults=1, deliveryMethod="async")
            if location is not None:
                task["uploadEndpoint"] = location.target_for(self._object_name(entry), expires_in).upload_url
            if self.webhook_url:
                task["webhookURL"] = self.webhook_url
            tasks.append(ImageInferenceRequest.from_wire(task).to_wire())
        return tasks

    def _post(self, ledger: ImageLedger, tasks: list[dict[str, Any]], context: Context) -> None:
        result = self.hook.submit(tasks)
        if result.already_submitted:
            self.log.info(
                "%d images were already submitted by an earlier try (conflictTaskUUID); polling them "
                "instead of paying again",
                len(result.already_submitted),
            )
        if result.errors:
            self._record(ledger, [], [error.to_exception().to_dict() for error in result.errors])
            self._save_ledger(context, ledger)
            result.raise_for_errors()

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Register secrets in rendered values before Airflow stores the rendered fields.

        A webhook URL carries its token in the query (Runware sends no signature header), and an
        ``https://`` output location may carry a SAS or token: both are masked in rendered fields and
        logs from here on.
        """
        super().render_template_fields(context, jinja_env)
        for value in (self.webhook_url, self.output_location):
            if isinstance(value, str) and "?" in value:
                _mask_url_and_query_values(value)

    # ----- execute paths ----------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        self._identity = TaskInstanceIdentity.from_context(context)
        if not self.wait_for_completion:
            return self._submit(context).task_uuids
        if self.deferrable:
            return self._execute_deferrable(context)
        return self.execute_resumable(context)

    def _execute_deferrable(self, context: Context) -> list[dict[str, Any]]:
        from airflow_provider_runware.triggers.runware import RunwareTaskTrigger

        ledger = self._submit(context)
        pending = self._poll_once(ledger)
        self._save_ledger(context, ledger)
        if pending:
            self.log.info("Deferring while Runware generates %d images", len(pending))
            self.defer(
                trigger=RunwareTaskTrigger(
                    task_uuids=pending,
                    end_time=time.time() + self.timeout,
                    runware_conn_id=self.runware_conn_id,
                    poll_interval=self.poll_interval,
                ),
                method_name="execute_complete",
                kwargs={"ledger": ledger.to_json()},
                timeout=self.execution_timeout,
            )
        return self._finish(context, ledger)

    def _poll_once(self, ledger: ImageLedger) -> list[str]:
        """One synchronous look before deferring: fast generations then never touch the triggerer."""
        from airflow_provider_runware.schemas import PollState

        running = ledger.with_status(SUBMITTED)
        if not running:
            return []
        state = self.hook.poll(PollState.expecting({entry.task_uuid: 1 for entry in running}))
        self._record_state(ledger, state)
        return state.pending

    def _record_state(self, ledger: ImageLedger, state: Any) -> None:
        self._record(ledger, state.result_dicts(), state.error_dicts())

    def execute_complete(
        self,
        context: Context,
        event: Mapping[str, Any] | None = None,
        ledger: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Resume after the trigger; this runs on a fresh operator instance, so state comes from args."""
        from airflow_provider_runware.triggers.runware import validate_event

        event = validate_event(event)
        self._identity = TaskInstanceIdentity.from_context(context)
        current = self._load_ledger(context) or ImageLedger.from_json(ledger)
        if current is None:
            raise RunwareError("Runware ledger missing on resume: cannot tell which images were submitted")
        self._record(current, event.get("results", []), event.get("errors", []))
        self._save_ledger(context, current)
        if event["status"] == "timeout":
            from airflow_provider_runware.hooks.runware import timeout_error

            raise timeout_error(event.get("pending", []), self.timeout)
        return self._finish(context, current)

    # ----- ResumableJobMixin (blocking path) --------------------------------------------------

    def submit_job(self, context: Context) -> dict[str, Any]:
        return self._submit(context).to_json()

    def get_job_status(self, external_id: Any, context: Context) -> str:
        ledger = ImageLedger.from_json(external_id)
        if ledger is None or ledger.fingerprint != self._fingerprint():
            return "superseded"
        self._poll_once(ledger)
        self._save_ledger(context, ledger)
        if ledger.with_status(FAILED):
            return "failed"
        return "running" if ledger.unfinished else "succeeded"

    def is_job_active(self, status: str) -> bool:
        return status == "running"

    def is_job_succeeded(self, status: str) -> bool:
        return status == "succeeded"

    def poll_until_complete(self, external_id: Any, context: Context) -> list[dict[str, Any]]:  # type: ignore[override]
        """Wait in the worker, then finish.

        Returns the result because the mixin's reconnect path returns whatever this returns; on the
        fresh-submit path the mixin then calls :meth:`get_job_result`, which reuses it.
        """
        ledger = self._ledger or ImageLedger.from_json(external_id)
        if ledger is None:
            raise RunwareError("Runware ledger missing: cannot tell which images to wait for")
        running = ledger.with_status(SUBMITTED)
        if running:
            state = self.hook.wait_for_tasks(
                {entry.task_uuid: 1 for entry in running},
                timeout=self.timeout,
                poll_interval=self.poll_interval,
            )
            self._record_state(ledger, state)
        return self.get_job_result(ledger.to_json(), context)

    def get_job_result(self, external_id: Any, context: Context) -> list[dict[str, Any]]:
        if self._result is None:
            ledger = self._ledger or ImageLedger.from_json(external_id)
            if ledger is None:
                raise RunwareError("Runware ledger missing: cannot tell which images were generated")
            self._result = self._finish(context, ledger)
        return self._result

    # ----- finish -----------------------------------------------------------------------------

    def _finish(self, context: Context, ledger: ImageLedger) -> list[dict[str, Any]]:
        """Verify uploads, log costs, decide success; the ledger is saved before anything raises."""
        self._verify_uploads(ledger)
        self._save_ledger(context, ledger)
        self._log_results(ledger)
        failed = ledger.with_status(FAILED)
        succeeded = [entry.result for entry in ledger.with_status(SUCCESS) if entry.result]
        self._result = succeeded
        self._emit_asset_events(context, succeeded)
        if failed and (self.fail_on_partial or not succeeded):
            raise self._failure(failed, len(ledger.entries))
        if failed:
            self.log.warning(
                "%s; returning the %d successful images",
                self._failure(failed, len(ledger.entries)),
                len(succeeded),
            )
        return succeeded

    def _emit_asset_events(self, context: Context, images: list[dict[str, Any]]) -> None:
        """Stored images become Asset events for every AssetAlias in ``outlets`` (downstream triggers)."""
        if not images or not self.output_location or "outlet_events" not in context:
            return
        from airflow_provider_runware.lineage import emit_asset_events

        emitted = emit_asset_events(self.outlets, context["outlet_events"], images)
        if emitted:
            self.log.info("Registered %d Asset events for the stored images", emitted)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: one output dataset per stored image plus a run facet (model, prompt hash, cost)."""
        from airflow_provider_runware.lineage import operator_lineage

        return operator_lineage(str(self.model), str(self.positive_prompt), self._result or [])

    def _verify_uploads(self, ledger: ImageLedger) -> None:
        location = self._location()
        if location is None or not self.verify_uploads:
            return
        from airflow_provider_runware.storage import UploadTarget

        # Images an earlier try generated but could not store are checked again: once the storage
        # is fixed (or a late upload landed) they count, without paying for them twice.
        stored_earlier = [e for e in ledger.with_status(FAILED) if e.error_is_storage and e.result]
        for entry in [*ledger.with_status(SUCCESS), *stored_earlier]:
            target = UploadTarget(uri=location.uri_for(self._object_name(entry)), upload_url="")
            try:
                location.finalize(target)
                size = location.verify(target)
            except RunwareUploadError as error:
                entry.status, entry.error = FAILED, error.to_dict() | {"task_uuid": entry.task_uuid}
                continue
            entry.status, entry.error = SUCCESS, None
            if entry.result is not None and size >= 0:
                entry.result["bytes"] = size

    def _log_results(self, ledger: ImageLedger) -> None:
        total = 0.0
        for entry in ledger.with_status(SUCCESS):
            result = entry.result or {}
            cost = result.get("cost")
            total += cost or 0.0
            where = result.get("storage_uri") or result.get("image_url")
            shown_cost = f"${cost:.4f}" if isinstance(cost, int | float) else "unknown"
            self.log.info(
                "Image %d/%d taskUUID=%s -> %s cost=%s",
                entry.index + 1,
                len(ledger.entries),
                entry.task_uuid,
                where,
                shown_cost,
            )
        for entry in ledger.with_status(FAILED):
            self.log.error(
                "Image %d/%d taskUUID=%s failed: %s",
                entry.index + 1,
                len(ledger.entries),
                entry.task_uuid,
                _describe(entry.error),
            )
        self.log.info("Runware total cost: $%.4f for %d images", total, len(ledger.with_status(SUCCESS)))

    def _failure(self, failed: list[ImageEntry], total: int) -> RunwareError:
        """One error naming every failed image; a failure retrying cannot fix decides its type, so
        Airflow does not spend retries (and money) on, say, a bucket that refuses uploads."""
        summary = "; ".join(
            f"image {e.index} taskUUID={e.task_uuid}{self._failed_object(e)}: {_describe(e.error)}"
            for e in failed
        )
        if any(entry.error_is_lost_task for entry in failed):
            summary = f"{summary}. {NOT_FOUND_HINT}"
        if any(entry.error_is_storage for entry in failed):
            summary = f"{summary}. {NOT_STORED_HINT}"
        causes = [error_from_dict({**(e.error or {}), "task_uuid": e.task_uuid}) for e in failed]
        lead = next((c for c in causes if isinstance(c, RunwareFatalError)), causes[0])
        return error_from_dict(
            lead.to_dict(),
            message=f"{len(failed)} of {total} Runware images failed ({summary}); successful images are "
            "recorded and will be reused by a retry",
        )

    def _failed_object(self, entry: ImageEntry) -> str:
        """`` (s3://bucket/key)`` for a stored image: a failed upload must name its object, never its URL."""
        return f" ({self._target_uri(entry)})" if self.output_location else ""

    def on_kill(self) -> None:
        ledger = self._ledger
        submitted = [e.task_uuid for e in ledger.entries if e.status == SUBMITTED] if ledger else []
        self.log.warning(
            "Task killed. Runware keeps processing (and billing) tasks already submitted: %s. A retry of "
            "this task instance polls them instead of submitting again.",
            ", ".join(submitted) or "none",
        )
