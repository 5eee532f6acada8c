"""RunwareVideoInferenceOperator: generate short videos with Runware's ``videoInference``.

A video is the expensive case of never paying twice: each one is its own Runware task with a
deterministic taskUUID and a ledger entry written before the POST, so a retry, a killed worker or a
restarted triggerer polls what was paid for instead of submitting again. Generation takes minutes, so
the operator defers by default like the rest (``operators.default_deferrable``) and no worker slot waits.
With ``output_location`` Runware PUTs each video straight to the bucket through its own presigned URL
(the worker never holds the file), and the object is verified before the task succeeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_runware.operators.base import COMMON_TEMPLATE_FIELDS, RunwareMediaTaskOperator

if TYPE_CHECKING:
    from airflow_provider_runware.tasks.base import TaskArguments


class RunwareVideoInferenceOperator(RunwareMediaTaskOperator):
    """Generate videos with Runware's ``videoInference`` and (optionally) store them in a bucket.

    :param positive_prompt: What happens in the video. Templated. (Some image-to-video models take
        none; the catalog says which.)
    :param model: Runware AIR video model id, e.g. ``klingai:kling-video@3-standard``,
        ``google:3@3`` (Veo 3.1 Fast), ``minimax:4@1`` (Hailuo 2.3), ``bytedance:2@1`` (Seedance 1.0 Pro).
    :param duration: Seconds; each model documents the durations it takes. Templated.
    :param width: Video width; the model's documented sizes apply (with ``height``). Templated.
    :param height: Video height. Templated.
    :param frame_images: Image-to-video: the frames to start (and end) from, each an ``s3://``,
        ``gs://`` or ``wasbs://`` object URI, an ``https://`` URL or an earlier result's ``image_uuid``.
        One reference is the first frame, two are the first and last; or dicts
        ``{"image": ..., "frame": "first" | "last" | <frame index>}``. Templated (a list or its JSON).
    :param negative_prompt: What to avoid.
    :param resolution: ``720p``, ``1080p``, ... for models sized by resolution instead of width/height.
    :param fps: Frames per second, where the model lets it be chosen.
    :param seed: Seed for reproducible generations.
    :param number_results: How many videos; each becomes its own Runware task.
    :param provider_settings: Runware's ``providerSettings`` (e.g. ``{"google": {"generateAudio": True}}``).
    :param output_format: ``MP4`` (H.264, default), ``WEBM`` or ``MOV``.

    Every argument of :class:`~airflow_provider_runware.operators.base.RunwareMediaTaskOperator` applies;
    ``timeout`` defaults to an hour, the XCom records carry ``video_uuid`` and ``storage_uri`` (or
    ``video_url``), and ``max_cost_usd`` is checked against each model's documented price per video.
    """

    template_fields: Sequence[str] = (
        "positive_prompt",
        "duration",
        "width",
        "height",
        "frame_images",
        *COMMON_TEMPLATE_FIELDS,
    )
    template_fields_renderers = {
        **RunwareMediaTaskOperator.template_fields_renderers,
        "positive_prompt": "py",
        "frame_images": "json",
    }
    ui_color = "#e0f2fe"

    def __init__(
        self,
        *,
        positive_prompt: str | None = None,
        model: str,
        duration: float | str | None = None,
        width: int | str | None = None,
        height: int | str | None = None,
        frame_images: list[Any] | str | None = None,
        negative_prompt: str | None = None,
        resolution: str | None = None,
        fps: int | None = None,
        seed: int | None = None,
        number_results: int | str = 1,
        provider_settings: dict[str, Any] | None = None,
        output_format: str = "MP4",
        timeout: float = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(model=model, output_format=output_format, timeout=timeout, **kwargs)
        self.positive_prompt = positive_prompt
        self.duration = duration
        self.width = width
        self.height = height
        self.frame_images = frame_images
        self.negative_prompt = negative_prompt
        self.resolution = resolution
        self.fps = fps
        self.seed = seed
        self.number_results = number_results
        self.provider_settings = provider_settings
        self._check_arguments(at_parse_time=True)

    def _arguments(self) -> TaskArguments:
        from airflow_provider_runware.tasks.video_inference import VideoInferenceArguments

        return VideoInferenceArguments(
            **self._common_arguments(),
            positive_prompt=self.positive_prompt,
            negative_prompt=self.negative_prompt,
            duration=self.duration,
            width=self.width,
            height=self.height,
            resolution=self.resolution,
            fps=self.fps,
            seed=self.seed,
            number_results=self.number_results,
            frame_images=self.frame_images,
            provider_settings=self.provider_settings,
        )
