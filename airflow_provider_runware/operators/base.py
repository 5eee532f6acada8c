"""RunwareImageTaskOperator: what every Runware image operator shares, paid for once per image.

Each requested image becomes its own Runware task with a deterministic taskUUID, its own presigned
upload URL when an output location is set, and an entry in a ledger kept between tries (``ledger_home``).
Subclasses only say which task type they submit (``_arguments``). This module is what a DAG file
imports, so it holds arguments and their checks; the execute paths live in ``operators.execution``,
which the worker imports when the task runs (DAG parsing pays for neither HTTP clients nor the ledger).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_runware.catalog.image_models import get_model_spec
from airflow_provider_runware.catalog.rules import Violation, raise_for_violations
from airflow_provider_runware.compat import conf
from airflow_provider_runware.links import RunwareStoredImagesLink
from airflow_provider_runware.tasks.base import (
    BULKY_OUTPUT_TYPES,
    ImageTaskArguments,
    is_templated,
    requests_from,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_runware.run.ledger import ImageLedger

# Template fields every image operator has; subclasses add their request arguments in front.
COMMON_TEMPLATE_FIELDS = (
    "model",
    "output_location",
    "storage_conn_id",
    "extra_params",
    "webhook_url",
    "regenerate",
    "requests",
)


class RunwareModelLifecycleWarning(UserWarning):
    """A DAG uses a model Runware has deprecated or retired; the message names the replacement."""


class RunwareImageTaskOperator(BaseOperator):
    """Submit Runware image tasks, wait for them and store the images; the base of the image operators.

    Arguments every subclass takes:

    :param model: Runware AIR model id. Templated.
    :param output_format: ``JPG``, ``PNG`` or ``WEBP``.
    :param output_type: ``URL`` (default), ``base64Data`` or ``dataURI``; the latter two need
        ``output_location`` because megabytes of base64 must not go to XCom.
    :param output_quality: 20-99, or None for Runware's default.
    :param include_cost: Ask Runware for each image's cost (logged per image and in total).
    :param ttl: Seconds Runware keeps image URLs (``outputType`` URL only).
    :param extra_params: Further Runware parameters passed through as-is. Templated.
    :param output_location: ``s3://bucket/prefix/``, ``gs://bucket/prefix/``,
        ``wasbs://container@account.blob.core.windows.net/prefix/`` (or an ``https://`` upload URL)
        where Runware PUTs each image through its own presigned URL. Templated.
    :param storage_conn_id: Airflow connection for the output location's cloud (aws, google_cloud_platform
        or wasb), also used for image inputs in that cloud. Templated.
    :param webhook_url: Runware POSTs each finished image here. Templated; masked in logs.
    :param wait_for_completion: False submits and returns the task UUIDs (use a RunwareTaskSensor).
    :param deferrable: Wait in the triggerer instead of a worker slot.
    :param poll_interval: Upper bound of the polling backoff, in seconds.
    :param timeout: Seconds to wait for each image, counted from its first submission across retries,
        manual clears and triggerer restarts (it may still finish and bill later).
    :param max_cost_usd: Refuse to submit when the catalog's estimate for the new images exceeds it
        (or when the catalog has no price for them).
    :param fail_on_partial: Fail when some images failed (stored ones stay recorded and are reused by
        the retry); False returns the stored ones and logs the failures. Images still running or
        unaccounted for always fail the task.
    :param verify_uploads: Check that each stored object exists and is not empty.
    :param regenerate: Any new value forces new (paid) images for an otherwise identical request;
        the default reuses what this task instance already generated. Templated.
    :param requests: The batch form, for many rows per task instance: a list of dicts (or a JSON
        string), one per request, each setting any of the operator's request arguments and
        ``extra_params`` (merged over the operator's); the operator's own arguments are the defaults.
        Every image keeps the guarantees of a single request: its own ledger entry and taskUUID, up
        to 100 tasks per POST, one trigger for the whole batch, and each row's failures named. The
        XCom records carry ``row``. Templated.
    :param runware_conn_id: Airflow connection of type ``runware``.
    """

    template_fields: Sequence[str] = COMMON_TEMPLATE_FIELDS
    template_fields_renderers = {"extra_params": "json", "requests": "json"}
    ui_color = "#f3e8ff"
    operator_extra_links = (RunwareStoredImagesLink(),)

    def __init__(
        self,
        *,
        model: str,
        output_format: str = "JPG",
        output_type: str = "URL",
        output_quality: int | None = None,
        include_cost: bool = True,
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
        self.model = model
        self.output_format = output_format
        self.output_type = output_type
        self.output_quality = output_quality
        self.include_cost = include_cost
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
        self._result: list[dict[str, Any]] = []

    # ----- arguments --------------------------------------------------------------------------

    def _arguments(self) -> ImageTaskArguments:
        """This operator's request arguments as they stand (literal, templated or rendered)."""
        raise NotImplementedError

    def _common_arguments(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "output_format": self.output_format,
            "output_type": self.output_type,
            "output_quality": self.output_quality,
            "include_cost": self.include_cost,
            "ttl": self.ttl,
            "extra_params": self.extra_params,
        }

    def _rows(self, skip_arguments: Sequence[str] = ()) -> tuple[list[ImageTaskArguments], list[Violation]]:
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
            arguments = self._arguments()
            violations = requests_from(arguments, self.requests, templated)[1]
            raise_for_violations(violations, task_type=arguments.TASK_TYPE)
        if at_parse_time and "model" not in templated:
            warning = get_model_spec(str(self.model)).lifecycle_warning()
            if warning:
                warnings.warn(warning, RunwareModelLifecycleWarning, stacklevel=3)
        if self.timeout <= 0 or self.poll_interval <= 0:
            from airflow_provider_runware.exceptions import RunwareValidationError

            raise RunwareValidationError(
                f"timeout={self.timeout!r} and poll_interval={self.poll_interval!r} must both be positive",
                parameter="timeout",
            )
        if (
            self.output_type in BULKY_OUTPUT_TYPES
            and not self.output_location
            and "output_location" not in templated
        ):
            from airflow_provider_runware.exceptions import RunwareValidationError

            raise RunwareValidationError(
                f"output_type={self.output_type!r} needs output_location: base64 images are megabytes and "
                "must not be pushed to XCom. Use output_type='URL' or set output_location.",
                parameter="output_type",
            )

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Register secrets in rendered values before Airflow stores the rendered fields.

        A webhook URL carries its token in the query (Runware sends no signature header), and an
        ``https://`` output location or image input may carry a SAS or token: all are masked in
        rendered fields and logs from here on.
        """
        super().render_template_fields(context, jinja_env)
        urls = [self.webhook_url, self.output_location]
        for arguments in self._rows()[0]:
            urls.extend(reference for _, reference in arguments.image_input_references())
        for value in urls:
            if isinstance(value, str) and "?" in value:
                from airflow_provider_runware.storage.base import register_user_url_secrets

                register_user_url_secrets(value)

    # ----- execute paths (see operators.execution) ---------------------------------------------

    def execute(self, context: Context) -> Any:
        from airflow_provider_runware.run.execution import ImageTaskRun

        return ImageTaskRun(self, context).execute()

    def execute_complete(
        self,
        context: Context,
        event: Mapping[str, Any] | None = None,
        ledger: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Resume after the trigger; this runs on a fresh operator instance, so state comes from args."""
        from airflow_provider_runware.run.execution import ImageTaskRun

        return ImageTaskRun(self, context).resume(event, ledger)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: one output dataset per stored image plus a run facet (model, prompt hash, cost)."""
        from airflow_provider_runware.operators.lineage import operator_lineage

        return operator_lineage(str(self.model), str(getattr(self, "positive_prompt", "")), self._result)

    def on_kill(self) -> None:
        ledger = self._ledger
        running = [e.task_uuid for e in ledger.waiting] if ledger else []
        self.log.warning(
            "Task killed. Runware keeps processing (and billing) tasks already submitted: %s. A retry of "
            "this task instance polls them instead of submitting again.",
            ", ".join(running) or "none",
        )
