"""The Runware image operators: generate (``imageInference``), cut out (``removeBackground``), upscale.

Each is a thin subclass of :class:`~airflow_provider_runware.operators.base.RunwareImageTaskOperator`
that names its task type's arguments; submission, waiting, storing, cost and the never-pay-twice
ledger are the base's, the same for all three.

Image inputs (``seed_image``, ``mask_image``, ``reference_images``, ``input_image``) each take an
``s3://``, ``gs://`` or ``wasbs://`` object URI (the provider mints a short-lived presigned GET URL
through the same storage connection rules as outputs and checks the object exists before Runware is
paid), an ``https://`` URL, or the ``image_uuid`` of an image Runware produced earlier, so a DAG chains
generate -> edit without downloading anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_runware.operators.base import (
    COMMON_TEMPLATE_FIELDS,
    RunwareImageTaskOperator,
    RunwareModelLifecycleWarning,
)

if TYPE_CHECKING:
    from airflow_provider_runware.tasks.base import TaskArguments

__all__ = [
    "RunwareBackgroundRemovalOperator",
    "RunwareImageInferenceOperator",
    "RunwareImageTaskOperator",
    "RunwareModelLifecycleWarning",
    "RunwareUpscaleOperator",
]


class RunwareImageInferenceOperator(RunwareImageTaskOperator):
    """Generate images with Runware's ``imageInference`` and (optionally) store them in a bucket.

    :param positive_prompt: What to draw. Templated. (Optional with ``requests``.)
    :param width: Image width in pixels (the model's rules apply). Templated.
    :param height: Image height in pixels. Templated.
    :param number_results: How many images; each becomes its own Runware task.
    :param safety: Runware's ``safety`` object, e.g. ``{"checkContent": True, "mode": "fast"}``.
    :param seed_image: The image to transform (image-to-image, inpainting, outpainting). Templated.
    :param mask_image: Inpainting mask (with ``seed_image``). Templated.
    :param reference_images: Images that guide an editing model (e.g. Seedream 4.0 takes up to 14).
        Templated; a list, or its JSON.
    :param strength: 0-1, how far the result may move from ``seed_image``.

    The catalog says which models take which inputs: a text-to-image model (the seed DALL·E 2, Imagen 4)
    refuses them before any HTTP call. Every argument of
    :class:`~airflow_provider_runware.operators.base.RunwareImageTaskOperator` applies.
    """

    template_fields: Sequence[str] = (
        "positive_prompt",
        "width",
        "height",
        "number_results",
        "seed_image",
        "mask_image",
        "reference_images",
        *COMMON_TEMPLATE_FIELDS,
    )
    template_fields_renderers = {
        **RunwareImageTaskOperator.template_fields_renderers,
        "positive_prompt": "py",
    }

    def __init__(
        self,
        *,
        positive_prompt: str | None = None,
        model: str,
        width: int | str | None = None,
        height: int | str | None = None,
        number_results: int | str = 1,
        safety: dict[str, Any] | None = None,
        seed_image: str | None = None,
        mask_image: str | None = None,
        reference_images: list[str] | str | None = None,
        strength: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model=model, **kwargs)
        self.positive_prompt = positive_prompt
        self.width = width
        self.height = height
        self.number_results = number_results
        self.safety = safety
        self.seed_image = seed_image
        self.mask_image = mask_image
        self.reference_images = reference_images
        self.strength = strength
        self._check_arguments(at_parse_time=True)

    def _arguments(self) -> TaskArguments:
        from airflow_provider_runware.tasks.image_inference import InferenceArguments

        return InferenceArguments(
            **self._common_arguments(),
            positive_prompt=self.positive_prompt,
            width=self.width,
            height=self.height,
            number_results=self.number_results,
            safety=self.safety,
            seed_image=self.seed_image,
            mask_image=self.mask_image,
            reference_images=self.reference_images,
            strength=self.strength,
        )


class RunwareBackgroundRemovalOperator(RunwareImageTaskOperator):
    """Cut the subject out of each input image with Runware's ``removeBackground``.

    :param input_image: The photo to cut out: an object URI, URL or imageUUID (see the module's
        docstring). Templated. With ``requests``, one row per photo: ``[{"input_image": ...}, ...]``.
    :param model: Background-removal model; default Bria RMBG 2.0 (``runware:110@1``).
    :param settings: RemBG 1.4 (``runware:109@1``) only: ``rgba``, ``alphaMatting``, ... as Runware
        documents them.
    :param output_format: ``PNG`` by default: the only format that keeps the transparency.

    Every argument of :class:`~airflow_provider_runware.operators.base.RunwareImageTaskOperator` applies.
    """

    template_fields: Sequence[str] = ("input_image", *COMMON_TEMPLATE_FIELDS)

    def __init__(
        self,
        *,
        input_image: str | None = None,
        model: str = "runware:110@1",
        settings: dict[str, Any] | None = None,
        output_format: str = "PNG",
        **kwargs: Any,
    ) -> None:
        super().__init__(model=model, output_format=output_format, **kwargs)
        self.input_image = input_image
        self.settings = settings
        self._check_arguments(at_parse_time=True)

    def _arguments(self) -> TaskArguments:
        from airflow_provider_runware.tasks.background_removal import BackgroundRemovalArguments

        return BackgroundRemovalArguments(
            **self._common_arguments(), input_image=self.input_image, settings=self.settings
        )


class RunwareUpscaleOperator(RunwareImageTaskOperator):
    """Enlarge each input image with Runware's ``upscale`` (results are capped at 4096x4096).

    :param input_image: The image to enlarge: an object URI, URL or imageUUID. Templated.
    :param upscale_factor: 2 or 4 (4 with SwinIR only). Templated.
    :param model: Upscaling model; default SwinIR (``runware:503@1``), which restores rather than
        reimagines detail.
    :param settings: Creative upscalers' settings (prompt, steps, ...) as Runware documents them per model.

    Every argument of :class:`~airflow_provider_runware.operators.base.RunwareImageTaskOperator` applies.
    """

    template_fields: Sequence[str] = ("input_image", "upscale_factor", *COMMON_TEMPLATE_FIELDS)

    def __init__(
        self,
        *,
        input_image: str | None = None,
        upscale_factor: int | str = 2,
        model: str = "runware:503@1",
        settings: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model=model, **kwargs)
        self.input_image = input_image
        self.upscale_factor = upscale_factor
        self.settings = settings
        self._check_arguments(at_parse_time=True)

    def _arguments(self) -> TaskArguments:
        from airflow_provider_runware.tasks.upscale import UpscaleArguments

        return UpscaleArguments(
            **self._common_arguments(),
            input_image=self.input_image,
            upscale_factor=self.upscale_factor,
            settings=self.settings,
        )
