"""RunwareHook: the one place that speaks HTTP to Runware.

Every request is a POST of a JSON array of tasks to one endpoint. The hook owns the connection, auth,
timeouts and the retry policy; operators, sensors and triggers only orchestrate. The sync side serves
workers, the async side serves the triggerer, and both build requests and read responses through the
same two functions so they cannot disagree.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from email.utils import parsedate_to_datetime
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import ValidationError
from tenacity import AsyncRetrying, Retrying

from airflow_provider_runware import __version__
from airflow_provider_runware.api.backpressure import CoolDown, SharedCoolDown, cool_down_for
from airflow_provider_runware.api.error_codes import RETIRED_MODEL_ANSWERS
from airflow_provider_runware.api.retry import MAX_RETRY_AFTER_SECONDS, is_overload, poll_delay, retry_policy
from airflow_provider_runware.api.schemas import (
    ApiErrorItem,
    ApiResponse,
    ImageInferenceRequest,
    PollState,
    TaskResult,
    is_error_item,
)
from airflow_provider_runware.catalog.image_models import get_model_spec
from airflow_provider_runware.compat import BaseHook
from airflow_provider_runware.connection_extras import ConnectionExtras
from airflow_provider_runware.exceptions import (
    RunwareError,
    RunwareModelDeactivatedError,
    RunwareNotFoundError,
    RunwareTaskTimeoutError,
    RunwareTransientError,
    error_class_for,
    is_transient_status,
)
from airflow_provider_runware.run.polling import PollStep, ProgressLog, WaitOutcome, decide

if TYPE_CHECKING:
    from airflow.sdk import Connection

DEFAULT_BASE_URL = "https://api.runware.ai/v1"
CONFLICT_CODE = "conflictTaskUUID"
MAX_TASKS_PER_REQUEST = 100
# Keys an account balance object may carry its amount under; the SDK types ``balance`` as an object
# without naming them, Runware's docs show a plain number.
BALANCE_AMOUNT_KEYS = ("amount", "available", "balance", "total", "value", "credits", "usd", "USD")

__all__ = [
    "ConnectionExtras",
    "RunwareHook",
    "SubmitResult",
    "describe_account",
    "read_balance",
    "summarize_submission",
]


@dataclass(frozen=True)
class ClientSettings:
    """Everything needed to talk to Runware, resolved once from the Airflow connection."""

    base_url: str
    api_key: str = field(repr=False)
    timeout: float
    max_retries: int
    max_retry_seconds: float
    max_images_in_flight: int | None = None

    @classmethod
    def from_connection(cls, conn: Connection, extra: Mapping[str, Any]) -> ClientSettings:
        if not conn.password:
            raise RunwareError(
                f"Connection {conn.conn_id!r} has no Runware API key: put it in the password field",
                code="missingApiKey",
            )
        try:
            extras = ConnectionExtras.from_extra(dict(extra))
        except ValidationError as exc:
            raise RunwareError(f"Connection {conn.conn_id!r} has invalid extras: {exc}") from exc
        host = (conn.host or "").strip()
        if host and "://" not in host:
            host = f"https://{host}"
        return cls(
            base_url=host.rstrip("/") or DEFAULT_BASE_URL,
            api_key=conn.password,
            timeout=extras.timeout,
            max_retries=extras.max_retries,
            max_retry_seconds=extras.max_retry_seconds,
            max_images_in_flight=extras.max_images_in_flight,
        )

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"airflow-provider-runware/{__version__}",
        }

    def httpx_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=min(10.0, self.timeout))


@dataclass
class SubmitResult:
    """Outcome of one submission: new tasks, tasks Runware already had, per-task errors, and the
    results Runware answered at once (a task type it runs synchronously whatever was asked, such as a
    caption), without base64 payloads."""

    accepted: list[str] = field(default_factory=list)
    already_submitted: list[str] = field(default_factory=list)
    errors: list[ApiErrorItem] = field(default_factory=list)
    finished: list[dict[str, Any]] = field(default_factory=list)

    @property
    def submitted(self) -> list[str]:
        return [*self.accepted, *self.already_submitted]

    def raise_for_errors(self) -> None:
        if self.errors:
            raise self.errors[0].to_exception()


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            return None


def read_response(status_code: int, headers: Mapping[str, str], body: bytes) -> ApiResponse:
    """Turn an HTTP answer into an ApiResponse, or raise the typed error it stands for.

    Account-wide failures (auth, payment, overload) raise; per-task errors in a 200/400 body are left
    to the caller, because in a batch the other tasks may well have been accepted.
    """
    retry_after = _retry_after_seconds(headers.get("retry-after"))
    try:
        parsed: ApiResponse | None = ApiResponse.parse(body, status_code)
    except ValueError:
        parsed = None
    first = parsed.errors[0] if parsed and parsed.errors else None
    transient = is_transient_status(status_code)
    if transient or (parsed is None and status_code < 400):
        raise RunwareTransientError(
            first.message if first else f"Runware answered HTTP {status_code} with an unreadable body",
            code=first.code if first else None,
            task_uuid=first.task_uuid if first else None,
            documentation=first.documentation if first else None,
            http_status=status_code,
            retry_after=retry_after,
        )
    if parsed is None or (status_code >= 400 and first is None):
        error_class = error_class_for(None, status_code)
        raise error_class(
            f"Runware answered HTTP {status_code} without error details", http_status=status_code
        )
    if status_code in (401, 402, 403) and first is not None:
        raise first.to_exception(status_code)
    return parsed


def _transport_error(error: httpx.HTTPError) -> RunwareTransientError:
    return RunwareTransientError(f"Could not reach Runware: {type(error).__name__}: {error}")


def _task_uuid() -> str:
    return str(uuid.uuid4())


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _get_response_tasks(task_uuids: Sequence[str]) -> list[dict[str, str]]:
    return [{"taskType": "getResponse", "taskUUID": task_uuid} for task_uuid in task_uuids]


def summarize_submission(
    response: ApiResponse, tasks: Sequence[Mapping[str, Any]] = (), *, today: date | None = None
) -> SubmitResult:
    """Split a submission answer; a conflict means "already running: poll it"."""
    result = SubmitResult()
    result.accepted = [str(item["taskUUID"]) for item in response.data if item.get("taskUUID")]
    finished = ApiResponse(data=[item for item in response.data if not is_error_item(item)])
    result.finished = PollState.expecting(dict.fromkeys(result.accepted, 1)).merged(finished).result_dicts()
    for error in response.errors:
        conflicting = _conflicting_task_uuid(error, tasks) if error.code == CONFLICT_CODE else None
        if conflicting is not None:
            result.already_submitted.append(conflicting)
        else:
            result.errors.append(_with_migration_hint(error, tasks, response.status_code, today))
    return result


def _conflicting_task_uuid(error: ApiErrorItem, tasks: Sequence[Mapping[str, Any]]) -> str | None:
    """The task a ``conflictTaskUUID`` answer is about: the error's own taskUUID, else its
    ``context.taskUUID`` (some answers name it only there), else the request's only task (the task
    runware-sdk 1.8.0's WebSocket transport routes such an answer to)."""
    if error.task_uuid or error.context_task_uuid:
        return error.task_uuid or error.context_task_uuid
    uuids = {str(task["taskUUID"]) for task in tasks if task.get("taskUUID")}
    return uuids.pop() if len(uuids) == 1 else None


def _with_migration_hint(
    error: ApiErrorItem,
    tasks: Sequence[Mapping[str, Any]],
    http_status: int | None = None,
    today: date | None = None,
) -> ApiErrorItem:
    """Whatever Runware answers for a model the catalog marks retired (``modelDisabled``,
    ``unknownModel``, ``invalidModel``, an HTTP 404, ...), the error says which model to move to and
    is never retried. Which code the live API sends is not documented, hence the wide net; an
    ambiguous ``modelUnavailable`` counts only once the deactivation date has passed."""
    if error.code not in RETIRED_MODEL_ANSWERS and http_status != 404:
        return error
    models = {
        str(t.get("model")) for t in tasks if not error.task_uuid or t.get("taskUUID") == error.task_uuid
    }
    hints = [
        hint for hint in (_retirement_hint(model, error.code, today) for model in sorted(models)) if hint
    ]
    if not hints:
        return error
    return error.model_copy(
        update={"message": f"{error.message} ({'; '.join(hints)})", "retired_model": sorted(models)[0]}
    )


def _retirement_hint(model: str, code: str | None, today: date | None) -> str | None:
    spec = get_model_spec(model)
    lifecycle = spec.lifecycle
    if not lifecycle.deprecated or (code == "modelUnavailable" and not lifecycle.retired(today)):
        return None
    hint = spec.lifecycle_warning(today) or f"{model} is no longer served"
    return hint.rstrip(".") if lifecycle.replacement else f"{hint.rstrip('.')}; pick a current model"


def read_balance(value: Any) -> tuple[float, str | None] | None:
    """An account balance in any shape Runware documents: a number (the docs' example) or an object
    (runware-sdk 1.8.0's type), as ``(amount, currency)``; ``None`` when no amount can be found."""
    if _is_number(value):
        return float(value), None
    if not isinstance(value, Mapping):
        return None
    currency = value.get("currency") if isinstance(value.get("currency"), str) else None
    for key in BALANCE_AMOUNT_KEYS:
        if _is_number(value.get(key)):
            return float(value[key]), currency
    numbers = [item for item in value.values() if _is_number(item)]
    return (float(numbers[0]), currency) if len(numbers) == 1 else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def describe_account(details: Mapping[str, Any]) -> str:
    """The Test connection message: who the key belongs to and what is left to spend."""
    name = details.get("organizationName") or details.get("organizationUUID") or "your organization"
    return f"Connected to Runware as {name}; balance {describe_balance(details.get('balance'))}"


def describe_balance(value: Any) -> str:
    balance = read_balance(value)
    if balance is None:
        return "unknown"
    amount, currency = balance
    return f"${amount:.2f}" if currency in (None, "USD", "usd") else f"{amount:.2f} {currency}"


class RunwareHook(BaseHook):
    """Talk to Runware's REST API through an Airflow connection of type ``runware``.

    :param runware_conn_id: Airflow connection with the API key in its password field and, optionally,
        a full base URL in its host field (default ``https://api.runware.ai/v1``).
    """

    conn_name_attr = "runware_conn_id"
    default_conn_name = "runware_default"
    conn_type = "runware"
    hook_name = "Runware"

    def __init__(self, runware_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.runware_conn_id = runware_conn_id
        self._async_settings: ClientSettings | None = None
        self._async_client: httpx.AsyncClient | None = None
        self._shared_cool_down: SharedCoolDown | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form on Airflow 3.0 and 3.1, which read it here; 3.2+ read provider info."""
        from airflow_provider_runware.connection_extras import legacy_form_behaviour

        return legacy_form_behaviour()

    # ----- connection and clients -------------------------------------------------------------

    @cached_property
    def settings(self) -> ClientSettings:
        """Sync resolution; never call from an event loop (use :meth:`aget_settings`)."""
        conn = self.get_connection(self.runware_conn_id)
        return ClientSettings.from_connection(conn, conn.extra_dejson)

    async def aget_settings(self) -> ClientSettings:
        """Resolve the connection without blocking the triggerer's event loop."""
        if self._async_settings is None:
            from airflow_provider_runware.compat import aget_connection

            conn, extra = await aget_connection(self.runware_conn_id, hook=self)
            self._async_settings = ClientSettings.from_connection(conn, extra)
        return self._async_settings

    @cached_property
    def client(self) -> httpx.Client:
        return httpx.Client(headers=self.settings.headers(), timeout=self.settings.httpx_timeout())

    async def aget_client(self) -> httpx.AsyncClient:
        """The async client, built in a worker thread: building one loads the CA bundle into a new
        SSL context, 30-80 ms of CPU here (more on a loaded machine) that would stall every other
        trigger of the triggerer's event loop."""
        if self._async_client is None:
            settings = await self.aget_settings()
            client = await asyncio.to_thread(
                httpx.AsyncClient, headers=settings.headers(), timeout=settings.httpx_timeout()
            )
            if self._async_client is None:
                self._async_client = client
            else:  # another caller built one meanwhile: keep theirs
                await client.aclose()
        return self._async_client

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()
            del self.__dict__["client"]

    async def aclose(self) -> None:
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None

    def get_conn(self) -> httpx.Client:
        return self.client

    # ----- back-pressure ------------------------------------------------------------------------

    def cool_down(self, settings: ClientSettings) -> CoolDown:
        """This connection's overload cool-down, shared by every hook of the process."""
        return cool_down_for(self.runware_conn_id, settings.base_url)

    def _shared(self, cool_down: CoolDown) -> SharedCoolDown:
        if self._shared_cool_down is None:
            self._shared_cool_down = SharedCoolDown(cool_down)
        return self._shared_cool_down

    def _overloaded(
        self, cool_down: CoolDown, error: RunwareError, sent_at: float, submission: bool
    ) -> float:
        retry_after = error.retry_after if isinstance(error, RunwareTransientError) else None
        return cool_down.overloaded(sent_at, retry_after, MAX_RETRY_AFTER_SECONDS, grow=submission)

    def _retry_policy(
        self, settings: ClientSettings, cool_down: CoolDown, submission: bool
    ) -> dict[str, Any]:
        """The retrying loop's arguments for one request (see :func:`retry_policy`), sync or async."""
        return retry_policy(
            max_retries=settings.max_retries,
            max_retry_seconds=settings.max_retry_seconds,
            warn=self.log.warning,
            cool_down=cool_down,
            overload_is_free=submission,
        )

    # ----- raw transport ----------------------------------------------------------------------

    def post(
        self,
        tasks: Sequence[Mapping[str, Any]],
        refine: Callable[[RunwareError], RunwareError] | None = None,
        *,
        submission: bool = False,
    ) -> ApiResponse:
        """POST one array of tasks, retrying transient failures within the connection's bounds.

        ``refine`` may turn an answer's error into a more precise one before the retry policy sees
        it (a submission turns "model unavailable" for a retired model into a fatal "migrate").
        Every request waits out the connection's overload cool-down. A ``submission``'s overload
        answers lengthen it and do not count against ``max_retries`` (only ``max_retry_seconds``
        bounds them); anything else backs off on its own schedule, never before the cool-down
        ends, and passes on only a ``Retry-After`` to the other requests.
        """
        settings = self.settings
        cool_down = self.cool_down(settings)
        shared = self._shared(cool_down)
        for attempt in Retrying(**self._retry_policy(settings, cool_down, submission)):
            with attempt:
                shared.refresh()
                time.sleep(cool_down.remaining())
                sent_at = time.time()
                try:
                    response = self.client.post(settings.base_url, json=list(tasks))
                except httpx.HTTPError as error:
                    raise _transport_error(error) from error
                try:
                    answer = read_response(response.status_code, response.headers, response.content)
                except RunwareError as error:
                    if is_overload(error):
                        shared.publish(self._overloaded(cool_down, error, sent_at, submission))
                    refined = refine(error) if refine is not None else error
                    if refined is error:
                        raise
                    raise refined from error
                cool_down.relieved()
                return answer
        raise AssertionError("tenacity ended without a result")  # pragma: no cover - reraise=True

    async def apost(self, tasks: Sequence[Mapping[str, Any]]) -> ApiResponse:
        """Async twin of :meth:`post`, for the triggerer."""
        settings = await self.aget_settings()
        client = await self.aget_client()
        cool_down = self.cool_down(settings)
        async for attempt in AsyncRetrying(**self._retry_policy(settings, cool_down, submission=False)):
            with attempt:
                await asyncio.sleep(cool_down.remaining())
                sent_at = time.time()
                try:
                    response = await client.post(settings.base_url, json=list(tasks))
                except httpx.HTTPError as error:
                    raise _transport_error(error) from error
                try:
                    answer = read_response(response.status_code, response.headers, response.content)
                except RunwareError as error:
                    if is_overload(error):
                        self._overloaded(cool_down, error, sent_at, submission=False)
                    raise
                cool_down.relieved()
                return answer
        raise AssertionError("tenacity ended without a result")  # pragma: no cover - reraise=True

    # ----- tasks ------------------------------------------------------------------------------

    def submit(self, tasks: Sequence[Mapping[str, Any]]) -> SubmitResult:
        """Submit tasks in as few POSTs as possible; reused taskUUIDs count as already submitted."""
        result = SubmitResult()
        for start in range(0, len(tasks), MAX_TASKS_PER_REQUEST):
            batch = tasks[start : start + MAX_TASKS_PER_REQUEST]
            response = self.post(batch, refine=partial(_retired_or, tasks=batch), submission=True)
            part = summarize_submission(response, batch)
            result.accepted += part.accepted
            result.already_submitted += part.already_submitted
            result.errors += part.errors
            result.finished += part.finished
        return result

    def get_response(self, task_uuids: Sequence[str]) -> ApiResponse:
        """Current state of many tasks, asked with one getResponse POST per batch of task UUIDs."""
        merged = ApiResponse()
        for part in _chunks(task_uuids, MAX_TASKS_PER_REQUEST):
            response = self.post(_get_response_tasks(part))
            merged.data += response.data
            merged.errors += response.errors
        return merged

    async def aget_response(self, task_uuids: Sequence[str]) -> ApiResponse:
        merged = ApiResponse()
        for part in _chunks(task_uuids, MAX_TASKS_PER_REQUEST):
            response = await self.apost(_get_response_tasks(part))
            merged.data += response.data
            merged.errors += response.errors
        return merged

    def poll(self, state: PollState) -> PollState:
        """Ask once about every pending task and merge the answer into ``state``."""
        if state.pending:
            state.merge(self.get_response(state.pending))
        return state

    async def apoll(self, state: PollState) -> PollState:
        if state.pending:
            state.merge(await self.aget_response(state.pending))
        return state

    def wait(
        self,
        state: PollState,
        *,
        deadline: float,
        poll_interval: float = 10.0,
        submitted_at: float | None = None,
    ) -> PollStep:
        """Poll until every task is terminal, the wall-clock ``deadline`` passes, or an error that
        waiting cannot heal (auth, payment) arrives; anything transient is logged and polled again."""
        started = time.time()
        progress = ProgressLog(self.log.info, self.log.warning, started)
        while True:
            error: RunwareError | None = None
            try:
                self.poll(state)
            except RunwareError as exc:
                error = exc
            now = time.time()
            step = decide(state, error, now, deadline)
            progress.step(state, step, now, deadline)
            if step.final:
                return step
            age = now - (submitted_at or started)
            time.sleep(max(0.0, min(poll_delay(age, poll_interval), deadline - now)))

    def wait_for_tasks(
        self, expected: Mapping[str, int], *, timeout: float, poll_interval: float = 10.0
    ) -> PollState:
        """Wait for tasks; raise :class:`RunwareTaskTimeoutError` naming the unfinished ones."""
        state = PollState.expecting(expected)
        step = self.wait(state, deadline=time.time() + timeout, poll_interval=poll_interval)
        if step.outcome is WaitOutcome.FAILED and step.error is not None:
            raise step.error
        if step.outcome is WaitOutcome.TIMED_OUT:
            raise timeout_error(state.pending, timeout)
        return state

    def generate_images(
        self,
        request: ImageInferenceRequest | Mapping[str, Any],
        *,
        wait: bool = True,
        timeout: float = 600.0,
        poll_interval: float = 10.0,
    ) -> list[TaskResult]:
        """Validate, submit asynchronously and (by default) wait for every image.

        Always async delivery: a sync request that outlives Runware's window would time out while the
        task keeps running (and billing). Returns the images; with ``wait=False`` returns an empty list
        once Runware has accepted the task (poll ``request.task_uuid`` later).
        """
        wire = request.to_wire() if isinstance(request, ImageInferenceRequest) else dict(request)
        wire.setdefault("taskUUID", _task_uuid())
        wire["deliveryMethod"] = "async"
        validated = ImageInferenceRequest.from_wire(wire)
        warning = get_model_spec(validated.model).lifecycle_warning()
        if warning:
            self.log.warning(warning)
        submitted = self.submit([validated.to_wire()])
        submitted.raise_for_errors()
        if not wait:
            return []
        state = self.wait_for_tasks(
            {validated.task_uuid: validated.expected_results}, timeout=timeout, poll_interval=poll_interval
        )
        raise_for_failed_images(state)
        return state.results()

    # ----- account ----------------------------------------------------------------------------

    def get_account_details(self) -> dict[str, Any]:
        """Organisation, balance and usage for the key (the ``accountManagement`` getDetails task)."""
        task = {"taskType": "accountManagement", "taskUUID": _task_uuid(), "operation": "getDetails"}
        response = self.post([task])
        if response.errors:
            raise response.errors[0].to_exception(response.status_code)
        if not response.data:
            raise RunwareError("Runware returned no account details")
        return response.data[0]

    def test_connection(self) -> tuple[bool, str]:
        """Prove the key works and show the balance, for the UI's Test button."""
        try:
            details = self.get_account_details()
        except (RunwareError, ValueError) as error:
            return False, str(error)
        return True, describe_account(details)


def _retired_or(error: RunwareError, tasks: Sequence[Mapping[str, Any]]) -> RunwareError:
    """An answer that raised before the body was read (a bare 404, a 503 ``modelUnavailable``) to a
    submission of a model the catalog marks retired means "migrate": fatal, named, not retried."""
    if not isinstance(error, RunwareNotFoundError | RunwareTransientError):
        return error
    item = ApiErrorItem(code=error.code, message=error.message, task_uuid=error.task_uuid)
    hinted = _with_migration_hint(item, tasks, error.http_status)
    if hinted.retired_model is None:
        return error
    return RunwareModelDeactivatedError(
        hinted.message,
        code=error.code,
        task_uuid=error.task_uuid,
        documentation=error.documentation,
        http_status=error.http_status,
    )


def timeout_error(pending: Sequence[str], timeout: float) -> RunwareTaskTimeoutError:
    return RunwareTaskTimeoutError(
        f"Runware tasks not finished after {timeout:.0f}s: {', '.join(pending)}. They may still "
        "complete (and be billed) server-side; a retry of this Airflow task polls them again "
        "instead of paying twice."
    )


def raise_for_failed_images(state: PollState) -> None:
    """Fail loudly with every failed task named; the first error's details lead."""
    errors = state.errors()
    if not errors:
        return
    first = errors[0].to_exception()
    if len(errors) == 1:
        raise first
    failed = ", ".join(f"{e.task_uuid} ({e.code}: {e.message})" for e in errors)
    raise type(first)(
        f"{len(errors)} Runware tasks failed: {failed}",
        code=first.code,
        parameter=first.parameter,
        task_uuid=first.task_uuid,
        documentation=first.documentation,
    )
