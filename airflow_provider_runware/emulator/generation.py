"""The background job behind every accepted imageInference task.

Images finish one after another over ``--generation-seconds`` (after any queued delay), so polls see
partial results the way they can on Runware. Each image is rendered, charged, stored, uploaded when
``uploadEndpoint`` asks for it (reported only after the PUT succeeded) and announced to ``webhookURL``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_runware.catalog import get_model_spec
from airflow_provider_runware.emulator.delivery import (
    DeliveryResult,
    post_webhook,
    put_upload,
    without_query,
)
from airflow_provider_runware.emulator.render import FORMATS, render_image
from airflow_provider_runware.emulator.responses import api_error
from airflow_provider_runware.emulator.state import EmulatorState, ImageRecord, TaskRecord

UNKNOWN_MODEL_PRICE_USD = 0.01
GENERATION_ERROR_STATUS = 400
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class ImageParams:
    """The request fields that shape one image, with Runware's defaults filled in."""

    model: str
    prompt: str
    width: int
    height: int
    output_type: str
    output_format: str
    quality: int
    check_content: bool
    include_cost: bool

    @classmethod
    def of(cls, request: Mapping[str, Any]) -> ImageParams:
        safety = request.get("safety") or {}
        # The docs: checkContent "when enabled, defaults to fast mode"; an explicit mode decides.
        check_content = safety["mode"] != "none" if "mode" in safety else safety.get("checkContent") is True
        return cls(
            model=request["model"],
            prompt=request["positivePrompt"],
            width=request["width"],
            height=request["height"],
            output_type=request.get("outputType", "URL"),
            output_format=str(request.get("outputFormat", "JPG")).upper(),
            quality=request.get("outputQuality", 95),
            check_content=check_content,
            include_cost=request.get("includeCost") is True,
        )


def price_per_image(model: str, width: int, height: int) -> float:
    """What the emulator bills and reports as ``cost``: the catalog's documented price for the size,
    which is what the model page's examples report (0.02 for DALL·E 2 at 1024x1024); for a size or
    model without one, the model's highest documented price, else a nominal cent."""
    spec = get_model_spec(model)
    documented = spec.price_per_image(width, height)
    if documented is None:
        documented = max((price for _, price in spec.pricing.by_size), default=spec.pricing.any_size)
    return documented if documented is not None else UNKNOWN_MODEL_PRICE_USD


def seed_for(request: Mapping[str, Any], task_uuid: str, index: int) -> int:
    """The request's seed (plus the result index), else one derived from the task: reproducible."""
    seed = request.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed + index
    digest = hashlib.sha256(f"{task_uuid}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % MAX_SEED + 1


def _output_field(params: ImageParams, record: TaskRecord, image_uuid: str, data: bytes) -> dict[str, str]:
    fmt = FORMATS[params.output_format]
    if params.output_type == "base64Data":
        return {"imageBase64Data": base64.b64encode(data).decode("ascii")}
    if params.output_type == "dataURI":
        return {"imageDataURI": f"data:{fmt.media_type};base64,{base64.b64encode(data).decode('ascii')}"}
    return {"imageURL": f"{record.public_root}/images/{image_uuid}.{fmt.extension}"}


def result_item(
    params: ImageParams, record: TaskRecord, image_uuid: str, seed: int, data: bytes
) -> dict[str, Any]:
    """One image as Runware reports it (field order as on the model page)."""
    item: dict[str, Any] = {
        "taskType": "imageInference",
        "taskUUID": record.task_uuid,
        "imageUUID": image_uuid,
    }
    item.update(_output_field(params, record, image_uuid, data))
    item["seed"] = seed
    if params.check_content:
        item["NSFWContent"] = False
    if params.include_cost:
        item["cost"] = price_per_image(params.model, params.width, params.height)
    return item


def _fail(
    record: TaskRecord, index: int, status: int, code: str, message: str, **extra: Any
) -> dict[str, Any]:
    """Record a failed image; ``resultIndex`` keeps two identical failures distinct when de-duplicated."""
    error = api_error(
        status,
        code,
        message,
        task_type="imageInference",
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


async def _produce(state: EmulatorState, record: TaskRecord, index: int) -> None:
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
    params = ImageParams.of(record.request)
    seed = seed_for(record.request, record.task_uuid, index)
    data = await asyncio.to_thread(
        render_image,
        seed=seed,
        width=params.width,
        height=params.height,
        output_format=params.output_format,
        quality=params.quality,
        prompt=params.prompt,
    )
    image_uuid = str(uuid.uuid4())
    _keep(state, record, params, image_uuid, data)
    if record.request.get("uploadEndpoint"):
        upload = await _upload(state, record, image_uuid, data)
        if not upload.ok:
            target = without_query(record.request["uploadEndpoint"])
            message = f"Uploading image {image_uuid} to {target} failed: {upload.describe()}"
            error = _fail(
                record, index, GENERATION_ERROR_STATUS, "uploadFailed", message, parameter="uploadEndpoint"
            )
            error["imageUUID"] = image_uuid
            await _notify(state, record, {"errors": [error]}, image_uuid)
            return
    item = result_item(params, record, image_uuid, seed, data)
    record.results.append(item)
    await _notify(state, record, {"data": [item]}, image_uuid)


def _keep(
    state: EmulatorState, record: TaskRecord, params: ImageParams, image_uuid: str, data: bytes
) -> None:
    """Bill the image and serve it under /images until its ttl runs out."""
    fmt = FORMATS[params.output_format]
    ttl = record.request.get("ttl") or state.settings.default_ttl
    state.charge(price_per_image(params.model, params.width, params.height))
    state.store_image(ImageRecord(image_uuid, data, fmt.media_type, fmt.extension, state.now() + ttl))
    state.record("generation", taskUUID=record.task_uuid, imageUUID=image_uuid, status="success")


async def run_generation(state: EmulatorState, record: TaskRecord) -> None:
    """Produce every image of ``record``; never leaves the task unfinished, whatever goes wrong."""
    try:
        queued = record.effects.queue_delay if record.effects is not None else 0.0
        await asyncio.sleep(state.faults.seconds("queue_delay") + queued)
        step = state.settings.generation_seconds / record.expected
        for index in range(record.expected):
            await asyncio.sleep(step)
            try:
                await _produce(state, record, index)
            except Exception as error:
                _fail(record, index, 500, "inferenceError", f"Emulator failed to render the image: {error!r}")
    finally:
        record.finished.set()
