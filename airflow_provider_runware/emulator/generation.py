"""The background job behind every accepted task that produces results (imageInference, removeBackground,
upscale, videoInference, imageCaption, promptEnhance); each task type only says how one result is
produced (a :class:`Production`).

Results finish one after another over ``--generation-seconds`` (videos over ``--video-seconds``), after
any queued delay, so polls see partial results the way they can on Runware. Each file (an image or a
video) is rendered, charged, stored, uploaded when ``uploadEndpoint`` asks for it (reported only after
the PUT succeeded) and announced to ``webhookURL``; a text result (a caption, an enhanced prompt) has no
file: it is charged and reported.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_provider_runware.emulator.delivery import (
    DeliveryResult,
    post_webhook,
    put_upload,
    without_query,
)
from airflow_provider_runware.emulator.inputs import InputError
from airflow_provider_runware.emulator.render import FORMATS
from airflow_provider_runware.emulator.responses import api_error
from airflow_provider_runware.emulator.state import EmulatorState, ImageRecord, Settings, TaskRecord

GENERATION_ERROR_STATUS = 400


class MediaFormat(Protocol):
    """What storing and serving a file needs of its ``outputFormat`` (image and video formats alike)."""

    @property
    def extension(self) -> str: ...

    @property
    def media_type(self) -> str: ...


@dataclass(frozen=True)
class OutputParams:
    """The request fields every image-producing task type shares, with Runware's defaults filled in
    (the default ``outputFormat`` differs: JPG for imageInference and upscale, PNG for removeBackground)."""

    output_type: str
    output_format: str
    quality: int
    include_cost: bool

    @classmethod
    def of(cls, request: Mapping[str, Any], default_format: str) -> OutputParams:
        return cls(
            output_type=request.get("outputType", "URL"),
            output_format=str(request.get("outputFormat", default_format)).upper(),
            quality=request.get("outputQuality", 95),
            include_cost=request.get("includeCost") is True,
        )


@dataclass(frozen=True)
class Produced:
    """One finished image from a task type's producer, before it is stored, uploaded and reported.

    ``lead`` holds the fields Runware lists right after ``imageUUID`` (``inputImageUUID`` of the tools),
    ``tail`` those after the image field (``seed``, ``NSFWContent`` of imageInference). ``data`` is
    ``None`` for a text result: its fields (``text``) are all in ``lead``."""

    data: bytes | None
    price: float
    lead: dict[str, Any] = field(default_factory=dict)
    tail: dict[str, Any] = field(default_factory=dict)


Producer = Callable[[EmulatorState, TaskRecord, int, OutputParams], Awaitable[Produced]]


@dataclass(frozen=True)
class Production:
    """How one task type makes each of its results: its default format and its producer. Everything
    else (faults, billing, storage, uploads, webhooks, getResponse) is the same for every task type.

    ``media`` names the result fields (``imageUUID``/``imageURL``..., ``videoUUID``/``videoURL``...;
    ``None`` for text results, which have no file), ``formats`` the output formats, ``route`` where the
    files are served (``/images/...``, ``/videos/...``) and ``seconds`` how long one task's results take
    in all (default: ``--generation-seconds``)."""

    default_format: str
    produce: Producer
    media: str | None = "image"
    formats: Mapping[str, MediaFormat] = field(default_factory=lambda: dict(FORMATS))
    route: str = "images"
    seconds: Callable[[Settings], float] | None = None

    def duration(self, settings: Settings) -> float:
        return self.seconds(settings) if self.seconds is not None else settings.generation_seconds


def _output_field(
    params: OutputParams, record: TaskRecord, result_uuid: str, data: bytes, production: Production
) -> dict[str, str]:
    fmt = production.formats[params.output_format]
    media = production.media
    if params.output_type == "base64Data":
        return {f"{media}Base64Data": base64.b64encode(data).decode("ascii")}
    if params.output_type == "dataURI":
        return {f"{media}DataURI": f"data:{fmt.media_type};base64,{base64.b64encode(data).decode('ascii')}"}
    return {f"{media}URL": f"{record.public_root}/{production.route}/{result_uuid}.{fmt.extension}"}


def result_item(
    params: OutputParams,
    record: TaskRecord,
    result_uuid: str | None,
    produced: Produced,
    production: Production,
) -> dict[str, Any]:
    """One result as Runware reports it (field order as on the task type's page): an image, a video,
    or a text result (no UUID, no file)."""
    item: dict[str, Any] = {"taskType": record.task_type, "taskUUID": record.task_uuid}
    if production.media is not None and result_uuid is not None:
        item[f"{production.media}UUID"] = result_uuid
    item.update(produced.lead)
    if production.media is not None and result_uuid is not None and produced.data is not None:
        item.update(_output_field(params, record, result_uuid, produced.data, production))
    item.update(produced.tail)
    if params.include_cost:
        item["cost"] = produced.price
    return item


def _fail(
    record: TaskRecord, index: int, status: int, code: str, message: str, **extra: Any
) -> dict[str, Any]:
    """Record a failed image; ``resultIndex`` keeps two identical failures distinct when de-duplicated."""
    error = api_error(
        status,
        code,
        message,
        task_type=record.task_type,
        task_uuid=record.task_uuid,
        status="error",
        resultIndex=index,
        **extra,
    )
    record.errors.append(error.body)
    record.error_statuses.append(error.status)
    return error.body


def _random_upload_refusal(state: EmulatorState) -> int | None:
    return state.chaos.draw_upload() if state.chaos is not None else None


async def _upload(
    state: EmulatorState, record: TaskRecord, result_uuid: str, data: bytes, media: str = "image"
) -> DeliveryResult:
    url = record.request["uploadEndpoint"]
    entry: dict[str, Any] = {
        "taskUUID": record.task_uuid,
        f"{media}UUID": result_uuid,
        "target": without_query(url),
    }
    await asyncio.sleep(state.faults.seconds("upload_delay"))
    failing = state.faults.take("upload_fail")
    refused = int(failing.get("status", 403)) if failing is not None else _random_upload_refusal(state)
    if refused is not None:
        result = DeliveryResult(refused, "emulated upload failure")
        state.record("upload", **entry, status=result.status, bytes=0, fault="upload_fail")
        return result
    if state.faults.take("upload_skip") is not None:
        state.record("upload", **entry, status=None, bytes=0, fault="upload_skip", skipped=True)
        return DeliveryResult(200)
    result = await put_upload(state.http, url, data)
    state.record("upload", **entry, status=result.status, bytes=len(data), error=result.error)
    return result


async def _notify(
    state: EmulatorState, record: TaskRecord, payload: dict[str, Any], image_uuid: str | None
) -> None:
    """POST the result to ``webhookURL``. Runware retries a delivery that gets no 2xx (its schedule
    is not documented): the first attempt happens in line, the retries in the background with a
    doubling delay, each logged with its ``attempt`` number."""
    url = record.request.get("webhookURL")
    if not url:
        return
    if not await _deliver_once(state, record, url, payload, image_uuid, attempt=1):
        state.spawn(_redeliver(state, record, url, payload, image_uuid))


async def _deliver_once(
    state: EmulatorState,
    record: TaskRecord,
    url: str,
    payload: dict[str, Any],
    image_uuid: str | None,
    attempt: int,
) -> bool:
    result = await post_webhook(state.http, url, payload)
    state.record(
        "webhook",
        taskUUID=record.task_uuid,
        imageUUID=image_uuid,
        target=without_query(url),
        status=result.status,
        error=result.error,
        attempt=attempt,
    )
    return result.ok


async def _redeliver(
    state: EmulatorState, record: TaskRecord, url: str, payload: dict[str, Any], image_uuid: str | None
) -> None:
    delay = state.settings.webhook_retry_seconds
    for attempt in range(2, state.settings.webhook_attempts + 1):
        await asyncio.sleep(delay)
        if await _deliver_once(state, record, url, payload, image_uuid, attempt):
            return
        delay *= 2


def _model_matches(record: TaskRecord) -> Callable[[Mapping[str, Any]], bool]:
    """A fault with a ``model`` only hits that model's tasks."""
    return lambda spec: spec.get("model") in (None, record.request.get("model"))


def _generation_fault(state: EmulatorState, record: TaskRecord, index: int) -> dict[str, Any] | None:
    """A scripted ``fail_generation`` fault, or the random mode's verdict on this image."""
    failing = state.faults.take("fail_generation", _model_matches(record))
    if failing is None and record.effects is not None and record.effects.fail_index == index:
        failing = {"kind": "fail_generation", "random": True}
    return failing


async def _produce(state: EmulatorState, record: TaskRecord, index: int, production: Production) -> None:
    failing = _generation_fault(state, record, index)
    if failing is not None:
        message = failing.get("message") or "The provider failed to generate this image (emulated)"
        status = int(failing.get("status", GENERATION_ERROR_STATUS))
        code = failing.get("code") or "inferenceError"
        error = _fail(record, index, status, code, message, parameter=failing.get("parameter"))
        state.record(
            "generation",
            taskUUID=record.task_uuid,
            imageUUID=None,
            status="error",
            code=error["code"],
            fault="fail_generation",
        )
        await _notify(state, record, {"errors": [error]}, None)
        return
    params = OutputParams.of(record.request, production.default_format)
    try:
        produced = await production.produce(state, record, index, params)
    except InputError as problem:
        # An input that could not be fetched or read: this image fails, nothing is billed.
        error = _fail(
            record, index, GENERATION_ERROR_STATUS, problem.code, problem.message, parameter=problem.parameter
        )
        state.record(
            "generation", taskUUID=record.task_uuid, imageUUID=None, status="error", code=problem.code
        )
        await _notify(state, record, {"errors": [error]}, None)
        return
    if produced.data is None or production.media is None:
        # A text result: no file to store or upload.
        state.charge(produced.price)
        state.record("generation", taskUUID=record.task_uuid, imageUUID=None, status="success")
        item = result_item(params, record, None, produced, production)
        record.results.append(item)
        await _notify(state, record, {"data": [item]}, None)
        return
    media = production.media
    result_uuid = str(uuid.uuid4())
    _keep(state, record, params, result_uuid, produced, production)
    if record.request.get("uploadEndpoint"):
        upload = await _upload(state, record, result_uuid, produced.data, media)
        if not upload.ok:
            target = without_query(record.request["uploadEndpoint"])
            message = f"Uploading {media} {result_uuid} to {target} failed: {upload.describe()}"
            error = _fail(
                record, index, GENERATION_ERROR_STATUS, "uploadFailed", message, parameter="uploadEndpoint"
            )
            error[f"{media}UUID"] = result_uuid
            await _notify(state, record, {"errors": [error]}, result_uuid)
            return
    item = result_item(params, record, result_uuid, produced, production)
    record.results.append(item)
    await _notify(state, record, {"data": [item]}, result_uuid)


def _keep(
    state: EmulatorState,
    record: TaskRecord,
    params: OutputParams,
    result_uuid: str,
    produced: Produced,
    production: Production,
) -> None:
    """Bill the file and serve it under its route (/images, /videos) until its ttl runs out."""
    fmt = production.formats[params.output_format]
    ttl = record.request.get("ttl") or state.settings.default_ttl
    data = produced.data or b""
    state.charge(produced.price)
    state.store_image(ImageRecord(result_uuid, data, fmt.media_type, fmt.extension, state.now() + ttl))
    state.record("generation", taskUUID=record.task_uuid, imageUUID=result_uuid, status="success")


async def run_generation(state: EmulatorState, record: TaskRecord, production: Production) -> None:
    """Produce every image of ``record``; never leaves the task unfinished, whatever goes wrong."""
    try:
        queued = record.effects.queue_delay if record.effects is not None else 0.0
        await asyncio.sleep(state.faults.seconds("queue_delay") + queued)
        step = production.duration(state.settings) / record.expected
        for index in range(record.expected):
            await asyncio.sleep(step)
            try:
                await _produce(state, record, index, production)
            except Exception as error:
                _fail(record, index, 500, "inferenceError", f"Emulator failed to render the image: {error!r}")
    finally:
        record.finished.set()
