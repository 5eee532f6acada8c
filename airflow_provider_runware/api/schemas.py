"""Pydantic wire types for Runware's REST API.

Python names are snake_case; Runware's camelCase names are aliases, so ``model_dump(by_alias=True)``
is exactly what goes on the wire. Request types are strict (a bool is not an int, a float is not an
int) because Runware's are; response types are lenient and keep unknown fields, because the API grows.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from airflow_provider_runware.catalog.rules import normalize_output_format, raise_for_violations
from airflow_provider_runware.exceptions import (
    ErrorCategory,
    RunwareError,
    RunwareFatalError,
    RunwareModelDeactivatedError,
    RunwareValidationError,
    class_for_code,
    error_class_for,
)
from airflow_provider_runware.tasks.base import ResultKind
from airflow_provider_runware.tasks.image_inference import validate_image_inference

URL_IN_TEXT = re.compile(r"https?://[^\s\"'<>]+")
TERMINAL_SUCCESS = "success"
TERMINAL_ERROR = "error"
BULKY_OUTPUT_FIELDS = ("imageBase64Data", "imageDataURI", "videoBase64Data", "videoDataURI")


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class SafetySettings(_Wire):
    model_config = ConfigDict(populate_by_name=True, extra="allow", strict=True)

    check_content: bool | None = Field(default=None, alias="checkContent")
    # Which modes a model accepts is the catalog's call (DALL·E 2: none, fast); others may know more.
    mode: str | None = None


class ImageInferenceRequest(_Wire):
    """One ``imageInference`` task. Unknown extra parameters pass through untouched."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", strict=True)

    task_type: Literal["imageInference"] = Field(default="imageInference", alias="taskType")
    task_uuid: str = Field(alias="taskUUID")
    model: str
    positive_prompt: str = Field(alias="positivePrompt")
    width: int
    height: int
    output_type: Literal["URL", "base64Data", "dataURI"] | None = Field(default=None, alias="outputType")
    output_format: str | None = Field(default=None, alias="outputFormat")
    output_quality: int | None = Field(default=None, alias="outputQuality")
    number_results: int | None = Field(default=None, alias="numberResults")
    delivery_method: Literal["sync", "async"] | None = Field(default=None, alias="deliveryMethod")
    webhook_url: str | None = Field(default=None, alias="webhookURL")
    upload_endpoint: str | None = Field(default=None, alias="uploadEndpoint")
    safety: SafetySettings | None = None
    ttl: int | None = None
    include_cost: bool | None = Field(default=None, alias="includeCost")

    @field_validator("output_format")
    @classmethod
    def _canonical_format(cls, value: str | None) -> str | None:
        """Runware reads ``jpg`` as ``JPG``; sending the canonical spelling keeps fingerprints stable."""
        return normalize_output_format(value)

    @classmethod
    def from_wire(cls, task: Mapping[str, Any]) -> ImageInferenceRequest:
        """Validate against the model catalog first, so errors name parameter, value and rule."""
        raise_for_violations(validate_image_inference(task), task_uuid=task.get("taskUUID"))
        try:
            return cls.model_validate(dict(task))
        except ValidationError as exc:
            first = exc.errors()[0]
            parameter = ".".join(str(part) for part in first["loc"])
            raise RunwareValidationError(
                f"{parameter}={first.get('input')!r} is invalid: {first['msg']}",
                code="invalidParameter",
                parameter=parameter,
            ) from exc

    @property
    def expected_results(self) -> int:
        return self.number_results or 1


class TaskResult(_Wire):
    """One finished result, as a task's POST answer or ``getResponse`` reports it: an image
    (``imageInference``, ``removeBackground``, ``upscale``), a video (``videoInference``) or a text
    (``imageCaption``, ``promptEnhance``). Items still ``processing`` and acknowledgements carry none of
    the result fields, so they are not results (:attr:`key` is ``None``)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    task_type: str | None = Field(default=None, alias="taskType")
    task_uuid: str = Field(alias="taskUUID")
    image_uuid: str | None = Field(default=None, alias="imageUUID")
    image_url: str | None = Field(default=None, alias="imageURL")
    image_base64_data: str | None = Field(default=None, alias="imageBase64Data")
    image_data_uri: str | None = Field(default=None, alias="imageDataURI")
    video_uuid: str | None = Field(default=None, alias="videoUUID")
    video_url: str | None = Field(default=None, alias="videoURL")
    # The older SDK's ``IVideo`` names a video ``mediaUUID``/``mediaURL``.
    media_uuid: str | None = Field(default=None, alias="mediaUUID")
    media_url: str | None = Field(default=None, alias="mediaURL")
    text: str | None = None
    # The age-detection caption models answer with ``structuredData`` ({ageGroup, confidence}).
    structured_data: dict[str, Any] | None = Field(default=None, alias="structuredData")
    seed: int | None = None
    nsfw_content: bool | None = Field(default=None, alias="NSFWContent")
    cost: float | None = None
    status: str | None = None

    @property
    def kind(self) -> ResultKind | None:
        if self.status not in (None, TERMINAL_SUCCESS):
            return None
        if self.image_uuid is not None:
            return ResultKind.IMAGE
        if self.video_uuid is not None or self.media_uuid is not None:
            return ResultKind.VIDEO
        if self.text is not None or self.structured_data is not None:
            return ResultKind.TEXT
        return None

    @property
    def key(self) -> str | None:
        """What tells two results of one task apart across polls (each poll repeats them): the
        image's or video's UUID, or for a text (which has no UUID) a digest of the text itself."""
        kind = self.kind
        if kind is ResultKind.IMAGE:
            return self.image_uuid
        if kind is ResultKind.VIDEO:
            return self.video_uuid or self.media_uuid
        if kind is ResultKind.TEXT:
            content = json.dumps([self.text, self.structured_data], sort_keys=True)
            return "text:" + hashlib.sha256(content.encode()).hexdigest()[:16]
        return None


def flatten_error(item: Mapping[str, Any]) -> dict[str, Any]:
    """One task failure in the flat form, whichever of Runware's two shapes it came in.

    Flat: ``{"code", "message", "parameter", "taskUUID", ...}`` (the ``errors`` array). Nested, as
    runware-sdk 1.8.0 reads getResponse items: ``{"taskUUID", "taskType", "status": "error",
    "error": {"code", "message", ...}}``. Every field is kept; the item's own taskUUID wins, as in
    the SDK, because the nested object may omit it.
    """
    nested = item.get("error")
    if not isinstance(nested, Mapping):
        return dict(item)
    outer = {key: value for key, value in item.items() if key != "error"}
    flat = {**outer, **nested}
    for key in ("taskUUID", "taskType", "status"):
        if outer.get(key) is not None:
            flat[key] = outer[key]
    return flat


def is_error_item(item: Mapping[str, Any]) -> bool:
    """A ``data`` item that reports a failure rather than an image (status ``error``, or nested)."""
    return item.get("status") == TERMINAL_ERROR or isinstance(item.get("error"), Mapping)


class ApiErrorItem(_Wire):
    """One entry of Runware's ``errors`` array; ``parameter`` is sometimes a list (cross-field rules).

    ``retired_model`` is the provider's own note (never on the wire): the catalog marks the model of
    the failed task as retired, so whatever code Runware chose, the error is "migrate", not "retry".
    """

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    code: str | None = None
    message: str = "Runware reported an error"
    parameter: str | list[str] | None = None
    task_type: str | None = Field(default=None, alias="taskType")
    task_uuid: str | None = Field(default=None, alias="taskUUID")
    documentation: str | None = None
    status: str | None = None
    context: dict[str, Any] | None = None
    retired_model: str | None = Field(default=None, exclude=True)

    @field_validator("message")
    @classmethod
    def _without_url_secrets(cls, message: str) -> str:
        """Runware may quote an input's or upload's URL back (say, one it could not fetch): those
        are presigned, so only their scheme, host and path survive into exceptions, ledgers and logs
        (the triggerer's masker never saw the worker's URLs)."""
        from airflow_provider_runware.storage.base import strip_secrets

        return URL_IN_TEXT.sub(lambda match: strip_secrets(match.group(0)), message)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ApiErrorItem:
        """Parse a failure in either of Runware's shapes (see :func:`flatten_error`)."""
        return cls.model_validate(flatten_error(item))

    @property
    def context_task_uuid(self) -> str | None:
        value = (self.context or {}).get("taskUUID")
        return value if isinstance(value, str) and value else None

    def error_class(self, http_status: int | None = None) -> type[RunwareError]:
        if self.retired_model is not None:
            return RunwareModelDeactivatedError
        return error_class_for(self.code, http_status)

    def to_exception(self, http_status: int | None = None) -> RunwareError:
        error_class = self.error_class(http_status)
        return error_class(
            self.message,
            code=self.code,
            parameter=self.parameter,
            task_uuid=self.task_uuid,
            documentation=self.documentation,
            http_status=http_status,
        )


class ApiResponse(BaseModel):
    """A parsed response body: ``data`` and ``errors`` may both be present (errors are per task)."""

    data: list[dict[str, Any]] = Field(default_factory=list)
    errors: list[ApiErrorItem] = Field(default_factory=list)
    status_code: int = 200

    @classmethod
    def parse(cls, body: bytes | str, status_code: int) -> ApiResponse:
        """Parse a body; raises ``ValueError`` for anything that is not a Runware envelope."""
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("response body is not a JSON object")
        errors = payload.get("errors") or []
        if isinstance(payload.get("error"), dict):
            # Older servers (and pre-stream HTTP errors): one error beside the task's own fields.
            envelope = {key: payload[key] for key in ("taskUUID", "taskType") if key in payload}
            errors = [*errors, {**envelope, "error": payload["error"]}]
        data = payload.get("data") or []
        if not isinstance(data, list) or not isinstance(errors, list):
            raise ValueError("response 'data'/'errors' are not arrays")
        return cls(data=data, errors=[ApiErrorItem.from_item(e) for e in errors], status_code=status_code)

    def for_tasks(self, index: Mapping[str, ApiResponse], task_uuids: Iterable[str]) -> ApiResponse:
        """The part of this answer about ``task_uuids``, from an index made by :meth:`by_task`."""
        parts = [index[uuid] for uuid in task_uuids if uuid in index]
        return ApiResponse(
            data=[item for part in parts for item in part.data],
            errors=[error for part in parts for error in part.errors],
            status_code=self.status_code,
        )

    def by_task(self) -> dict[str, ApiResponse]:
        """Items and errors grouped by taskUUID, so a thousand waiting triggers each read their own
        share of one poll instead of scanning all of it (errors naming no task concern no task)."""
        index: dict[str, ApiResponse] = {}
        for item in self.data:
            index.setdefault(str(item.get("taskUUID", "")), ApiResponse()).data.append(item)
        for error in self.errors:
            if error.task_uuid:
                index.setdefault(error.task_uuid, ApiResponse()).errors.append(error)
        return index


def _ends_task(error: ApiErrorItem) -> bool:
    return issubclass(error.error_class(), RunwareFatalError)


# Categories that describe the request or the account, never one task's generation.
_ABOUT_THE_REQUEST = frozenset({ErrorCategory.TRANSIENT, ErrorCategory.AUTHENTICATION, ErrorCategory.PAYMENT})


def _answers_for_task(error: ApiErrorItem) -> bool:
    """Is this Runware's answer about the task itself (its generation failed, was refused or is
    unknown), rather than about the request that asked? Only the former may mark an image failed:
    a rate-limit or server error that happens to name a taskUUID says nothing about the image, and
    recording it as a failed generation would make a retry pay for the image again."""
    if error.status == TERMINAL_ERROR:
        return True
    error_class = class_for_code(error.code)
    return error_class is not None and error_class.category not in _ABOUT_THE_REQUEST


class PollState:
    """What is known about a set of task UUIDs; every poll is merged in as cumulative state.

    Kept out of the garbage collector's way, because a triggerer may hold 10,000 waiting images and
    a full collection scans every object it tracks (and comes sooner the more long-lived objects are
    made): ``expected`` (task UUID to images expected), the pending UUIDs and the result counts are
    dicts of strings and ints, and the results are one dict from (task UUID, :attr:`TaskResult.key`)
    to the result item as Runware sent it (a flat dict). CPython tracks none of the per-task objects
    (a dict holding dicts would be tracked, hence no dict per task), so a state costs the collector a
    few objects however many tasks it holds. :class:`TaskResult` models are built when the results
    are read, at the end of a wait; errors (rare) are kept as models."""

    __slots__ = ("_errors", "_pending", "_result_counts", "_results", "expected")

    def __init__(self, expected: Mapping[str, int] | None = None) -> None:
        self.expected: dict[str, int] = dict(expected or {})
        # A task expecting no images is done from the start (as it always was).
        self._pending: dict[str, None] = {task_uuid: None for task_uuid, n in self.expected.items() if n > 0}
        self._results: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._result_counts: dict[str, int] = {}
        self._errors: dict[str, list[ApiErrorItem]] = {}

    @classmethod
    def expecting(cls, expected: Mapping[str, int]) -> PollState:
        return cls(expected)

    def merge(self, response: ApiResponse) -> None:
        """Fold one poll in. Images are keyed by imageUUID; errors carry no such key, so a task's
        errors are replaced by the newest poll's list when it holds at least as many (each poll is
        cumulative: the same failure shows up again, and two identical failures are still two).
        Answers about tasks this state does not hold are ignored."""
        fresh_errors: dict[str, list[ApiErrorItem]] = {}
        touched: set[str] = set()
        for item in response.data:
            if is_error_item(item):
                error = ApiErrorItem.from_item(item)
                fresh_errors.setdefault(error.task_uuid or "", []).append(error)
            elif self._merge_result(item):
                touched.add(str(item["taskUUID"]))
        for error in response.errors:
            if _answers_for_task(error):
                fresh_errors.setdefault(error.task_uuid or "", []).append(error)
        for task_uuid, errors in fresh_errors.items():
            if task_uuid in self.expected and len(errors) >= len(self._errors.get(task_uuid, ())):
                self._errors[task_uuid] = errors
                touched.add(task_uuid)
        for task_uuid in touched:
            if self._task_done(task_uuid):
                self._pending.pop(task_uuid, None)

    def merged(self, response: ApiResponse) -> PollState:
        """:meth:`merge`, returning this state (handy for one-off reads of an answer)."""
        self.merge(response)
        return self

    def _merge_result(self, item: Mapping[str, Any]) -> bool:
        """Fold one result item in; False when this state does not hold its task or it is no result."""
        task_uuid = str(item.get("taskUUID", ""))
        if task_uuid not in self.expected:
            return False
        key = TaskResult.model_validate(item).key
        if key is None or (task_uuid, key) in self._results:
            return False
        self._results[task_uuid, key] = item
        self._result_counts[task_uuid] = self._result_counts.get(task_uuid, 0) + 1
        return True

    def terminal_count(self, task_uuid: str) -> int:
        """How many of ``task_uuid``'s images have ended, as results or as errors."""
        return self._result_counts.get(task_uuid, 0) + len(self._errors.get(task_uuid, ()))

    def _task_done(self, task_uuid: str) -> bool:
        """Every expected image is terminal, or an error ended the whole task.

        Generation failures count one image each; errors retrying cannot fix (not found, validation,
        auth, payment) end the task even when more images were expected.
        """
        errors = self._errors.get(task_uuid, ())
        terminal = self.terminal_count(task_uuid)
        return terminal >= self.expected[task_uuid] or any(_ends_task(error) for error in errors)

    @property
    def pending(self) -> list[str]:
        """Task UUIDs not finished yet, in the order they were expected."""
        return list(self._pending)

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def done(self) -> bool:
        return not self._pending

    @property
    def result_count(self) -> int:
        """How many results have arrived (without building them: progress logs ask every 30 s)."""
        return len(self._results)

    @property
    def error_count(self) -> int:
        return sum(len(errors) for errors in self._errors.values())

    def results(self) -> list[TaskResult]:
        """Every task's results, in the order the tasks were expected."""
        by_task: dict[str, list[Mapping[str, Any]]] = {}
        for (task_uuid, _), item in self._results.items():
            by_task.setdefault(task_uuid, []).append(item)
        return [
            TaskResult.model_validate(item)
            for task_uuid in self.expected
            for item in by_task.get(task_uuid, ())
        ]

    def errors(self) -> list[ApiErrorItem]:
        return [error for task_uuid in self.expected for error in self._errors.get(task_uuid, ())]

    def result_dicts(self) -> list[dict[str, Any]]:
        """Finished results as wire dicts, without base64 payloads: these cross process boundaries
        (trigger events, XCom), where megabytes of image or video data have no place."""
        return [
            {key: value for key, value in result.to_wire().items() if key not in BULKY_OUTPUT_FIELDS}
            for result in self.results()
        ]

    def error_dicts(self) -> list[dict[str, Any]]:
        """Failures as :meth:`RunwareError.to_dict` dicts, with Runware's details and the error class."""
        return [error.to_exception().to_dict() for error in self.errors()]
