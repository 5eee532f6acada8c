"""videoInference: validation (the client's own rule function plus the frame images), pricing, and how
one video is produced (a real, small file: see :mod:`.video_render`).

Video is asynchronous on Runware (every model page allows only ``deliveryMethod: "async"``), so a task
without ``deliveryMethod`` is acknowledged at once and its videos show up in getResponse: ``processing``
items until each video is done, then items with ``videoUUID``, ``videoURL``, ``seed`` and (with
``includeCost``) ``cost``. A video takes :attr:`Settings.video_seconds` (default: 100 times
``--generation-seconds``, so 30 s out of the box; tests scale it down). Finished files are served under
``/videos/{videoUUID}.{ext}`` and PUT to ``uploadEndpoint`` like images.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from PIL import Image

from airflow_provider_runware.catalog.video_models import VIDEO_API_REFERENCE, get_video_model_spec
from airflow_provider_runware.emulator.generation import OutputParams, Produced, Production
from airflow_provider_runware.emulator.inference import seed_for
from airflow_provider_runware.emulator.inputs import check_input, input_refusal, load_input
from airflow_provider_runware.emulator.responses import ApiError, violation_error
from airflow_provider_runware.emulator.state import EmulatorState, Settings, TaskRecord
from airflow_provider_runware.emulator.submission import TaskKind
from airflow_provider_runware.emulator.video_render import (
    VIDEO_FORMATS,
    encode_video,
    frame_size,
    frames_for,
)
from airflow_provider_runware.tasks.video_inference import (
    TASK_TYPE,
    estimate_video_cost,
    frame_image_items,
    validate_video_inference,
)

# What the emulator charges per second of video for a model the catalog prices nothing for (its own
# figure, in the range of the documented ones), and the clip length it assumes when none is asked.
UNKNOWN_MODEL_PRICE_PER_SECOND = 0.05
DEFAULT_DURATION = 5.0


def docs(parameter: str) -> str:
    anchor = parameter.split("[")[0].split("/")[0].lower().replace(".", "-")
    return f"{VIDEO_API_REFERENCE}#request-{anchor}"


def refuse(state: EmulatorState, task: Mapping[str, Any]) -> list[ApiError]:
    """The rule function's violations, then each frame image's form (as for every image input)."""
    task_uuid = task.get("taskUUID")
    errors = [
        violation_error(v, task_type=TASK_TYPE, task_uuid=task_uuid, documentation=docs(v.parameter))
        for v in validate_video_inference(task)
    ]
    if errors:
        return errors
    for parameter, value, _frame in frame_image_items(task):
        problem = check_input(state, parameter.split("[")[0], value, label=parameter)
        if problem is not None:
            refusal = input_refusal(
                problem, parameter, task_type=TASK_TYPE, task_uuid=task_uuid, documentation=docs(parameter)
            )
            errors.append(refusal)
    return errors


def price(task: Mapping[str, Any]) -> float:
    """One video's price: the catalog's estimate, else the emulator's nominal per-second figure."""
    one = get_video_model_spec(str(task.get("model"))).estimate_cost(task)
    if one is not None:
        return one
    duration = task.get("duration")
    seconds = (
        float(duration)
        if isinstance(duration, int | float) and not isinstance(duration, bool)
        else DEFAULT_DURATION
    )
    return round(UNKNOWN_MODEL_PRICE_PER_SECOND * seconds, 6)


def estimate(task: Mapping[str, Any]) -> float:
    total = estimate_video_cost(task)
    if total is not None:
        return total
    count = task.get("numberResults", 1)
    return price(task) * (
        count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1
    )


def _position(frame: Any, index: int, total: int) -> str:
    """Where a frame image goes: its ``frame``, else first (and last, for a second image)."""
    if frame in ("first", "last"):
        return str(frame)
    if frame == 0 or (frame is None and index == 0):
        return "first"
    if frame is None and index == total - 1:
        return "last"
    return "middle"


async def _frame_images(
    state: EmulatorState, record: TaskRecord
) -> tuple[Image.Image | None, Image.Image | None]:
    items = frame_image_items(record.request)
    first = last = None
    for index, (parameter, value, frame) in enumerate(items):
        position = _position(frame, index, len(items))
        if position == "middle":
            continue
        loaded = await load_input(state, record, parameter.split("[")[0], value)
        if position == "first":
            first = loaded.image
        else:
            last = loaded.image
    return first, last


def _render(
    request: Mapping[str, Any],
    seed: int,
    params: OutputParams,
    first: Image.Image | None,
    last: Image.Image | None,
) -> bytes:
    width, height = request.get("width"), request.get("height")
    size = frame_size(
        width if isinstance(width, int) else None, height if isinstance(height, int) else None, first
    )
    frames = frames_for(seed, str(request.get("positivePrompt", "")), size, first=first, last=last)
    return encode_video(frames, params.output_format, params.quality)


async def produce(state: EmulatorState, record: TaskRecord, index: int, params: OutputParams) -> Produced:
    request = record.request
    first, last = await _frame_images(state, record)
    seed = seed_for(request, record.task_uuid, index)
    data = await asyncio.to_thread(_render, request, seed, params, first, last)
    return Produced(data, price(request), tail={"seed": seed})


def video_seconds(settings: Settings) -> float:
    return settings.effective_video_seconds


VIDEO_INFERENCE = TaskKind(
    task_type=TASK_TYPE,
    production=Production(
        default_format="MP4",
        produce=produce,
        media="video",
        formats=VIDEO_FORMATS,
        route="videos",
        seconds=video_seconds,
    ),
    refuse=refuse,
    estimate=estimate,
    docs=docs,
    default_delivery="async",
)
