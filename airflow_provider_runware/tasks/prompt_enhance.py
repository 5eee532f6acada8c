"""Runware's ``promptEnhance``: its wire rules, shared with the emulator.

From the prompt-enhancer page (:data:`~airflow_provider_runware.catalog.prompt_enhance_models.DOCS`):
``prompt`` (1..300 characters), ``promptMaxLength`` (12..400 tokens, required), ``promptVersions``
(1..5), ``includeCost``, ``webhookURL``; one result item with ``text`` per version. Pure Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from airflow_provider_runware.catalog.prompt_enhance_models import (
    PROMPT_ENHANCE_MODELS,
    PROMPT_LENGTH,
    PROMPT_MAX_LENGTH,
    PROMPT_VERSIONS,
)
from airflow_provider_runware.catalog.rules import (
    AIR_ID_PATTERN,
    DELIVERY_METHODS,
    Violation,
    check_bool,
    check_choice,
    check_int,
    check_task_uuid,
    check_url,
)
from airflow_provider_runware.tasks.base import ResultKind, TaskArguments

TASK_TYPE = "promptEnhance"


def prompt_versions_of(task: Mapping[str, Any]) -> int:
    """How many result items the task asks for (``promptVersions``, default 1)."""
    versions = task.get("promptVersions", 1)
    return versions if isinstance(versions, int) and not isinstance(versions, bool) and versions > 0 else 1


def validate_prompt_enhance(task: Mapping[str, Any]) -> list[Violation]:
    """Every rule a ``promptEnhance`` task (wire form) breaks; empty when it is acceptable."""
    violations: list[Violation] = []
    violations.extend(check_task_uuid(task))
    prompt = task.get("prompt")
    if "prompt" not in task:
        violations.append(Violation("prompt", None, "given: the prompt to enhance", "missingPrompt"))
    elif not isinstance(prompt, str) or not PROMPT_LENGTH.contains(len(prompt)):
        shown = prompt if not isinstance(prompt, str) or len(prompt) <= 40 else prompt[:37] + "..."
        size = f" (it has {len(prompt)})" if isinstance(prompt, str) else ""
        rule = f"a string of {PROMPT_LENGTH.minimum}..{PROMPT_LENGTH.maximum} characters{size}"
        violations.append(Violation("prompt", shown, rule, "invalidPrompt"))
    if "promptMaxLength" not in task:
        violations.append(
            Violation(
                "promptMaxLength",
                None,
                f"given: {PROMPT_MAX_LENGTH.describe()} (tokens)",
                "missingPromptMaxLength",
            )
        )
    violations += check_int(task, "promptMaxLength", PROMPT_MAX_LENGTH)
    violations += check_int(task, "promptVersions", PROMPT_VERSIONS)
    if "model" in task:
        model = task["model"]
        if not isinstance(model, str) or not AIR_ID_PATTERN.match(model):
            listed = ", ".join(f"{air} ({name})" for air, name in PROMPT_ENHANCE_MODELS.items())
            violations.append(Violation("model", model, f"an AIR id such as {listed}", "invalidModel"))
    violations += check_choice(task, "deliveryMethod", DELIVERY_METHODS)
    violations += check_bool(task, "includeCost")
    violations += check_url(task, "webhookURL")
    return violations


@dataclass(kw_only=True)
class PromptEnhanceArguments(TaskArguments):
    """``promptEnhance``: ``prompt_versions`` richer prompts for one short prompt, each its own task
    (``promptVersions`` 1), so each version is paid for once and recorded on its own."""

    TASK_TYPE: ClassVar[str] = TASK_TYPE
    RESULT: ClassVar[ResultKind] = ResultKind.TEXT
    COUNT_PARAMETER: ClassVar[str | None] = "promptVersions"
    PARAMETERS: ClassVar[Mapping[str, str]] = {
        "prompt": "prompt",
        "prompt_max_length": "promptMaxLength",
        "prompt_versions": "promptVersions",
    }

    prompt: Any
    prompt_max_length: Any = 64
    prompt_versions: Any = 1

    def rule_violations(self, task: Mapping[str, Any]) -> list[Violation]:
        return validate_prompt_enhance(task)

    def estimated_cost(self, images: int) -> float | None:
        """The prompt-enhancer page states no price: ``max_cost_usd`` refuses rather than guess."""
        return None

    def record_fields(self) -> dict[str, Any]:
        return {**super().record_fields(), "prompt": self.prompt}
