"""Runware's text task types: describe an image (``imageCaption``) and enrich a prompt (``promptEnhance``).

Their results are short texts, returned in a small XCom record per result (``text``, ``cost``); they
run on the same machinery as images and videos (validation before HTTP, deterministic taskUUIDs, the
ledger, the shared poller), so a retry never pays for a caption or a prompt twice either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_runware.operators.base import TASK_TEMPLATE_FIELDS, RunwareTaskOperator

if TYPE_CHECKING:
    from airflow_provider_runware.operators.settings import RunSettings
    from airflow_provider_runware.tasks.base import TaskArguments

__all__ = ["RunwareImageCaptionOperator", "RunwarePromptEnhanceOperator"]


class RunwareImageCaptionOperator(RunwareTaskOperator):
    """Describe each input image with Runware's ``imageCaption``; returns ``[{"text": ..., ...}]``.

    :param input_image: The image to describe: an ``s3://``/``gs://``/``wasbs://`` object URI, an
        ``https://`` URL or an earlier result's ``image_uuid``. Templated. With ``requests``, one row per
        image: ``[{"input_image": ...}, ...]``.
    :param prompt: What to ask a vision-language model about the image (e.g. ``runware:152@2``).
        Templated.
    :param model: Caption model; default LLaVA 1.6 Mistral 7B (``runware:150@2``).
    :param storage_conn_id: Connection for image inputs in a bucket (aws, google_cloud_platform, wasb).

    Every argument of :class:`~airflow_provider_runware.operators.base.RunwareTaskOperator` applies.
    """

    template_fields: Sequence[str] = ("input_image", "prompt", "storage_conn_id", *TASK_TEMPLATE_FIELDS)

    def __init__(
        self,
        *,
        input_image: str | None = None,
        prompt: str | None = None,
        model: str = "runware:150@2",
        storage_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model=model, **kwargs)
        self.input_image = input_image
        self.prompt = prompt
        self.storage_conn_id = storage_conn_id
        self._check_arguments(at_parse_time=True)

    def run_settings(self) -> RunSettings:
        from dataclasses import replace

        return replace(super().run_settings(), storage_conn_id=self.storage_conn_id)

    def _arguments(self) -> TaskArguments:
        from airflow_provider_runware.tasks.image_caption import ImageCaptionArguments

        return ImageCaptionArguments(
            **self._common_arguments(), input_image=self.input_image, prompt=self.prompt
        )


class RunwarePromptEnhanceOperator(RunwareTaskOperator):
    """Turn a short prompt into richer ones with Runware's ``promptEnhance``; returns one record per
    version, ``[{"text": ..., "cost": ...}, ...]``.

    :param prompt: The prompt to enhance (1-300 characters). Templated.
    :param prompt_max_length: Upper bound of each enhanced prompt, in tokens (12-400; about 100 tokens
        are 75 words). Templated.
    :param prompt_versions: How many enhanced prompts (1-5); each is its own Runware task. Templated.
    :param model: Prompt-enhancer model; by default none is sent and Runware picks its own.

    Every argument of :class:`~airflow_provider_runware.operators.base.RunwareTaskOperator` applies.
    """

    template_fields: Sequence[str] = ("prompt", "prompt_max_length", "prompt_versions", *TASK_TEMPLATE_FIELDS)

    def __init__(
        self,
        *,
        prompt: str | None = None,
        prompt_max_length: int | str = 64,
        prompt_versions: int | str = 1,
        model: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model=model, **kwargs)
        self.prompt = prompt
        self.prompt_max_length = prompt_max_length
        self.prompt_versions = prompt_versions
        self._check_arguments(at_parse_time=True)

    def _arguments(self) -> TaskArguments:
        from airflow_provider_runware.tasks.prompt_enhance import PromptEnhanceArguments

        return PromptEnhanceArguments(
            **self._common_arguments(),
            prompt=self.prompt,
            prompt_max_length=self.prompt_max_length,
            prompt_versions=self.prompt_versions,
        )
