"""Image inputs (``seedImage``, ``maskImage``, ``referenceImages``, ``inputImage``): judging their form
when a task is submitted, and getting their pixels when it runs.

Runware documents four forms for every image input (image-inference reference, sections seedImage,
maskImage, referenceImages; the remove-background and upscale pages, section inputImage): the UUID v4
of an image uploaded or generated earlier, a data URI, raw base64, or a URL; PNG, JPG and WEBP only.

When each problem is reported follows what Runware's answers show:

- **At submission, synchronously** (HTTP 400, with ``parameter`` and ``taskUUID``): anything knowable
  from the request itself. A value in none of the four forms, an unknown imageUUID, inline data that is
  not base64 or not a supported image. Runware answers these as ``invalidSeedImage`` with "Invalid value
  for 'seedImage' parameter. The seed image must be specified in one of the following formats: ..."
  (quoted from a live answer in Runware/sdk-python issue #27); the other inputs follow the same
  ``invalid<Parameter>`` convention. A URL whose host is not loopback is refused here too: this is the
  emulator's own rule (tests must never reach the internet), phrased as the same error.
- **While processing, as the task's error in getResponse**: a URL that cannot be downloaded (refused
  connection, 403 from an expired presigned URL, 404). Runware downloads inputs on its workers, after the
  submit was acknowledged, so an async client learns of it by polling. The code is ``downloadFailed``:
  no Runware page documents it, but runware-sdk 1.8.0 (``errors.py``, ``_PROVIDER_CODES``) lists it
  among the raw server codes. A download that is not a PNG/JPG/WEBP image is ``invalid<Parameter>``.

Every input the emulator resolves is written to the request log as a ``kind: "input"`` entry: the
parameter, the form, the target (URL without its query string, which holds presigned signatures, or
the imageUUID), the HTTP status of a download and the number of bytes.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import httpx
from PIL import Image, UnidentifiedImageError

from airflow_provider_runware.catalog.rules import UUID_PATTERN
from airflow_provider_runware.emulator.delivery import without_query
from airflow_provider_runware.emulator.render import FORMATS
from airflow_provider_runware.emulator.responses import ApiError, api_error
from airflow_provider_runware.emulator.state import EmulatorState, ImageRecord, TaskRecord

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Pillow's name for each format Runware accepts, and Runware's.
PILLOW_FORMATS = {"PNG": "PNG", "JPEG": "JPG", "WEBP": "WEBP"}
DATA_URI = re.compile(r"^data:(?P<media>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^;,]*)*),(?P<data>.*)$", re.DOTALL)
FORMS_RULE = (
    "must be specified in one of the following formats: a UUID v4 string of a previously uploaded or "
    "generated image, a data URI string, a base64 encoded image, or a publicly accessible URL. "
    "Supported formats are: PNG, JPG and WEBP."
)


class Form(Enum):
    """The documented ways of naming an input image."""

    UUID = "imageUUID"
    URL = "url"
    DATA_URI = "dataURI"
    BASE64 = "base64"


class InputError(Exception):
    """An input Runware would refuse: its error code, the parameter and a Runware-style message."""

    def __init__(self, code: str, parameter: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.parameter = parameter
        self.message = message


def input_refusal(
    problem: InputError, parameter: str, *, task_type: str, task_uuid: Any, documentation: str
) -> ApiError:
    """The 400 error item Runware answers a refused input with; ``parameter`` as the task named the input
    (an array item such as ``frameImages[0].inputImage`` for one of several)."""
    return api_error(
        400,
        problem.code,
        problem.message,
        parameter=parameter,
        task_type=task_type,
        task_uuid=task_uuid,
        documentation=documentation,
    )


@dataclass(frozen=True)
class LoadedInput:
    """An input's pixels and the imageUUID Runware reports for it (``inputImageUUID``): the UUID it was
    named by, or the one the emulator stored an inline or downloaded image under (Runware uploads those
    too, so they can be reused by UUID)."""

    image: Image.Image
    image_uuid: str


def code_for(kind: str, parameter: str) -> str:
    """Runware's convention: ``invalid``/``missing`` + the parameter (``invalidSeedImage``)."""
    return f"{kind}{parameter[0].upper()}{parameter[1:]}"


def invalid(parameter: str, reason: str) -> InputError:
    return InputError(
        code_for("invalid", parameter), parameter, f"Invalid value for '{parameter}' parameter. {reason}"
    )


def form_of(value: str) -> Form | None:
    """Which documented form ``value`` is in (only its shape; nothing is fetched or decoded)."""
    if UUID_PATTERN.match(value):
        return Form.UUID
    if value.startswith("data:"):
        return Form.DATA_URI
    if re.match(r"^https?://", value, re.IGNORECASE):
        return Form.URL
    if re.fullmatch(r"[A-Za-z0-9+/=\s_-]+", value) and len(value) >= 16:
        return Form.BASE64
    return None


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "").lower() in LOOPBACK_HOSTS


def _inline_bytes(value: str, form: Form) -> bytes | None:
    """The bytes of a data URI or raw base64 input; ``None`` when it is not valid base64."""
    payload = value
    if form is Form.DATA_URI:
        match = DATA_URI.match(value)
        if match is None or ";base64" not in match.group("params"):
            return None
        payload = match.group("data")
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def image_format(data: bytes) -> str | None:
    """``PNG``, ``JPG`` or ``WEBP`` when ``data`` is such an image Pillow can open; else ``None``."""
    try:
        with Image.open(io.BytesIO(data), formats=list(PILLOW_FORMATS)) as image:
            image.verify()
            return PILLOW_FORMATS.get(str(image.format))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def check_input(
    state: EmulatorState, parameter: str, value: Any, label: str | None = None
) -> InputError | None:
    """The synchronous verdict on one input value (``label`` names it in messages, e.g. an array item)."""
    shown = label or parameter
    if not isinstance(value, str) or not value:
        return invalid(parameter, f"{shown} {FORMS_RULE}")
    form = form_of(value)
    if form is None:
        return invalid(parameter, f"{shown} {FORMS_RULE}")
    if form is Form.UUID:
        if state.live_image(value) is None:
            return invalid(
                parameter,
                f"{shown}: no image with UUID {value} was uploaded or generated (or it has expired). {shown} "
                f"{FORMS_RULE}",
            )
        return None
    if form is Form.URL:
        if not is_loopback(value):
            host = urlsplit(value).hostname
            return invalid(
                parameter,
                f"{shown}: the emulator only downloads from loopback hosts (127.0.0.1, localhost, ::1), "
                f"not {host!r}; tests must never reach the internet.",
            )
        return None
    data = _inline_bytes(value, form)
    if data is None:
        return invalid(parameter, f"{shown} is not valid base64 data. {shown} {FORMS_RULE}")
    if image_format(data) is None:
        return invalid(parameter, f"{shown} is not a PNG, JPG or WEBP image.")
    return None


async def _download(state: EmulatorState, task_uuid: str, parameter: str, url: str) -> bytes:
    """GET an input URL (no redirects, no proxies), logging the attempt; :class:`InputError` if it fails."""
    entry = {
        "taskUUID": task_uuid,
        "parameter": parameter,
        "source": Form.URL.value,
        "target": without_query(url),
    }
    try:
        response = await state.http.get(url)
    except httpx.HTTPError as error:
        reason = f"{type(error).__name__}: {error}"
        state.record("input", **entry, status=None, bytes=0, error=reason)
        raise InputError(
            "downloadFailed",
            parameter,
            f"Failed to download the image for '{parameter}' from {without_query(url)}: {reason}",
        ) from error
    data = response.content
    state.record("input", **entry, status=response.status_code, bytes=len(data), error=None)
    if not response.is_success:
        raise InputError(
            "downloadFailed",
            parameter,
            f"Failed to download the image for '{parameter}' from {without_query(url)}: HTTP "
            f"{response.status_code}. A presigned URL may have expired.",
        )
    return data


async def _bytes_of(state: EmulatorState, task_uuid: str, parameter: str, value: str) -> bytes:
    form = form_of(value)
    if form is Form.URL:
        return await _download(state, task_uuid, parameter, value)
    if form is Form.UUID:
        stored = state.live_image(value)
        if stored is None:
            raise invalid(parameter, f"No image with UUID {value} exists any more (it has expired).")
        state.record(
            "input",
            taskUUID=task_uuid,
            parameter=parameter,
            source=form.value,
            target=value,
            status=None,
            bytes=len(stored.data),
            error=None,
        )
        return stored.data
    data = _inline_bytes(value, form) if form is not None else None
    if data is None:
        raise invalid(parameter, f"{parameter} {FORMS_RULE}")
    state.record(
        "input",
        taskUUID=task_uuid,
        parameter=parameter,
        source=form.value if form else None,
        target=None,
        status=None,
        bytes=len(data),
        error=None,
    )
    return data


async def load_input(state: EmulatorState, record: TaskRecord, parameter: str, value: str) -> LoadedInput:
    """The pixels of one input, fetched at most once per task (a task's images share its inputs)."""
    key = f"{parameter}:{value}"
    cached = record.inputs.get(key)
    if isinstance(cached, LoadedInput):
        return cached
    data = await _bytes_of(state, record.task_uuid, parameter, value)
    fmt = image_format(data)
    if fmt is None:
        raise invalid(parameter, f"The image for '{parameter}' is not a PNG, JPG or WEBP image.")
    image = Image.open(io.BytesIO(data))
    image.load()
    image_uuid = value if form_of(value) is Form.UUID else str(uuid.uuid4())
    if image_uuid != value:
        info = FORMATS[fmt]
        ttl = state.settings.default_ttl
        state.store_image(ImageRecord(image_uuid, data, info.media_type, info.extension, state.now() + ttl))
    loaded = LoadedInput(image, image_uuid)
    record.inputs[key] = loaded
    return loaded
