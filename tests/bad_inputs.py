"""The one table of bad imageInference inputs, shared by the client and the emulator tests, and its
twin: the good inputs Runware accepts that an earlier catalog wrongly refused.

Every rule of the DALL·E 2 model page (plus the generic rules unknown models get, and a rule of each
current model) has a row: the overrides that break it, applied to a valid DALL·E 2 wire task, and what
both sides must answer: the error ``code``, the ``parameter``, and fragments the message must contain
(the value as shown, and the rule). Each row breaks exactly one rule, so ``parameter`` is a single
name. A refusal before the HTTP call is fatal, so ``GOOD_INPUTS`` holds what must never be refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

DALLE2 = "openai:2@2"
UNKNOWN_MODEL = "runware:101@1"
DALLE2_SIZES = "256x256, 512x512, 1024x1024"
GENERIC_SIZES = "128..2048 in steps of 64"
UUID_V1 = "a8098c1a-f86e-11da-bd1a-00112444be1e"
UUID_V4_UPPER = "3F2504E0-4F89-41D3-9A0C-0305E82C3301"
IMAGEN_4_FAST = "google:2@3"
IMAGEN_4_SIZES = "768x1408, 896x1280, 1024x1024, 1280x896, 1408x768"
GPT_IMAGE_2 = "openai:gpt-image@2"


class _Remove:
    """Marks a parameter the row deletes from the valid task."""

    def __repr__(self) -> str:
        return "REMOVE"


REMOVE: Any = _Remove()


def valid_task(**overrides: Any) -> dict[str, Any]:
    """A valid DALL·E 2 wire task with a fresh taskUUID; ``REMOVE`` deletes a key."""
    task: dict[str, Any] = {
        "taskType": "imageInference",
        "taskUUID": str(uuid.uuid4()),
        "model": DALLE2,
        "positivePrompt": "a lighthouse at dawn, watercolour",
        "width": 256,
        "height": 256,
    }
    return _apply(task, overrides)


def _apply(task: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        if value is REMOVE:
            task.pop(key, None)
        else:
            task[key] = value
    return task


@dataclass(frozen=True)
class BadInput:
    """One broken rule and the answer both the client and the emulator must give."""

    id: str
    overrides: Mapping[str, Any]
    code: str
    parameter: str
    shows: str
    rule: str
    hides: tuple[str, ...] = field(default_factory=tuple)
    known_gap: str | None = None

    def task(self) -> dict[str, Any]:
        return valid_task(**self.overrides)


def _row(id: str, overrides: Mapping[str, Any], code: str, parameter: str, shows: str, rule: str) -> BadInput:
    return BadInput(id, overrides, code, parameter, shows, rule)


BAD_INPUTS: tuple[BadInput, ...] = (
    # positivePrompt: string, 1..1000 characters
    _row("prompt-empty", {"positivePrompt": ""}, "invalidPositivePrompt", "positivePrompt", "''", "1..1000"),
    _row(
        "prompt-1001-chars",
        {"positivePrompt": "x" * 1001},
        "invalidPositivePrompt",
        "positivePrompt",
        "'xxxxxxxxxx",
        "1..1000",
    ),
    _row(
        "prompt-not-string", {"positivePrompt": 42}, "invalidPositivePrompt", "positivePrompt", "42", "string"
    ),
    _row(
        "prompt-missing",
        {"positivePrompt": REMOVE},
        "missingPositivePrompt",
        "positivePrompt",
        "None",
        "present",
    ),
    # width and height: required together, only 256x256 / 512x512 / 1024x1024, JSON integers
    _row("width-without-height", {"height": REMOVE}, "missingHeight", "height", "None", "required together"),
    _row("height-without-width", {"width": REMOVE}, "missingWidth", "width", "None", "required together"),
    _row("size-500x500", {"width": 500, "height": 500}, "invalidWidth", "width", "500x500", DALLE2_SIZES),
    _row(
        "size-2048x2048", {"width": 2048, "height": 2048}, "invalidWidth", "width", "2048x2048", DALLE2_SIZES
    ),
    _row("width-float", {"width": 512.0, "height": 512}, "invalidWidth", "width", "512.0", "an integer"),
    _row("width-string", {"width": "512", "height": 512}, "invalidWidth", "width", "'512'", "an integer"),
    # outputType / outputFormat: exact spelling
    _row(
        "output-type-png",
        {"outputType": "PNG"},
        "invalidOutputType",
        "outputType",
        "'PNG'",
        "URL, base64Data, dataURI",
    ),
    _row(
        "output-format-gif",
        {"outputFormat": "GIF"},
        "invalidOutputFormat",
        "outputFormat",
        "'GIF'",
        "JPG, PNG, WEBP",
    ),
    # outputQuality: integer 20..99 (a boolean is not an integer)
    _row("quality-19", {"outputQuality": 19}, "invalidOutputQuality", "outputQuality", "19", "20..99"),
    _row("quality-100", {"outputQuality": 100}, "invalidOutputQuality", "outputQuality", "100", "20..99"),
    _row("quality-true", {"outputQuality": True}, "invalidOutputQuality", "outputQuality", "True", "20..99"),
    # numberResults: integer 1..20
    _row("results-0", {"numberResults": 0}, "invalidNumberResults", "numberResults", "0", "1..20"),
    _row("results-21", {"numberResults": 21}, "invalidNumberResults", "numberResults", "21", "1..20"),
    _row("results-1.5", {"numberResults": 1.5}, "invalidNumberResults", "numberResults", "1.5", "1..20"),
    # delivery
    _row(
        "delivery-stream",
        {"deliveryMethod": "stream"},
        "invalidDeliveryMethod",
        "deliveryMethod",
        "'stream'",
        "sync, async",
    ),
    _row(
        "webhook-ftp",
        {"webhookURL": "ftp://x"},
        "invalidWebhookURL",
        "webhookURL",
        "'ftp://x'",
        "http(s) URL",
    ),
    _row(
        "upload-not-url",
        {"uploadEndpoint": "not a url"},
        "invalidUploadEndpoint",
        "uploadEndpoint",
        "'not a url'",
        "http(s) URL",
    ),
    BadInput(
        "upload-ftp-with-signature",
        {"uploadEndpoint": "ftp://bucket/key.jpg?X-Amz-Signature=s3cr3t-signature"},
        "invalidUploadEndpoint",
        "uploadEndpoint",
        "ftp://bucket/key.jpg?***",
        "http(s) URL",
        hides=("s3cr3t-signature",),
    ),
    # safety: {checkContent: bool, mode: none|fast}
    _row(
        "safety-mode-strict",
        {"safety": {"mode": "strict"}},
        "invalidSafety",
        "safety.mode",
        "'strict'",
        "none, fast",
    ),
    _row(
        "safety-check-yes",
        {"safety": {"checkContent": "yes"}},
        "invalidSafety",
        "safety.checkContent",
        "'yes'",
        "boolean",
    ),
    # ttl: integer >= 60; includeCost: boolean
    _row("ttl-59", {"ttl": 59}, "invalidTtl", "ttl", "59", "60 or more"),
    _row(
        "include-cost-string",
        {"includeCost": "true"},
        "invalidIncludeCost",
        "includeCost",
        "'true'",
        "boolean",
    ),
    # taskUUID: a UUID v4 (any letter case)
    _row("task-uuid-v1", {"taskUUID": UUID_V1}, "invalidTaskUUID", "taskUUID", UUID_V1, "UUID v4"),
    # model: an AIR id
    _row("model-not-air", {"model": "dalle2"}, "invalidModel", "model", "'dalle2'", "source:id@version"),
    # case-insensitive where Runware is, but the value must still be a known one
    _row(
        "output-format-gif-lowercase",
        {"outputFormat": "gif"},
        "invalidOutputFormat",
        "outputFormat",
        "'gif'",
        "JPG, PNG, WEBP",
    ),
    _row(
        "task-uuid-v1-uppercase",
        {"taskUUID": UUID_V1.upper()},
        "invalidTaskUUID",
        "taskUUID",
        UUID_V1.upper(),
        "UUID v4",
    ),
    _row(
        "task-uuid-no-hyphens",
        {"taskUUID": UUID_V4_UPPER.replace("-", "")},
        "invalidTaskUUID",
        "taskUUID",
        "3F2504E0",
        "UUID v4",
    ),
    # models the catalog does not know get the generic rules: only what no model accepts is refused
    _row(
        "generic-prompt-empty",
        {"model": UNKNOWN_MODEL, "positivePrompt": ""},
        "invalidPositivePrompt",
        "positivePrompt",
        "''",
        "1 or more",
    ),
    _row(
        "generic-width-0",
        {"model": UNKNOWN_MODEL, "width": 0, "height": 512},
        "invalidWidth",
        "width",
        "0x512",
        "positive integer",
    ),
    _row(
        "generic-safety-mode-number",
        {"model": UNKNOWN_MODEL, "safety": {"mode": 1}},
        "invalidSafety",
        "safety.mode",
        "1",
        "a string",
    ),
    # current models: their own pages' rules
    _row(
        "imagen-4-fast-512x512",
        {"model": IMAGEN_4_FAST, "width": 512, "height": 512},
        "invalidWidth",
        "width",
        "512x512",
        IMAGEN_4_SIZES,
    ),
    _row(
        "gpt-image-2-width-off-grid",
        {"model": GPT_IMAGE_2, "width": 1000, "height": 1024},
        "invalidWidth",
        "width",
        "1000x1024",
        "480..3840 in steps of 16",
    ),
)


def bad_input_params() -> list[Any]:
    """The table as pytest params; a row the catalog does not enforce yet is a strict xfail (so fixing
    the catalog turns it into a failure that asks for the mark to go)."""
    return [
        pytest.param(row, id=row.id, marks=[pytest.mark.xfail(strict=True, reason=row.known_gap)])
        if row.known_gap
        else pytest.param(row, id=row.id)
        for row in BAD_INPUTS
    ]


@dataclass(frozen=True)
class GoodInput:
    """An input Runware accepts that an earlier catalog refused (before any HTTP call, fatally)."""

    id: str
    overrides: Mapping[str, Any]
    why: str
    wire: Mapping[str, Any] = field(default_factory=dict)

    def task(self) -> dict[str, Any]:
        return valid_task(**self.overrides)


GOOD_INPUTS: tuple[GoodInput, ...] = (
    GoodInput(
        "output-format-lowercase",
        {"outputFormat": "jpg"},
        "Runware's own doc examples send outputFormat 'jpg'",
        wire={"outputFormat": "JPG"},
    ),
    GoodInput(
        "output-format-mixed-case",
        {"outputFormat": "Webp"},
        "outputFormat ignores case",
        {"outputFormat": "WEBP"},
    ),
    GoodInput("task-uuid-uppercase", {"taskUUID": UUID_V4_UPPER}, "a UUID v4 in any letter case"),
    GoodInput(
        "generic-prompt-1-char",
        {"model": UNKNOWN_MODEL, "positivePrompt": "a"},
        "DALL·E models accept 1 character; an unknown model may too",
    ),
    GoodInput(
        "generic-prompt-5000-chars",
        {"model": UNKNOWN_MODEL, "positivePrompt": "x" * 5000},
        "GPT Image models accept 32000 characters",
    ),
    GoodInput(
        "generic-width-100",
        {"model": UNKNOWN_MODEL, "width": 100, "height": 512},
        "no size grid is documented for every model",
    ),
    GoodInput(
        "generic-width-130-off-grid",
        {"model": UNKNOWN_MODEL, "width": 130, "height": 512},
        "the 64-pixel grid is not every model's (GPT Image 2: steps of 16)",
    ),
    GoodInput(
        "generic-4k",
        {"model": UNKNOWN_MODEL, "width": 4096, "height": 2304},
        "Seedream 4.0 documents 4K sizes up to 6048 wide",
    ),
    GoodInput(
        "generic-safety-mode-full",
        {"model": UNKNOWN_MODEL, "safety": {"mode": "full"}},
        "safety modes beyond none/fast exist (full checks every frame)",
    ),
)


def good_input_params() -> list[Any]:
    return [pytest.param(row, id=row.id) for row in GOOD_INPUTS]
