"""The image tools ``removeBackground`` and ``upscale``: their parameter rules and how each makes its one
output image from ``inputImage``.

Sources: https://runware.ai/docs/en/tools/remove-background and https://runware.ai/docs/en/tools/upscale
(request parameters, models, settings and their ranges, the response fields). runware-sdk 1.8.0 sends the
input as ``inputs: {"image": ...}`` (its ``RembgV14Params``/``SwinirParams`` types; the older sdk-python
calls it "inputs.image (new format)"), so that form is accepted beside the documented ``inputImage``.
Messages follow Runware's "Invalid value for '<parameter>' parameter. ..." and codes its
``invalid<Parameter>`` / ``missing<Parameter>`` convention; no page lists codes for these tools.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

from airflow_provider_runware.catalog import upscale_models
from airflow_provider_runware.catalog.background_removal_models import BACKGROUND_REMOVAL_MODELS
from airflow_provider_runware.catalog.rules import DELIVERY_METHODS, OUTPUT_TYPES, UUID_PATTERN
from airflow_provider_runware.emulator.generation import OutputParams, Produced, Production
from airflow_provider_runware.emulator.imaging import cut_out, upscale
from airflow_provider_runware.emulator.inputs import InputError, check_input, code_for, load_input
from airflow_provider_runware.emulator.render import FORMATS, encode
from airflow_provider_runware.emulator.responses import ApiError, api_error
from airflow_provider_runware.emulator.state import EmulatorState, TaskRecord
from airflow_provider_runware.emulator.submission import TaskKind

TOOLS_DOCS = "https://runware.ai/docs/en/tools"
REMBG_1_4 = "runware:109@1"
SWINIR = "runware:503@1"

# The models are the provider's catalogue (read from the same pages). SwinIR is not in the upscale page's
# "image inference parameter compatibility" table (and runware-sdk 1.8.0's SwinirParams has no settings
# field), so it takes no settings at all: only the models with some are listed here.
UPSCALE_SETTINGS = {model: names for model, names in upscale_models.UPSCALE_SETTINGS.items() if names}
# Prices: the remove-background page's example reports cost "0006" (read as $0.0006); the upscale
# page's example reports 0, so a nominal $0.002 keeps cost reporting visible.
REMOVE_BACKGROUND_PRICE = 0.0006
UPSCALE_PRICE = 0.002


@dataclass(frozen=True)
class Problem:
    """One broken rule of a tool task, before it becomes an error item."""

    code: str
    parameter: str
    message: str


def _invalid(parameter: str, reason: str) -> Problem:
    return Problem(
        code_for("invalid", parameter.split(".")[0]),
        parameter,
        f"Invalid value for '{parameter}' parameter. {reason}",
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def input_image_of(task: Mapping[str, Any]) -> tuple[str, Any]:
    """The parameter the input came in and its value: ``inputImage``, or ``inputs.image``."""
    inputs = task.get("inputs")
    if "inputImage" not in task and isinstance(inputs, Mapping) and "image" in inputs:
        return "inputs.image", inputs["image"]
    return "inputImage", task.get("inputImage")


def _input_problems(state: EmulatorState, task: Mapping[str, Any]) -> Iterable[Problem]:
    parameter, value = input_image_of(task)
    if value is None:
        yield Problem(
            "missingInputImage",
            "inputImage",
            "Missing 'inputImage' parameter. The image to process is required.",
        )
        return
    problem: InputError | None = check_input(state, parameter, value)
    if problem is not None:
        yield Problem(code_for("invalid", "inputImage"), parameter, problem.message)


def _model_problems(task: Mapping[str, Any], models: Mapping[str, str]) -> Iterable[Problem]:
    if "model" not in task:
        yield Problem("missingModel", "model", "Missing 'model' parameter. An AIR id is required.")
    elif task["model"] not in models:
        choices = ", ".join(f"{air} ({name})" for air, name in models.items())
        yield _invalid("model", f"model={task['model']!r}: must be one of {choices}.")


def _output_problems(task: Mapping[str, Any]) -> Iterable[Problem]:
    """The output and delivery parameters both tool pages document identically."""
    if "outputType" in task and task["outputType"] not in OUTPUT_TYPES:
        yield _invalid("outputType", f"Must be one of {', '.join(OUTPUT_TYPES)}.")
    output_format = task.get("outputFormat", "PNG")
    if not isinstance(output_format, str) or output_format.upper() not in FORMATS:
        yield _invalid("outputFormat", "Must be one of JPG, PNG, WEBP.")
    quality = task.get("outputQuality", 95)
    if not _is_int(quality) or not 20 <= quality <= 99:
        yield _invalid("outputQuality", "Must be an integer between 20 and 99.")
    if "includeCost" in task and not isinstance(task["includeCost"], bool):
        yield _invalid("includeCost", "Must be a boolean.")
    ttl = task.get("ttl", 60)
    if not _is_int(ttl) or ttl < 60:
        yield _invalid("ttl", "Must be an integer of at least 60 (seconds).")
    if "deliveryMethod" in task and task["deliveryMethod"] not in DELIVERY_METHODS:
        yield _invalid("deliveryMethod", f"Must be one of {', '.join(DELIVERY_METHODS)}.")
    for name in ("webhookURL", "uploadEndpoint"):
        if name in task and not (
            isinstance(task[name], str) and re.match(r"^https?://[^\s/?#]+", task[name])
        ):
            yield _invalid(name, "Must be an http(s) URL.")


def _settings_of(task: Mapping[str, Any]) -> Iterable[Problem] | Mapping[str, Any]:
    settings = task["settings"]
    if not isinstance(settings, Mapping):
        return [_invalid("settings", "Must be an object.")]
    return settings


def _rgba_problem(value: Any) -> Problem | None:
    ok = (
        isinstance(value, list)
        and len(value) == 4
        and all(_is_int(channel) and 0 <= channel <= 255 for channel in value[:3])
        and _is_number(value[3])
        and 0 <= value[3] <= 1
    )
    return (
        None
        if ok
        else _invalid(
            "settings.rgba", "Must be [red, green, blue, alpha]: integers 0..255 and an alpha 0..1."
        )
    )


def _background_settings(task: Mapping[str, Any]) -> Iterable[Problem]:
    """remove-background page, section settings: "Currently only RemBG 1.4 model (runware:109@1) supports
    the settings object", with the ranges of its seven properties."""
    if "settings" not in task:
        return
    if task.get("model") != REMBG_1_4:
        yield _invalid(
            "settings", f"Only RemBG 1.4 ({REMBG_1_4}) supports settings, not {task.get('model')}."
        )
        return
    settings = _settings_of(task)
    if not isinstance(settings, Mapping):
        yield from settings
        return
    if "rgba" in settings:
        problem = _rgba_problem(settings["rgba"])
        if problem is not None:
            yield problem
    for name in ("postProcessMask", "returnOnlyMask", "alphaMatting"):
        if name in settings and not isinstance(settings[name], bool):
            yield _invalid(f"settings.{name}", "Must be a boolean.")
    for name in (
        "alphaMattingForegroundThreshold",
        "alphaMattingBackgroundThreshold",
        "alphaMattingErodeSize",
    ):
        if name in settings and not (_is_int(settings[name]) and 1 <= settings[name] <= 255):
            yield _invalid(f"settings.{name}", "Must be an integer between 1 and 255.")


def _in_range(low: float, high: float | None, integer: bool = False) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        typed = _is_int(value) if integer else _is_number(value)
        return typed and low <= value and (high is None or value <= high)

    return check


def _prompt(value: Any) -> bool:
    return isinstance(value, str) and 2 <= len(value) <= 3000


# The image-inference reference's ranges for the parameters the upscale settings share with it.
UPSCALE_SETTING_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "positivePrompt": (_prompt, "a string of 2..3000 characters"),
    "negativePrompt": (_prompt, "a string of 2..3000 characters"),
    "strength": (_in_range(0, 1), "a number between 0 and 1"),
    "controlNetWeight": (_in_range(0, 1), "a number between 0 and 1"),
    "steps": (_in_range(1, 100, integer=True), "an integer between 1 and 100"),
    "scheduler": (lambda value: isinstance(value, str) and bool(value), "a scheduler name"),
    "seed": (_in_range(1, None, integer=True), "an integer of at least 1"),
    "CFGScale": (_in_range(0, 50), "a number between 0 and 50"),
    "clipSkip": (_in_range(0, 2, integer=True), "an integer between 0 and 2"),
}


def _upscale_factor(task: Mapping[str, Any]) -> Iterable[Problem]:
    """upscale page: "upscaleFactor 2 | 4 required ... Only SwinIR model supports 4x upscaling"."""
    if "upscaleFactor" not in task:
        yield Problem(
            "missingUpscaleFactor", "upscaleFactor", "Missing 'upscaleFactor' parameter. Must be 2 or 4."
        )
        return
    factor = task["upscaleFactor"]
    if not _is_int(factor) or factor not in (2, 4):
        yield _invalid("upscaleFactor", f"upscaleFactor={factor!r}: must be 2 or 4.")
    elif factor == 4 and task.get("model") != SWINIR:
        yield _invalid(
            "upscaleFactor", f"Only SwinIR ({SWINIR}) supports 4x upscaling, not {task.get('model')}."
        )


def _upscale_settings(task: Mapping[str, Any]) -> Iterable[Problem]:
    if "settings" not in task:
        return
    model = task.get("model")
    accepted = UPSCALE_SETTINGS.get(model) if isinstance(model, str) else None
    if accepted is None:
        yield _invalid(
            "settings", f"Model {model} takes no settings (only Clarity, CCSR and SD Latent Upscaler do)."
        )
        return
    settings = _settings_of(task)
    if not isinstance(settings, Mapping):
        yield from settings
        return
    for name, value in settings.items():
        rule = UPSCALE_SETTING_RULES.get(name)
        if rule is None:
            continue  # unknown settings pass: a new API feature must not be refused by an old emulator
        if name not in accepted:
            yield _invalid(f"settings.{name}", f"Model {model} does not support {name}.")
        elif not rule[0](value):
            yield _invalid(f"settings.{name}", f"{name}={value!r}: must be {rule[1]}.")


@dataclass(frozen=True)
class Tool:
    """One image tool: its page, models, default output format, price, own rules and transformation."""

    task_type: str
    page: str
    models: Mapping[str, str]
    default_format: str
    price: float
    own_rules: Callable[[Mapping[str, Any]], Iterable[Problem]]
    transform: Callable[[Image.Image, Mapping[str, Any]], Image.Image]

    def docs(self, parameter: str) -> str:
        anchor = parameter.lower().replace(".", "-")
        return f"{TOOLS_DOCS}/{self.page}#request-{anchor}"

    def refuse(self, state: EmulatorState, task: Mapping[str, Any]) -> list[ApiError]:
        task_uuid = task.get("taskUUID")
        problems: list[Problem] = []
        if not (isinstance(task_uuid, str) and UUID_PATTERN.match(task_uuid)):
            problems.append(_invalid("taskUUID", f"taskUUID={task_uuid!r}: must be a UUID v4."))
        problems += [*_input_problems(state, task), *_model_problems(task, self.models)]
        problems += [*_output_problems(task), *self.own_rules(task)]
        return [
            api_error(
                400,
                problem.code,
                problem.message,
                parameter=problem.parameter,
                task_type=self.task_type,
                task_uuid=task_uuid,
                documentation=self.docs(problem.parameter),
            )
            for problem in problems
        ]

    async def produce(
        self, state: EmulatorState, record: TaskRecord, index: int, params: OutputParams
    ) -> Produced:
        """Fetch the input (once per task), transform it, encode it; report ``inputImageUUID``."""
        parameter, value = input_image_of(record.request)
        loaded = await load_input(state, record, parameter, value)
        data = await asyncio.to_thread(self._render, loaded.image, record.request, params)
        return Produced(data, self.price, lead={"inputImageUUID": loaded.image_uuid})

    def _render(self, image: Image.Image, request: Mapping[str, Any], params: OutputParams) -> bytes:
        return encode(self.transform(image, request), params.output_format, params.quality)

    def kind(self) -> TaskKind:
        return TaskKind(
            task_type=self.task_type,
            production=Production(default_format=self.default_format, produce=self.produce),
            refuse=self.refuse,
            estimate=lambda _task: self.price,
            docs=self.docs,
            expected=lambda _task: 1,
        )


def _remove_background(image: Image.Image, request: Mapping[str, Any]) -> Image.Image:
    return cut_out(image, request.get("settings") or {})


def _upscale(image: Image.Image, request: Mapping[str, Any]) -> Image.Image:
    return upscale(image, int(request["upscaleFactor"]))


REMOVE_BACKGROUND = Tool(
    task_type="removeBackground",
    page="remove-background",
    models=BACKGROUND_REMOVAL_MODELS,
    default_format="PNG",
    price=REMOVE_BACKGROUND_PRICE,
    own_rules=_background_settings,
    transform=_remove_background,
).kind()
UPSCALE = Tool(
    task_type="upscale",
    page="upscale",
    models=upscale_models.UPSCALE_MODELS,
    default_format="JPG",
    price=UPSCALE_PRICE,
    own_rules=lambda task: [*_upscale_factor(task), *_upscale_settings(task)],
    transform=_upscale,
).kind()
