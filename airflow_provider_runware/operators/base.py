"""What every Runware operator shares, paid for once per result.

:class:`RunwareTaskOperator` is every task type's base: each requested result becomes its own Runware
task with a deterministic taskUUID and an entry in a ledger kept between tries (``run.ledger_home``).
:class:`RunwareMediaTaskOperator` adds what file results (images, videos) take: an output location
where Runware PUTs each one through its own presigned URL, its format and its verification.
Subclasses only say which task type they submit (``_arguments``). This module is what a DAG file
imports, so it holds arguments and their checks; the execute paths live in ``run.execution``, which the
worker imports when the task runs (DAG parsing pays for neither HTTP clients nor the ledger).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_runware.catalog.image_models import get_model_spec
from airflow_provider_runware.catalog.rules import Violation, raise_for_violations
from airflow_provider_runware.compat import conf
from airflow_provider_runware.links import RunwareGalleryLink, RunwareStoredImagesLink
from airflow_provider_runware.tasks.base import (
    BULKY_OUTPUT_TYPES,
    TaskArguments,
    is_templated,
    requests_from,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_runware.operators.settings import RunSettings
    from airflow_provider_runware.run.ledger import ResultLedger

# Template fields every operator has; subclasses add their request arguments in front.
TASK_TEMPLATE_FIELDS = ("model", "extra_params", "webhook_url", "regenerate", "requests")
# ... and every operator whose results are files.
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


def _dag_file_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the DAG file's line that built the operator: past
    this provider's frames and Airflow's operator machinery, however many base classes sit between."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith(
        ("airflow_provider_runware.", "airflow.sdk.", "airflow.models.")
    ):
        frame, level = frame.f_back, level + 1
    return level


class RunwareTaskOperator(BaseOperator):
    """Submit Runware tasks, wait for them and account for every result; the base of every operator.

    Arguments every operator takes:

    :param model: Runware AIR model id. Templated.
    :param include_cost: Ask Runware for each result's cost (logged per result and in total).
    :param extra_params: Further Runware parameters passed through as-is. Templated.
    :param webhook_url: Runware POSTs each finished result here. Templated; masked in logs.
    :param wait_for_completion: False submits and returns the task UUIDs (use a RunwareTaskSensor).
    :param deferrable: Wait in the triggerer instead of a worker slot.
    :param poll_interval: Upper bound of the polling backoff, in seconds.
    :param timeout: Seconds to wait for each result, counted from its first submission across retries,
        manual clears and triggerer restarts (it may still finish and bill later).
    :param max_cost_usd: Refuse to submit when the catalog's estimate for the new results exceeds it
        (or when the catalog has no price for them).
    :param fail_on_partial: Fail when some results failed (finished ones stay recorded and are reused
        by the retry); False returns the finished ones and logs the failures. Results still running or
        unaccounted for always fail the task.
    :param regenerate: Any new value forces new (paid) results for an otherwise identical request;
        the default reuses what this task instance already generated. Templated.
    :param requests: The batch form, for many rows per task instance: a list of dicts (or a JSON
        string), one per request, each setting any of the operator's request arguments and
        ``extra_params`` (merged over the operator's); the operator's own arguments are the defaults.
        Every result keeps the guarantees of a single request: its own ledger entry and taskUUID, up
        to 100 tasks per POST, one trigger for the whole batch, and each row's failures named. The
        XCom records carry ``row``. Templated.
    :param runware_conn_id: Airflow connection of type ``runware``.
    """

    template_fields: Sequence[str] = TASK_TEMPLATE_FIELDS
    template_fields_renderers = {"extra_params": "json", "requests": "json"}
    ui_color = "#f3e8ff"

    def __init__(
        self,
        *,
        model: str | None,
        include_cost: bool = True,
        extra_params: dict[str, Any] | None = None,
        webhook_url: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 10.0,
        timeout: float = 1800.0,
        max_cost_usd: float | None = None,
        fail_on_partial: bool = True,
        regenerate: str | None = None,
        requests: list[dict[str, Any]] | str | None = None,
        runware_conn_id: str = "runware_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.include_cost = include_cost
        self.extra_params = extra_params or {}
        self.webhook_url = webhook_url
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.max_cost_usd = max_cost_usd
        self.fail_on_partial = fail_on_partial
        self.regenerate = regenerate
        self.requests = requests
        self.runware_conn_id = runware_conn_id
        self._ledger: ResultLedger | None = None
        self._result: list[dict[str, Any]] = []
        self._rendered_rows: tuple[list[TaskArguments], list[Violation]] | None = None

    def run_settings(self) -> RunSettings:
        """What the run engine needs from this operator, rendered, as one frozen value."""
        from airflow_provider_runware.operators.settings import RunSettings

        return RunSettings(
            runware_conn_id=self.runware_conn_id,
            webhook_url=self.webhook_url,
            wait_for_completion=self.wait_for_completion,
            deferrable=self.deferrable,
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            max_cost_usd=self.max_cost_usd,
            fail_on_partial=self.fail_on_partial,
            regenerate=self.regenerate,
            batch=self.requests is not None,
        )

    # ----- arguments --------------------------------------------------------------------------

    def _arguments(self) -> TaskArguments:
        """This operator's request arguments as they stand (literal, templated or rendered)."""
        raise NotImplementedError

    def _common_arguments(self) -> dict[str, Any]:
        return {"model": self.model, "include_cost": self.include_cost, "extra_params": self.extra_params}

    def _rows(self, skip_arguments: Sequence[str] = ()) -> tuple[list[TaskArguments], list[Violation]]:
        """Every request of this task instance and every rule they break, each named by its row.

        Once the fields are rendered the rows are built once and kept: a 100-row batch is judged once
        per try, not again by the secret masking, the checks and the run."""
        if skip_arguments:
            return requests_from(self._arguments(), self.requests, skip_arguments)
        if self._rendered_rows is None:
            return requests_from(self._arguments(), self.requests)
        return self._rendered_rows

    def _check_arguments(self, *, at_parse_time: bool) -> None:
        """Fail on bad values before any HTTP call; at parse time only literal values are judged."""
        templated = (
            [name for name in self.template_fields if is_templated(getattr(self, name))]
            if at_parse_time
            else []
        )
        if "requests" not in templated:
            violations = self._rows(templated)[1]
            raise_for_violations(violations, task_type=self._arguments().TASK_TYPE)
        if at_parse_time and "model" not in templated:
            warning = get_model_spec(str(self.model)).lifecycle_warning()
            if warning:
                warnings.warn(warning, RunwareModelLifecycleWarning, stacklevel=_dag_file_stacklevel())
        if self.timeout <= 0 or self.poll_interval <= 0:
            from airflow_provider_runware.exceptions import RunwareValidationError

            raise RunwareValidationError(
                f"timeout={self.timeout!r} and poll_interval={self.poll_interval!r} must both be positive",
                parameter="timeout",
            )

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Register secrets in rendered values before Airflow stores the rendered fields.

        A webhook URL carries its token in the query (Runware sends no signature header), and an
        ``https://`` output location or image input may carry a SAS or token: all are masked in
        rendered fields and logs from here on.
        """
        super().render_template_fields(context, jinja_env)
        self._rendered_rows = None
        self._rendered_rows = self._rows()
        for value in self._user_urls():
            if isinstance(value, str) and "?" in value:
                from airflow_provider_runware.storage.base import register_user_url_secrets

                register_user_url_secrets(value)

    def _user_urls(self) -> list[Any]:
        """Every URL a DAG author handed in, which may carry a token in its query."""
        urls: list[Any] = [self.webhook_url]
        for arguments in self._rows()[0]:
            urls.extend(reference for _, reference in arguments.image_input_references())
        return urls

    # ----- execute paths (see operators.execution) ---------------------------------------------

    def execute(self, context: Context) -> Any:
        from airflow_provider_runware.run.execution import TaskRun

        return TaskRun(self, context).execute()

    def execute_complete(
        self,
        context: Context,
        event: Mapping[str, Any] | None = None,
        ledger: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Resume after the trigger; this runs on a fresh operator instance, so state comes from args."""
        from airflow_provider_runware.run.execution import TaskRun

        return TaskRun(self, context).resume(event, ledger)

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


class RunwareMediaTaskOperator(RunwareTaskOperator):
    """The base of operators whose results are files (images, videos), which can go to a bucket.

    Arguments besides :class:`RunwareTaskOperator`'s:

    :param output_format: The file format (per task type: ``JPG``, ``PNG``, ``WEBP``; ``MP4``, ...).
    :param output_type: ``URL`` (default), ``base64Data`` or ``dataURI``; the latter two need
        ``output_location`` because megabytes of base64 must not go to XCom.
    :param output_quality: 20-99, or None for Runware's default.
    :param ttl: Seconds Runware keeps result URLs (``outputType`` URL only).
    :param output_location: ``s3://bucket/prefix/``, ``gs://bucket/prefix/``,
        ``wasbs://container@account.blob.core.windows.net/prefix/`` (or an ``https://`` upload URL)
        where Runware PUTs each result through its own presigned URL. Templated.
    :param storage_conn_id: Airflow connection for the output location's cloud (aws, google_cloud_platform
        or wasb), also used for image inputs in that cloud. Templated.
    :param verify_uploads: Check that each stored object exists and is not empty.
    """

    template_fields: Sequence[str] = COMMON_TEMPLATE_FIELDS
    operator_extra_links = (RunwareStoredImagesLink(), RunwareGalleryLink())

    def __init__(
        self,
        *,
        output_format: str = "JPG",
        output_type: str = "URL",
        output_quality: int | None = None,
        ttl: int | None = None,
        output_location: str | None = None,
        storage_conn_id: str | None = None,
        verify_uploads: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.output_format = output_format
        self.output_type = output_type
        self.output_quality = output_quality
        self.ttl = ttl
        self.output_location = output_location
        self.storage_conn_id = storage_conn_id
        self.verify_uploads = verify_uploads

    def run_settings(self) -> RunSettings:
        from dataclasses import replace

        return replace(
            super().run_settings(),
            output_location=self.output_location,
            storage_conn_id=self.storage_conn_id,
            verify_uploads=self.verify_uploads,
        )

    def _common_arguments(self) -> dict[str, Any]:
        return {
            **super()._common_arguments(),
            "output_format": self.output_format,
            "output_type": self.output_type,
            "output_quality": self.output_quality,
            "ttl": self.ttl,
        }

    def _check_arguments(self, *, at_parse_time: bool) -> None:
        super()._check_arguments(at_parse_time=at_parse_time)
        if (
            self.output_type in BULKY_OUTPUT_TYPES
            and not self.output_location
            and not (at_parse_time and is_templated(self.output_location))
        ):
            from airflow_provider_runware.exceptions import RunwareValidationError

            raise RunwareValidationError(
                f"output_type={self.output_type!r} needs output_location: base64 results are megabytes "
                "and must not be pushed to XCom. Use output_type='URL' or set output_location.",
                parameter="output_type",
            )

    def _user_urls(self) -> list[Any]:
        return [*super()._user_urls(), self.output_location]


class RunwareImageTaskOperator(RunwareMediaTaskOperator):
    """The base of the image operators (generate, cut out, upscale): each image is paid for once, stored
    through its own presigned URL when ``output_location`` is set, and reported in a small XCom record.
    Every argument of :class:`RunwareMediaTaskOperator` and :class:`RunwareTaskOperator` applies."""
