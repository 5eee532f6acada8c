"""Starlette routes: the Runware API at ``POST /v1``, generated files at ``/images`` and ``/videos``, and
the control API
at ``/_emulator`` that tests use to read the request log, reset state, script faults and run the seeded
random-fault mode (``/_emulator/faults/random``, counted at ``/_emulator/faults/stats``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Container, Mapping
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_runware.emulator.auth import AUTH_TASK, authenticate
from airflow_provider_runware.emulator.chaos import (
    Draw,
    Injection,
    RandomFaultConfig,
    RandomFaultConfigError,
    RandomFaults,
)
from airflow_provider_runware.emulator.connection import drop_connection
from airflow_provider_runware.emulator.faults import IMMEDIATE_KINDS, FaultSpecError, validate_spec
from airflow_provider_runware.emulator.modes import ModeError
from airflow_provider_runware.emulator.render import EXTENSIONS
from airflow_provider_runware.emulator.responses import (
    Outcome,
    api_error,
    envelope,
    failure,
    http_status_of,
    json_response,
)
from airflow_provider_runware.emulator.state import EmulatorState, Settings
from airflow_provider_runware.emulator.tasks import GENERATING_TASK_TYPES, handle_task
from airflow_provider_runware.emulator.video_render import VIDEO_EXTENSIONS

DEFAULT_FAULT_CODES = {
    429: "rateLimitExceeded",
    500: "internalServerError",
    502: "badGateway",
    503: "serviceUnavailable",
    504: "timeoutProvider",
}
MALFORMED_BODY = '{"data": [{"taskType": "imageInference", "taskUUID": '


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def _redacted(task: Any) -> Any:
    """A task as logged: never the API key."""
    if isinstance(task, Mapping):
        return {key: value for key, value in task.items() if key != "apiKey"}
    return task


def _field(task: Any, name: str) -> Any:
    return task.get(name) if isinstance(task, Mapping) else None


async def _read_tasks(request: Request) -> list[Any] | None:
    """The JSON array of tasks, or ``None`` when the body is anything else."""
    try:
        payload = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, list) and payload else None


def _fault_matches(task_types: set[Any], after: bool) -> Callable[[Mapping[str, Any]], bool]:
    """Faults fire before the tasks run, or with ``after: true`` once they ran (the answer is lost)."""

    def matches(spec: Mapping[str, Any]) -> bool:
        wanted = spec.get("task_type")
        return bool(spec.get("after")) == after and (wanted is None or wanted in task_types)

    return matches


def _fault_response(spec: Mapping[str, Any], tasks: list[Any]) -> Response:
    """Answer for an http_status or malformed fault (drop_connection is handled by the caller)."""
    if spec["kind"] == "malformed":
        return Response(str(spec.get("body", MALFORMED_BODY)), status_code=200, media_type="application/json")
    status = int(spec["status"])
    # Some 5xx bodies name the request's first task, some name none: clients must not read either as
    # a verdict on that task.
    first = tasks[0] if tasks and spec.get("name_task", True) else None
    outcome = failure(
        status,
        spec.get("code") or DEFAULT_FAULT_CODES.get(status, "serverError"),
        spec.get("message") or f"Emulated HTTP {status}: please retry later.",
        task_type=_field(first, "taskType"),
        task_uuid=_field(first, "taskUUID"),
    )
    headers = {}
    if spec.get("retry_after") is not None:
        retry_after = spec["retry_after"]
        headers["Retry-After"] = str(int(retry_after) if float(retry_after).is_integer() else retry_after)
    return json_response(status, envelope(outcome), headers)


async def _apply_fault(request: Request, tasks: list[Any], after: bool) -> tuple[Response, str] | None:
    state = _state(request)
    task_types = {t for t in (_field(task, "taskType") for task in tasks) if isinstance(t, str)}
    for kind in ("drop_connection", "malformed", "http_status"):
        spec = state.faults.take(kind, _fault_matches(task_types, after))
        if spec is None:
            continue
        if kind == "drop_connection":
            return await drop_connection(request), kind
        return _fault_response(spec, tasks), kind
    return None


async def _hold(request: Request, tasks: list[Any], entries: list[dict[str, Any]]) -> Response | None:
    """A ``hold`` fault: the POST reaches Runware's front door, waits ``seconds`` there and is then
    dropped unprocessed, so Runware never learns of its tasks. A test kills the client meanwhile: a
    worker that died after recording its tasks and before they reached Runware. The log entries say
    ``fault: hold`` while the POST is held."""
    task_types = {t for t in (_field(task, "taskType") for task in tasks) if isinstance(t, str)}
    spec = _state(request).faults.take("hold", _fault_matches(task_types, after=False))
    if spec is None:
        return None
    _finish_log(entries, None, "hold")
    await asyncio.sleep(float(spec["seconds"]))
    return await drop_connection(request)


def _inference_uuids(tasks: list[Any]) -> list[str]:
    """The tasks of a POST that make images (imageInference and the image tools): random faults that
    delay or fail an image can hit any of them."""
    return [
        str(_field(task, "taskUUID"))
        for task in tasks
        if _field(task, "taskType") in GENERATING_TASK_TYPES and _field(task, "taskUUID")
    ]


async def _apply_random_fault(
    request: Request, chaos: RandomFaults, draw: Draw, tasks: list[Any]
) -> tuple[Response, str] | None:
    """Apply this POST's random fault: refuse it (transport faults), slow it, or mark its tasks."""
    injection = chaos.resolve(draw, len(_inference_uuids(tasks)))
    if injection is None:
        return None
    if injection.kind in ("queue_delay", "fail_generation"):
        chaos.mark(_inference_uuids(tasks), injection)
        return None
    chaos.count(injection)
    if injection.kind == "slow":
        await asyncio.sleep(injection.seconds)
        return None
    return await _refusal(request, injection, tasks), injection.kind


async def _refusal(request: Request, injection: Injection, tasks: list[Any]) -> Response:
    if injection.kind == "drop":
        return await drop_connection(request)
    if injection.kind == "malformed":
        return _fault_response({"kind": "malformed"}, tasks)
    spec = {
        "kind": "http_status",
        "status": injection.status,
        "retry_after": injection.retry_after,
        "name_task": injection.names_task,
    }
    return _fault_response(spec, tasks)


async def _delay(state: EmulatorState) -> None:
    spec = state.faults.take("latency")
    seconds = float(spec["seconds"]) if spec else state.settings.latency
    if seconds > 0:
        await asyncio.sleep(seconds)


def _log_tasks(state: EmulatorState, tasks: list[Any]) -> list[dict[str, Any]]:
    post = state.next_post()
    return [
        state.record(
            "api",
            post=post,
            taskType=_field(task, "taskType"),
            taskUUID=_field(task, "taskUUID"),
            task=_redacted(task),
            status=None,
        )
        for task in tasks
    ]


def _finish_log(entries: list[dict[str, Any]], status: int | None, fault: str | None = None) -> None:
    for entry in entries:
        entry["status"] = status
        if fault:
            entry["fault"] = fault


def _is_dropped(kind: str) -> bool:
    return kind in ("drop_connection", "drop")


async def _run_tasks(request: Request, tasks: list[Any]) -> Outcome:
    state = _state(request)
    auth = authenticate(state.settings, request.headers.get("authorization"), tasks)
    if auth.error is not None:
        return Outcome(errors=[auth.error])
    if not auth.tasks:
        return Outcome(data=[{"taskType": AUTH_TASK, "connectionSessionUUID": state.session_uuid}])
    root = str(request.base_url).rstrip("/")
    results = await asyncio.gather(*(handle_task(state, t, i, root) for i, t in enumerate(auth.tasks)))
    outcome = Outcome()
    for result in results:
        outcome.merge(result)
    return outcome


async def api(request: Request) -> Response:
    """``POST /v1``: one JSON array of tasks, each answered independently."""
    state = _state(request)
    # Drawn before the first await, so random faults follow the order requests arrive in.
    chaos = state.chaos
    draw = chaos.draw() if chaos is not None else None
    await _delay(state)
    tasks = await _read_tasks(request)
    if tasks is None:
        entries = _log_tasks(state, [None])
        _finish_log(entries, 400)
        error = api_error(400, "invalidRequestBody", "The body must be a non-empty JSON array of tasks.")
        return json_response(400, envelope(Outcome(errors=[error])))
    entries = _log_tasks(state, tasks)
    held = await _hold(request, tasks, entries)
    if held is not None:
        return held
    faulted = await _apply_fault(request, tasks, after=False)
    if faulted is None and chaos is not None and draw is not None:
        faulted = await _apply_random_fault(request, chaos, draw, tasks)
    if faulted is None:
        outcome = await _run_tasks(request, tasks)
        faulted = await _apply_fault(request, tasks, after=True)
        if faulted is None:
            status = http_status_of(outcome)
            _finish_log(entries, status)
            _release(chaos, tasks)
            return json_response(status, envelope(outcome))
    _release(chaos, tasks)
    response, kind = faulted
    _finish_log(entries, None if _is_dropped(kind) else response.status_code, kind)
    return response


def _release(chaos: RandomFaults | None, tasks: list[Any]) -> None:
    if chaos is not None:
        chaos.release(_inference_uuids(tasks))


def _stored_file(request: Request, kind: str, extensions: Container[str]) -> Response:
    """``GET /{kind}s/{uuid}.{ext}``: the file, until its ttl has passed (then 404 ``{kind}NotFound``)."""
    name: str = request.path_params["name"]
    file_uuid, _, extension = name.rpartition(".")
    stored = _state(request).live_image(file_uuid)
    if stored is None or extension != stored.extension or extension not in extensions:
        return json_response(404, {"errors": [{"code": f"{kind}NotFound", "message": f"No {kind} {name}"}]})
    return Response(stored.data, media_type=stored.media_type)


async def image(request: Request) -> Response:
    """``GET /images/{imageUUID}.{ext}``: the file, until its ttl has passed (then 404)."""
    return _stored_file(request, "image", EXTENSIONS)


async def video(request: Request) -> Response:
    """``GET /videos/{videoUUID}.{ext}``: the file, until its ttl has passed (then 404)."""
    return _stored_file(request, "video", VIDEO_EXTENSIONS)


async def health(request: Request) -> Response:
    return json_response(200, {"status": "ok"})


async def requests_log(request: Request) -> Response:
    """The request log, optionally only one ``kind`` (api, generation, upload, webhook, input: every
    image input resolved, with the URL downloaded without its query string, its status and size) and,
    for api entries, one ``task_type``."""
    kind = request.query_params.get("kind")
    task_type = request.query_params.get("task_type")
    entries = [
        entry
        for entry in _state(request).log
        if (kind is None or entry["kind"] == kind)
        and (task_type is None or entry.get("taskType") == task_type)
    ]
    return json_response(200, entries)


async def reset(request: Request) -> Response:
    _state(request).reset()
    return json_response(200, {"reset": True})


async def faults(request: Request) -> Response:
    """``GET`` lists active faults, ``POST`` adds one spec, ``DELETE`` clears them all."""
    state = _state(request)
    if request.method == "DELETE":
        state.faults.clear()
    if request.method != "POST":
        return json_response(200, state.faults.active())
    try:
        spec = validate_spec(json.loads(await request.body()))
    except (FaultSpecError, ValueError) as error:
        return json_response(400, {"error": str(error)})
    if spec["kind"] in IMMEDIATE_KINDS:
        _apply_immediately(state, spec["kind"])
        return json_response(200, {"applied": spec["kind"]})
    return json_response(200, state.faults.add(spec).to_json())


async def random_faults(request: Request) -> Response:
    """``POST`` a configuration (``{"rate": 0.3, "seed": 7}``) to start the random-fault mode with fresh
    RNG streams; ``DELETE`` stops it; ``GET`` shows it. A reset returns to the start-up mode."""
    state = _state(request)
    if request.method == "DELETE":
        state.chaos = None
    elif request.method == "POST":
        try:
            config = RandomFaultConfig.from_json(json.loads(await request.body() or b"{}"))
        except (RandomFaultConfigError, ValueError) as error:
            return json_response(400, {"error": str(error)})
        state.chaos = RandomFaults(config)
    return await fault_stats(request)


async def fault_stats(request: Request) -> Response:
    """Random faults injected so far, by kind, plus how many POSTs and uploads drew."""
    chaos = _state(request).chaos
    return json_response(200, chaos.stats() if chaos is not None else {"enabled": False})


def _apply_immediately(state: EmulatorState, kind: str) -> None:
    if kind == "expire_images":
        state.expire_images()
    elif kind == "forget_tasks":
        state.tasks.clear()


async def clock(request: Request) -> Response:
    """``POST {"advance": seconds}`` moves the emulator's clock forward (ttl tests need no sleeping)."""
    state = _state(request)
    try:
        advance = float(json.loads(await request.body() or b"{}").get("advance", 0))
    except (ValueError, TypeError, AttributeError) as error:
        return json_response(400, {"error": f"expected {{'advance': seconds}}: {error}"})
    state.clock_offset += advance
    return json_response(200, {"offset": state.clock_offset, "now": state.now()})


async def config(request: Request) -> Response:
    """``GET`` the current modes (date, error and balance shapes, retired-model answer); ``POST`` a JSON
    object to change some of them until the next reset (see ``emulator.modes``)."""
    modes = _state(request).modes
    if request.method == "POST":
        try:
            changes = json.loads(await request.body() or b"{}")
            if not isinstance(changes, dict):
                raise ModeError("expected a JSON object of modes")
            modes.update(changes)
        except (ModeError, ValueError) as error:
            return json_response(400, {"error": str(error)})
    return json_response(200, modes.to_json())


def create_app(settings: Settings | None = None) -> Starlette:
    """A fresh emulator with its own in-memory state (one per server process, or per test)."""
    state = EmulatorState(settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await state.close()

    routes = [
        Route("/v1", api, methods=["POST"]),
        Route("/v1/", api, methods=["POST"]),
        Route("/images/{name}", image, methods=["GET", "HEAD"]),
        Route("/videos/{name}", video, methods=["GET", "HEAD"]),
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/requests", requests_log, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/faults/random", random_faults, methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/faults/stats", fault_stats, methods=["GET"]),
        Route("/_emulator/clock", clock, methods=["POST"]),
        Route("/_emulator/config", config, methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.emulator = state
    return app
