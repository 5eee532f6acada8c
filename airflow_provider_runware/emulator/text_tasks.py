"""imageCaption and promptEnhance: tasks whose results are text (``text``, and ``cost`` with
``includeCost``), answered synchronously by default like Runware's utilities, or acknowledged and
polled with ``deliveryMethod: "async"``.

Both are deterministic, so tests can compare answers across runs:

- a caption describes the input image by what can be measured: its size, its dominant colour, and three
  words picked by a hash of its pixels (the same image always gets the same caption);
- promptEnhance returns ``promptVersions`` distinct versions of the prompt, each the prompt (shortened
  at a word if need be) followed by style words picked by a hash of the prompt, the taskUUID and the
  version number (a language model samples anew for every task, so two tasks of one prompt differ),
  at most ``promptMaxLength`` characters long. Runware counts that limit in tokens; a token is at least
  one character, so a version within the limit in characters is within it in tokens too.

Validation goes through the client's own rule functions (:mod:`airflow_provider_runware.tasks`).
The pages report ``cost: 0`` in their examples: that is what the emulator charges.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from PIL import Image, ImageStat

from airflow_provider_runware.catalog import caption_models, prompt_enhance_models
from airflow_provider_runware.catalog.rules import Violation
from airflow_provider_runware.emulator.generation import OutputParams, Produced, Production
from airflow_provider_runware.emulator.inputs import check_input, input_refusal, load_input
from airflow_provider_runware.emulator.responses import ApiError, violation_error
from airflow_provider_runware.emulator.state import EmulatorState, TaskRecord
from airflow_provider_runware.emulator.submission import TaskKind
from airflow_provider_runware.tasks.image_caption import caption_inputs_of, validate_image_caption
from airflow_provider_runware.tasks.prompt_enhance import prompt_versions_of, validate_prompt_enhance

CAPTION_PRICE = 0.0
PROMPT_ENHANCE_PRICE = 0.0
CAPTION_WORDS = (
    "quiet",
    "bright",
    "misty",
    "bold",
    "calm",
    "vivid",
    "soft",
    "sharp",
    "warm",
    "cool",
    "grainy",
    "glossy",
    "rustic",
    "modern",
    "playful",
    "solemn",
    "airy",
    "dense",
    "dreamy",
    "crisp",
    "hazy",
    "lush",
    "stark",
    "gentle",
)
STYLE_WORDS = (
    "cinematic",
    "detailed",
    "volumetric",
    "golden",
    "moody",
    "pastel",
    "ethereal",
    "studio",
    "vibrant",
    "minimal",
    "dramatic",
    "painterly",
    "surreal",
    "glowing",
    "rainy",
    "sunlit",
    "foggy",
    "neon",
    "vintage",
    "macro",
    "aerial",
    "soft",
    "textured",
    "serene",
    "dynamic",
    "elegant",
    "gritty",
    "whimsical",
    "luminous",
    "crisp",
)
NAMED_COLOURS = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "grey": (128, 128, 128),
    "red": (220, 40, 40),
    "orange": (240, 140, 30),
    "yellow": (235, 220, 50),
    "green": (40, 170, 60),
    "teal": (30, 150, 150),
    "blue": (40, 80, 210),
    "purple": (130, 60, 180),
    "pink": (230, 120, 180),
    "brown": (120, 80, 40),
}


def _errors(
    task_type: str, docs: str, task: Mapping[str, Any], violations: Iterable[Violation]
) -> list[ApiError]:
    return [
        violation_error(
            violation,
            task_type=task_type,
            task_uuid=task.get("taskUUID"),
            documentation=f"{docs}#request-{violation.parameter.split('[')[0].lower()}",
        )
        for violation in violations
    ]


def colour_name(rgb: tuple[int, ...]) -> str:
    """The nearest of a dozen plain colour names."""

    def distance(name: str) -> int:
        return sum((a - b) ** 2 for a, b in zip(NAMED_COLOURS[name], rgb, strict=False))

    return min(NAMED_COLOURS, key=distance)


def describe(image: Image.Image) -> str:
    """A caption from what the image is: its size, dominant colour and a stable hash of its pixels."""
    rgb = image.convert("RGB")
    # The most frequent colour of a 16x16 thumbnail quantised to 32 levels a channel.
    raw = rgb.resize((16, 16)).tobytes()
    thumbnail = [tuple(channel // 8 * 8 for channel in raw[i : i + 3]) for i in range(0, len(raw), 3)]
    dominant: tuple[int, ...] = Counter(thumbnail).most_common(1)[0][0]
    mean = tuple(int(value) for value in ImageStat.Stat(rgb).mean)
    digest = hashlib.sha256(rgb.tobytes()).digest()
    words = [CAPTION_WORDS[byte % len(CAPTION_WORDS)] for byte in digest[:3]]
    hex_colour = "#{:02x}{:02x}{:02x}".format(*dominant)
    return (
        f"a {words[0]}, {words[1]} {rgb.width}x{rgb.height} picture dominated by "
        f"{colour_name(dominant)} ({hex_colour}), mostly {colour_name(mean)} overall, {words[2]} mood"
    )


def _caption_refuse(task_type: str) -> Callable[[EmulatorState, Mapping[str, Any]], list[ApiError]]:
    def refuse(state: EmulatorState, task: Mapping[str, Any]) -> list[ApiError]:
        errors = _errors(task_type, caption_models.DOCS, task, validate_image_caption(task))
        if errors:
            return errors
        for parameter, value in caption_inputs_of(task):
            problem = check_input(state, "inputImage", value, label=parameter)
            if problem is not None:
                documentation = f"{caption_models.DOCS}#request-inputimage"
                errors.append(
                    input_refusal(
                        problem,
                        parameter,
                        task_type=task_type,
                        task_uuid=task.get("taskUUID"),
                        documentation=documentation,
                    )
                )
        return errors

    return refuse


async def _caption(state: EmulatorState, record: TaskRecord, index: int, params: OutputParams) -> Produced:
    parameter, value = caption_inputs_of(record.request)[0]
    loaded = await load_input(state, record, parameter.split("[")[0], value)
    text = await asyncio.to_thread(describe, loaded.image)
    return Produced(None, CAPTION_PRICE, lead={"text": text})


def enhanced_versions(prompt: str, limit: int, versions: int, task_uuid: str) -> list[str]:
    """``versions`` distinct enhanced prompts of at most ``limit`` characters each, for one task."""
    result: list[str] = []
    used: set[str] = set()
    for version in range(versions):
        digest = hashlib.sha256(f"{prompt}\x00{task_uuid}\x00{version}".encode()).digest()
        # Each version starts its style words with one no other version starts with.
        first = next(
            word
            for step in range(len(STYLE_WORDS))
            for word in [STYLE_WORDS[(digest[0] + step) % len(STYLE_WORDS)]]
            if word not in used
        )
        used.add(first)
        base = _shorten(prompt, limit - len(", " + first))
        text = f"{base}, {first}" if base else first[:limit]
        for byte in digest[1:]:
            word = STYLE_WORDS[byte % len(STYLE_WORDS)]
            if word not in text.split(", ") and len(text) + 2 + len(word) <= limit:
                text = f"{text}, {word}"
        if text in result:  # a prompt made of style words could still coincide: number it
            text = f"{version + 1}. {text}"[:limit]
        result.append(text)
    return result


def _shorten(text: str, room: int) -> str:
    """``text`` cut at a word boundary to at most ``room`` characters (maybe empty)."""
    if room <= 0:
        return ""
    if len(text) <= room:
        return text
    cut = text[:room].rsplit(" ", 1)[0].rstrip(" ,")
    return cut if cut else text[:room]


def _prompt_refuse(state: EmulatorState, task: Mapping[str, Any]) -> list[ApiError]:
    return _errors("promptEnhance", prompt_enhance_models.DOCS, task, validate_prompt_enhance(task))


async def _enhance(state: EmulatorState, record: TaskRecord, index: int, params: OutputParams) -> Produced:
    request = record.request
    limit = int(request["promptMaxLength"])
    versions = enhanced_versions(str(request["prompt"]), limit, record.expected, record.task_uuid)
    return Produced(None, PROMPT_ENHANCE_PRICE, lead={"text": versions[index]})


def _caption_kind(task_type: str) -> TaskKind:
    return TaskKind(
        task_type=task_type,
        production=Production(default_format="", produce=_caption, media=None),
        refuse=_caption_refuse(task_type),
        estimate=lambda _task: CAPTION_PRICE,
        docs=lambda parameter: f"{caption_models.DOCS}#request-{parameter.lower()}",
        expected=lambda _task: 1,
    )


IMAGE_CAPTION = _caption_kind("imageCaption")
# runware-sdk 1.8.0 sends captions as taskType "caption" (its generated types, Runware's newer schemas).
CAPTION = _caption_kind("caption")
PROMPT_ENHANCE = TaskKind(
    task_type="promptEnhance",
    production=Production(default_format="", produce=_enhance, media=None),
    refuse=_prompt_refuse,
    estimate=lambda _task: PROMPT_ENHANCE_PRICE,
    docs=lambda parameter: f"{prompt_enhance_models.DOCS}#request-{parameter.lower()}",
    expected=prompt_versions_of,
)
