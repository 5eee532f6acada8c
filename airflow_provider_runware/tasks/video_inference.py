"""Runware's ``videoInference``: its wire rules, judged on the task as sent (shared with the emulator).

Generic rules (every model, from the video inference API reference and what every model page states
alike) and, for models :mod:`airflow_provider_runware.catalog.video_models` knows, that model's page:
sizes, durations, frame rates, frame-image positions, async-only delivery. Unknown models get only the
generic rules; unknown parameters pass through. Pure Python: imported when a DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from airflow_provider_runware.catalog.modelspec import IntRange
from airflow_provider_runware.catalog.rules import (
    AIR_ID_PATTERN,
    DELIVERY_METHODS,
    OUTPUT_TYPES,
    Violation,
    check_bool,
    check_choice,
    check_int,
    check_task_uuid,
    check_url,
    is_int,
    redact_url,
)
from airflow_provider_runware.catalog.video_models import (
    FRAME_POSITIONS,
    VIDEO_OUTPUT_FORMATS,
    VIDEO_OUTPUT_TYPES,
    VideoModelSpec,
    get_video_model_spec,
)
from airflow_provider_runware.tasks.base import (
    PLACEHOLDER_UUID,
    FileTaskArguments,
    ResultKind,
    as_reference_list,
)

TASK_TYPE = "videoInference"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def frame_images_of(task: Mapping[str, Any]) -> tuple[str, Any] | None:
    """Where the frame images came (``frameImages`` or ``inputs.frameImages``, both in Runware's docs)
    and their value; ``None`` when the task has none."""
    if "frameImages" in task:
        return "frameImages", task["frameImages"]
    inputs = task.get("inputs")
    if isinstance(inputs, Mapping) and "frameImages" in inputs:
        return "inputs.frameImages", inputs["frameImages"]
    return None


def frame_image_items(task: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """Every well-formed frame image as ``(parameter, inputImage, frame)``; ``frame`` may be ``None``."""
    found = frame_images_of(task)
    if found is None or not isinstance(found[1], list):
        return []
    parameter, items = found
    result = []
    for index, item in enumerate(items):
        if isinstance(item, Mapping):
            result.append((f"{parameter}[{index}].inputImage", item.get("inputImage"), item.get("frame")))
        elif isinstance(item, str):  # runware-sdk's IVideoInference also takes bare references
            result.append((f"{parameter}[{index}]", item, None))
    return result


def _frame_image_violations(task: Mapping[str, Any], spec: VideoModelSpec) -> Iterable[Violation]:
    found = frame_images_of(task)
    if found is None:
        return
    parameter, items = found
    if not isinstance(items, list) or not items:
        yield Violation(
            parameter,
            items,
            "a non-empty list of {inputImage, frame} objects",
            "invalidFrameImages",
        )
        return
    for index, item in enumerate(items):
        where = f"{parameter}[{index}]"
        if isinstance(item, str):
            item = {"inputImage": item}
        if not isinstance(item, Mapping):
            yield Violation(where, item, "an object {inputImage, frame}", "invalidFrameImages")
            continue
        image = item.get("inputImage")
        if not isinstance(image, str) or not image.strip():
            yield Violation(
                f"{where}.inputImage",
                redact_url(image),
                "an image reference (a URL, data URI, base64 or imageUUID)",
                "invalidFrameImages",
            )
        if "frame" not in item:
            continue
        frame = item["frame"]
        positions = spec.frame_positions
        if positions is not None:
            if frame not in positions:
                rule = f"one of {', '.join(repr(p) for p in positions)} for {spec.air_id} ({spec.name})"
                yield Violation(f"{where}.frame", frame, rule, "invalidFrameImages")
        elif not (frame in FRAME_POSITIONS or (is_int(frame) and frame >= 0)):
            yield Violation(
                f"{where}.frame",
                frame,
                "'first', 'last' or a frame index (integer >= 0)",
                "invalidFrameImages",
            )


def _generic_violations(task: Mapping[str, Any]) -> Iterable[Violation]:
    yield from check_task_uuid(task)
    model = task.get("model")
    if not isinstance(model, str) or not AIR_ID_PATTERN.match(model):
        yield Violation("model", model, "an AIR id such as google:3@1 (source:id@version)", "invalidModel")
    for name in ("positivePrompt", "negativePrompt"):
        if name in task and not (isinstance(task[name], str) and task[name].strip()):
            yield Violation(name, task[name], "a non-empty string", f"invalid{name[0].upper()}{name[1:]}")
    if "duration" in task and not (_is_number(task["duration"]) and task["duration"] > 0):
        yield Violation("duration", task["duration"], "a number of seconds above 0", "invalidDuration")
    has_width, has_height = "width" in task, "height" in task
    if has_width != has_height:
        present = "width" if has_width else "height"
        yield Violation(
            present,
            task[present],
            "given together with " + ("height" if has_width else "width"),
            f"invalid{present.capitalize()}",
        )
    yield from check_int(task, "width", IntRange(1))
    yield from check_int(task, "height", IntRange(1))
    yield from check_int(task, "fps", IntRange(1))
    yield from check_int(task, "numberResults", IntRange(1))
    yield from check_int(task, "outputQuality", IntRange(20, 99))
    yield from check_int(task, "ttl", IntRange(60))
    if "seed" in task and not (is_int(task["seed"]) and task["seed"] >= 0):
        yield Violation("seed", task["seed"], "an integer of at least 0", "invalidSeed")
    if "resolution" in task and not (isinstance(task["resolution"], str) and task["resolution"]):
        yield Violation("resolution", task["resolution"], "a resolution such as '1080p'", "invalidResolution")
    yield from check_choice(task, "outputType", OUTPUT_TYPES)
    yield from check_choice(task, "outputFormat", VIDEO_OUTPUT_FORMATS)
    yield from check_choice(task, "deliveryMethod", DELIVERY_METHODS)
    yield from check_bool(task, "includeCost")
    yield from check_url(task, "webhookURL")
    yield from check_url(task, "uploadEndpoint")
    if "inputs" in task and not isinstance(task["inputs"], Mapping):
        yield Violation("inputs", task["inputs"], "an object of inputs", "invalidInputs")


def _size_violations(task: Mapping[str, Any], spec: VideoModelSpec) -> Iterable[Violation]:
    width, height = task.get("width"), task.get("height")
    if spec.sizes is None or not (is_int(width) and is_int(height)):
        return
    if (width, height) not in spec.sizes:
        listed = ", ".join(f"{w}x{h}" for w, h in spec.sizes)
        rule = f"one of the sizes {spec.air_id} ({spec.name}) takes: {listed}"
        yield Violation("width/height", f"{width}x{height}", rule, "invalidDimensions")


def _duration_violations(task: Mapping[str, Any], spec: VideoModelSpec) -> Iterable[Violation]:
    duration = task.get("duration")
    if not _is_number(duration):
        return
    allowed = spec.durations
    size = (task.get("width"), task.get("height"))
    narrowed = spec.durations_by_size.get(size)  # type: ignore[arg-type]
    if narrowed is not None:
        allowed = narrowed
    if allowed is not None and duration not in allowed:
        seconds = ", ".join(f"{d:g}" for d in allowed)
        where = f" at {size[0]}x{size[1]}" if narrowed is not None else ""
        rule = f"one of {seconds} (seconds) for {spec.air_id} ({spec.name}){where}"
        yield Violation("duration", duration, rule, "invalidDuration")


def _model_violations(task: Mapping[str, Any], spec: VideoModelSpec) -> Iterable[Violation]:
    """What the model's own page says, beyond the generic rules."""
    model = f"{spec.air_id} ({spec.name})"
    if spec.async_only and task.get("deliveryMethod", "async") != "async":
        rule = f"'async' for {model}: video generation only runs asynchronously (poll getResponse)"
        yield Violation("deliveryMethod", task.get("deliveryMethod"), rule, "invalidDeliveryMethod")
    if task.get("outputType", "URL") not in VIDEO_OUTPUT_TYPES and task.get("outputType") in OUTPUT_TYPES:
        yield Violation("outputType", task.get("outputType"), f"'URL' for {model}", "invalidOutputType")
    yield from _size_violations(task, spec)
    yield from _duration_violations(task, spec)
    fps = task.get("fps")
    if spec.fps is not None and is_int(fps) and fps not in spec.fps:
        rule = f"one of {', '.join(map(str, spec.fps))} for {model}"
        yield Violation("fps", fps, rule, "invalidFps")
    resolution = task.get("resolution")
    if isinstance(resolution, str) and resolution:
        if spec.resolutions is not None and resolution not in spec.resolutions:
            rule = f"one of {', '.join(spec.resolutions)} for {model}"
            yield Violation("resolution", resolution, rule, "invalidResolution")
        if spec.known and ("width" in task or "height" in task):
            yield Violation(
                "resolution",
                resolution,
                "left out when width/height are given (not both)",
                "invalidResolution",
            )
    has_frames = frame_images_of(task) is not None
    has_size = "width" in task or "height" in task
    if spec.frames_or_size == "exactly_one" and has_frames == has_size:
        rule = f"exactly one of frameImages or width/height for {model}"
        yield Violation("frameImages", "given" if has_frames else None, rule, "invalidFrameImages")
    if spec.frames_or_size == "at_least_one" and not (has_frames or has_size or "resolution" in task):
        rule = f"given (or width/height, or resolution) for {model}"
        yield Violation("frameImages", None, rule, "missingFrameImages")
    if spec.needs_frame_image and not has_frames:
        rule = f"at least one frame image: {model} is image-to-video only"
        yield Violation("frameImages", None, rule, "missingFrameImages")
    prompt = task.get("positivePrompt")
    if spec.prompt_length is not None and isinstance(prompt, str):
        low, high = spec.prompt_length
        if not low <= len(prompt) <= high:
            shown = prompt if len(prompt) <= 40 else prompt[:37] + "..."
            rule = f"{low}..{high} characters for {model} (it has {len(prompt)})"
            yield Violation("positivePrompt", shown, rule, "invalidPositivePrompt")


def validate_video_inference(task: Mapping[str, Any]) -> list[Violation]:
    """Every rule a ``videoInference`` task (wire form) breaks; empty when it is acceptable."""
    violations = list(_generic_violations(task))
    model = task.get("model")
    spec = get_video_model_spec(model) if isinstance(model, str) else get_video_model_spec("")
    violations += _frame_image_violations(task, spec)
    if spec.known:
        violations += _model_violations(task, spec)
    return violations


def estimate_video_cost(task: Mapping[str, Any]) -> float | None:
    """The most ``task`` (all its ``numberResults`` videos) can cost by the documented prices; ``None``
    when the catalog has no price that covers it."""
    model = task.get("model")
    spec = get_video_model_spec(model) if isinstance(model, str) else get_video_model_spec("")
    one = spec.estimate_cost(task)
    count = task.get("numberResults", 1)
    return None if one is None else round(one * (count if is_int(count) and count > 0 else 1), 6)


def _frame_image_list(value: Any) -> Any:
    """``frame_images`` as a list of ``{"image": reference, "frame": position}``: a bare reference is
    the first frame, a list of references gives the first and then the last frame (the common case of
    image-to-video), a dict keeps its own ``frame``. Templates render to JSON, which is read back."""
    items = as_reference_list(value)
    if not isinstance(items, list):
        return items
    default_positions = ["first", "last"] if len(items) == 2 else [None] * len(items)
    if len(items) == 1:
        default_positions = ["first"]
    shaped: list[Any] = []
    for item, position in zip(items, default_positions, strict=True):
        if isinstance(item, str):
            shaped.append({"image": item, **({"frame": position} if position else {})})
        elif isinstance(item, Mapping):
            shaped.append(dict(item))
        else:
            shaped.append(item)
    return shaped


@dataclass(kw_only=True)
class VideoInferenceArguments(FileTaskArguments):
    """``videoInference``: text-to-video, or image-to-video from frame images (object URIs, URLs or
    the imageUUIDs of earlier results), sent as Runware's ``inputs.frameImages``."""

    TASK_TYPE: ClassVar[str] = TASK_TYPE
    RESULT: ClassVar[ResultKind] = ResultKind.VIDEO
    COUNT_PARAMETER: ClassVar[str | None] = "numberResults"
    PARAMETERS: ClassVar[Mapping[str, str]] = {
        "positive_prompt": "positivePrompt",
        "negative_prompt": "negativePrompt",
        "duration": "duration",
        "width": "width",
        "height": "height",
        "resolution": "resolution",
        "fps": "fps",
        "seed": "seed",
        "number_results": "numberResults",
        "frame_images": "frameImages",
        "provider_settings": "providerSettings",
    }
    IMAGE_INPUTS: ClassVar[tuple[str, ...]] = ("frame_images",)

    positive_prompt: Any = None
    negative_prompt: Any = None
    duration: Any = None
    width: Any = None
    height: Any = None
    resolution: Any = None
    fps: Any = None
    seed: Any = None
    number_results: Any = 1
    frame_images: Any = None
    provider_settings: Any = None
    output_format: Any = "MP4"

    def __post_init__(self) -> None:
        if self.frame_images is not None:
            self.frame_images = _frame_image_list(self.frame_images)

    def wire_task(self, task_uuid: str = PLACEHOLDER_UUID) -> dict[str, Any]:
        """Frame images go where Runware's current schema puts them, ``inputs.frameImages``, each as
        ``{"inputImage": reference, "frame": position}``."""
        task = super().wire_task(task_uuid)
        frames = task.pop("frameImages", None)
        if isinstance(frames, list):
            wire_frames = [
                {"inputImage": item.get("image"), **({"frame": item["frame"]} if "frame" in item else {})}
                if isinstance(item, Mapping)
                else item
                for item in frames
            ]
            inputs = task.get("inputs")
            task["inputs"] = {**(inputs if isinstance(inputs, Mapping) else {}), "frameImages": wire_frames}
        elif frames is not None:
            task["frameImages"] = frames  # malformed: left where the rules name it
        return task

    def rule_violations(self, task: Mapping[str, Any]) -> list[Violation]:
        return validate_video_inference(task)

    def image_input_references(self) -> list[tuple[str, Any]]:
        frames = self.frame_images
        if not isinstance(frames, list):
            return []
        return [
            (f"frame_images[{position}]", item.get("image") if isinstance(item, Mapping) else item)
            for position, item in enumerate(frames)
        ]

    def place_inputs(self, task: dict[str, Any], resolved: Iterator[str]) -> None:
        for item in task.get("inputs", {}).get("frameImages", []):
            item["inputImage"] = next(resolved)

    def input_displays(self) -> dict[str, Any]:
        from airflow_provider_runware.storage.base import strip_secrets

        frames = self.frame_images if isinstance(self.frame_images, list) else []
        shown = [
            {**item, "image": strip_secrets(str(item.get("image")))}
            for item in frames
            if isinstance(item, Mapping)
        ]
        return {"frame_images": shown} if shown else {}

    def estimated_cost(self, images: int) -> float | None:
        """The documented price of ``images`` videos of this duration and size (never an undershoot:
        with an audio price the audio one); ``None`` when the catalog has no price for them."""
        task = self.wire_task()
        task["numberResults"] = images
        return estimate_video_cost(task)

    def record_fields(self) -> dict[str, Any]:
        return {
            **super().record_fields(),
            "positive_prompt": self.positive_prompt,
            "duration": self.duration,
            "width": self.width,
            "height": self.height,
        }
