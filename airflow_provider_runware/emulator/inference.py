"""imageInference: validation (the client's catalog plus the image inputs), retired models, pricing, and
how one image is produced (rendered from the seed, with the input images blended in).

Validation goes through the same catalog function the client uses, so the emulator can never accept
what the provider rejects (or the reverse). The image inputs (seedImage, maskImage, strength,
referenceImages) are judged here, against the emulator's own table of which models take them
(``input_support``), because the client's catalog does not describe inputs.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from PIL import Image

from airflow_provider_runware.catalog.image_models import get_model_spec
from airflow_provider_runware.catalog.rules import Violation
from airflow_provider_runware.emulator.generation import OutputParams, Produced, Production
from airflow_provider_runware.emulator.imaging import apply_inputs
from airflow_provider_runware.emulator.input_support import InputSupport, support_of
from airflow_provider_runware.emulator.inputs import (
    InputError,
    check_input,
    code_for,
    input_refusal,
    invalid,
    load_input,
)
from airflow_provider_runware.emulator.render import encode, render_picture
from airflow_provider_runware.emulator.responses import ApiError, Outcome, failure, violation_error
from airflow_provider_runware.emulator.state import EmulatorState, TaskRecord
from airflow_provider_runware.emulator.submission import TaskKind
from airflow_provider_runware.tasks.image_inference import DOCS_URL, validate_image_inference

TASK_TYPE = "imageInference"
UNKNOWN_MODEL_PRICE_USD = 0.01
MAX_SEED = 2**31 - 1
# A model whose page says the output follows the reference image may omit width/height; the catalog,
# which requires them, is shown this stand-in size (any size is accepted for the models concerned).
STAND_IN_SIZE = 1024
IMAGE_INPUTS = ("seedImage", "maskImage")


def parameter_docs(parameter: str) -> str:
    return f"{DOCS_URL}#request-{parameter.lower().replace('.', '-')}"


def validation_error(violation: Violation, task_uuid: Any) -> ApiError:
    return violation_error(
        violation, task_type=TASK_TYPE, task_uuid=task_uuid, documentation=parameter_docs(violation.parameter)
    )


def input_error(problem: InputError, task_uuid: Any) -> ApiError:
    documentation = parameter_docs(problem.parameter)
    return input_refusal(
        problem, problem.parameter, task_type=TASK_TYPE, task_uuid=task_uuid, documentation=documentation
    )


def _sizes_from_reference(task: Mapping[str, Any]) -> bool:
    model = task.get("model")
    support = support_of(model) if isinstance(model, str) else None
    return bool(
        support is not None
        and support.size_from_reference
        and task.get("referenceImages")
        and "width" not in task
        and "height" not in task
    )


def _as_validated(task: Mapping[str, Any]) -> Mapping[str, Any]:
    """The task as the catalog judges it: with a stand-in size when the model takes it from the input."""
    if _sizes_from_reference(task):
        return {**task, "width": STAND_IN_SIZE, "height": STAND_IN_SIZE}
    return task


def _unsupported(parameter: str, model: str, support: InputSupport) -> InputError:
    return invalid(
        parameter,
        f"Model {model} does not support {parameter} (see {support.source_url}).",
    )


def _strength_problem(task: Mapping[str, Any]) -> InputError | None:
    if "strength" not in task:
        return None
    value = task["strength"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return invalid("strength", f"strength={value!r}: must be a number between 0 and 1.")
    return None


def _reference_problems(
    state: EmulatorState, task: Mapping[str, Any], support: InputSupport
) -> Iterable[InputError]:
    if "referenceImages" not in task:
        return
    references, model = task["referenceImages"], task["model"]
    if support.reference_images == 0:
        yield _unsupported("referenceImages", model, support)
        return
    if not isinstance(references, list) or not references:
        yield invalid("referenceImages", "referenceImages must be a non-empty array of images.")
        return
    most = support.reference_images
    if most is not None and len(references) > most:
        yield invalid(
            "referenceImages",
            f"Model {model} accepts at most {most} reference images, got {len(references)} "
            f"(see {support.source_url}).",
        )
        return
    for index, value in enumerate(references):
        problem = check_input(state, "referenceImages", value, label=f"referenceImages[{index}]")
        if problem is not None:
            yield problem


def input_problems(state: EmulatorState, task: Mapping[str, Any]) -> list[InputError]:
    """What is wrong with the task's image inputs (empty when it has none, or they are fine)."""
    model = task.get("model")
    if not isinstance(model, str):
        return []
    support = support_of(model)
    problems: list[InputError] = []
    for parameter in IMAGE_INPUTS:
        if parameter not in task:
            continue
        allowed = support.seed_image if parameter == "seedImage" else support.mask_image
        problem = (
            check_input(state, parameter, task[parameter])
            if allowed
            else _unsupported(parameter, model, support)
        )
        if problem is not None:
            problems.append(problem)
    if "maskImage" in task and "seedImage" not in task:
        problems.append(
            InputError(
                code_for("missing", "seedImage"),
                "seedImage",
                "Missing 'seedImage' parameter. Inpainting needs the seedImage that maskImage masks.",
            )
        )
    strength = _strength_problem(task)
    if strength is not None:
        problems.append(strength)
    problems.extend(_reference_problems(state, task, support))
    return problems


def refuse(state: EmulatorState, task: Mapping[str, Any]) -> list[ApiError]:
    task_uuid = task.get("taskUUID")
    errors = [validation_error(v, task_uuid) for v in validate_image_inference(_as_validated(task))]
    return errors + [input_error(problem, task_uuid) for problem in input_problems(state, task)]


def retired(state: EmulatorState, task: Mapping[str, Any]) -> Outcome | None:
    """A retired model: past its catalog deactivation date (by the emulator's ``today``), or scripted
    with a ``deactivate_model`` fault. The answer's code and status are modes (see ``modes``)."""
    model = task["model"]
    fault = state.faults.take("deactivate_model", lambda spec: spec.get("model") == model)
    lifecycle = get_model_spec(model).lifecycle
    if fault is None and not lifecycle.retired(state.modes.current_date()):
        return None
    fault = fault or {}
    hint = f"; use {lifecycle.replacement} instead" if lifecycle.replacement else ""
    return failure(
        int(fault.get("status") or state.modes.retired_status),
        fault.get("code") or state.modes.retired_code,
        f"Model {model} has been deactivated and can no longer be used{hint}.",
        parameter="model",
        task_type=TASK_TYPE,
        task_uuid=task["taskUUID"],
        documentation=parameter_docs("model"),
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


def estimate(task: Mapping[str, Any]) -> float:
    width, height = task.get("width", STAND_IN_SIZE), task.get("height", STAND_IN_SIZE)
    return price_per_image(task["model"], width, height) * int(task.get("numberResults", 1))


def seed_for(request: Mapping[str, Any], task_uuid: str, index: int) -> int:
    """The request's seed (plus the result index), else one derived from the task: reproducible."""
    seed = request.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed + index
    digest = hashlib.sha256(f"{task_uuid}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % MAX_SEED + 1


def _check_content(request: Mapping[str, Any]) -> bool:
    safety = request.get("safety") or {}
    # The docs: checkContent "when enabled, defaults to fast mode"; an explicit mode decides.
    return safety["mode"] != "none" if "mode" in safety else safety.get("checkContent") is True


async def _inputs_of(
    state: EmulatorState, record: TaskRecord
) -> tuple[Image.Image | None, Image.Image | None]:
    """The picture to derive from (seedImage, else the first reference image) and the mask, if any."""
    request = record.request
    first: Image.Image | None = None
    if "seedImage" in request:
        first = (await load_input(state, record, "seedImage", request["seedImage"])).image
    for value in request.get("referenceImages") or []:
        loaded = await load_input(state, record, "referenceImages", value)
        first = first or loaded.image
    mask = None
    if "maskImage" in request:
        mask = (await load_input(state, record, "maskImage", request["maskImage"])).image
    return first, mask


def _render(
    request: Mapping[str, Any],
    seed: int,
    size: tuple[int, int],
    params: OutputParams,
    first: Image.Image | None,
    mask: Image.Image | None,
) -> bytes:
    picture = render_picture(seed=seed, width=size[0], height=size[1], prompt=request["positivePrompt"])
    if first is not None:
        picture = apply_inputs(picture, first, request.get("strength"), mask)
    return encode(picture, params.output_format, params.quality)


async def produce(state: EmulatorState, record: TaskRecord, index: int, params: OutputParams) -> Produced:
    """Render one image; with image inputs, the (first) input is blended in so the output shows it."""
    request = record.request
    first, mask = await _inputs_of(state, record)
    if "width" in request and "height" in request:
        size = (int(request["width"]), int(request["height"]))
    else:
        # The model's page: "Automatically matches reference image aspect ratio".
        size = first.size if first is not None else (STAND_IN_SIZE, STAND_IN_SIZE)
    seed = seed_for(request, record.task_uuid, index)
    data = await asyncio.to_thread(_render, request, seed, size, params, first, mask)
    tail: dict[str, Any] = {"seed": seed}
    if _check_content(request):
        tail["NSFWContent"] = False
    return Produced(data, price_per_image(request["model"], *size), tail=tail)


IMAGE_INFERENCE = TaskKind(
    task_type=TASK_TYPE,
    production=Production(default_format="JPG", produce=produce),
    refuse=refuse,
    estimate=estimate,
    docs=parameter_docs,
    retired=retired,
)
