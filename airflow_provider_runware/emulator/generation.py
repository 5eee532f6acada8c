"""The background job behind every accepted task that makes images (imageInference, removeBackground,
upscale); each task type only says how one image is produced (a :class:`Production`).

Images finish one after another over ``--generation-seconds`` (after any queued delay), so polls see
partial results the way they can on Runware. Each image is rendered, charged, stored, uploaded when
``uploadEndpoint`` asks for it (reported only after the PUT succeeded) and announced to ``webhookURL``.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_runware.emulator.delivery import (
    DeliveryResult,
    post_webhook,
    put_upload,
    without_query,
)
from airflow_provider_runware.emulator.inputs import InputError
from airflow_provider_runware.emulator.render import FORMATS
from airflow_provider_runware.emulator.responses import api_error
from airflow_provider_runware.emulator.state import EmulatorState, ImageRecord, TaskRecord

GENERATION_ERROR_STATUS = 400


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
    ``tail`` those after the image field (``seed``, ``NSFWContent`` of imageInference)."""

    data: bytes
    price: float
    lead: dict[str, Any] = field(default_factory=dict)
    tail: dict[str, Any] = field(default_factory=dict)


Producer = Callable[[EmulatorState, TaskRecord, int, OutputParams], Awaitable[Produced]]


@dataclass(frozen=True)
class Production:
    """How one task type makes each of its images: its default format and its producer. Everything
    else (faults, billing, storage, uploads, webhooks, getResponse) is the same for every task type."""

    default_format: str
    produce: Producer


def _output_field(params: OutputParams, record: TaskRecord, image_uuid: str, data: bytes) -> dict[str, str]:
    fmt = FORMATS[params.output_format]
    if params.output_type == "base64Data":
        return {"imageBase64Data": base64.b64encode(data).decode("ascii")}
    if params.output_type == "dataURI":
        return {"imageDataURI": f"data:{fmt.media_type};base64,{base64.b64encode(data).decode('ascii')}"}
    return {"imageURL": f"{record.public_root}/images/{image_uuid}.{fmt.extension}"}


def result_item(
    params: OutputParams, record: TaskRecord, image_uuid: str, produced: Produced
) -> dict[str, Any]:
    """One image as Runware reports it (field order as on the task type's page)."""
    item: dict[str, Any] = {
        "taskType": record.task_type,
        "taskUUID": record.task_uuid,
        "imageUUID": image_uuid,
    }
    item.update(produced.lead)
    item.update(_output_field(params, record, image_uuid, produced.data))
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


async def _upload(state: EmulatorState, record: TaskRecord, image_uuid: str, data: bytes) -> DeliveryResult:
    url = record.request["uploadEndpoint"]
    entry: dict[str, Any] = {
        "taskUUID": record.task_uuid,
        "imageUUID": image_uuid,
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
    image_uuid = str(uuid.uuid4())
    _keep(state, record, params, image_uuid, produced)
    if record.request.get("uploadEndpoint"):
        upload = await _upload(state, record, image_uuid, produced.data)
        if not upload.ok:
            target = without_query(record.request["uploadEndpoint"])
            message = f"Uploading image {image_uuid} to {target} failed: {upload.describe()}"
            error = _fail(
                record, index, GENERATION_ERROR_STATUS, "uploadFailed", message, parameter="uploadEndpoint"
            )
            error["imageUUID"] = image_uuid
            await _notify(state, record, {"errors": [error]}, image_uuid)
            return
    item = result_item(params, record, image_uuid, produced)
    record.results.append(item)
    await _notify(state, record, {"data": [item]}, image_uuid)


def _keep(
    state: EmulatorState, record: TaskRecord, params: OutputParams, image_uuid: str, produced: Produced
) -> None:
    """Bill the image and serve it under /images until its ttl runs out."""
    fmt = FORMATS[params.output_format]
    ttl = record.request.get("ttl") or state.settings.default_ttl
    state.charge(produced.price)
    state.store_image(
        ImageRecord(image_uuid, produced.data, fmt.media_type, fmt.extension, state.now() + ttl)
    )
    state.record("generation", taskUUID=record.task_uuid, imageUUID=image_uuid, status="success")


async def run_generation(state: EmulatorState, record: TaskRecord, production: Production) -> None:
    """Produce every image of ``record``; never leaves the task unfinished, whatever goes wrong."""
    try:
        queued = record.effects.queue_delay if record.effects is not None else 0.0
        await asyncio.sleep(state.faults.seconds("queue_delay") + queued)
        step = state.settings.generation_seconds / record.expected
        for index in range(record.expected):
            await asyncio.sleep(step)
            try:
                await _produce(state, record, index, production)
            except Exception as error:
                _fail(record, index, 500, "inferenceError", f"Emulator failed to render the image: {error!r}")
    finally:
        record.finished.set()
