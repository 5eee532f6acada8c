"""Errors raised by the provider.

Each error keeps what Runware said (code, message, parameter, taskUUID, documentation) plus the HTTP
status and whether trying again can help. Errors that retrying cannot fix also derive from
:class:`AirflowFailException`, so Airflow fails the task at once instead of spending its retries (and
the user's money) on a bad key, an empty balance or an invalid prompt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from airflow_provider_runware.api.error_codes import ErrorCategory, category_for_code
from airflow_provider_runware.compat import AirflowException, AirflowFailException

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class RunwareError(AirflowException):
    """Base of every provider error; carries Runware's error fields verbatim."""

    retryable: bool = False
    category: ClassVar[ErrorCategory] = ErrorCategory.GENERATION

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        parameter: str | Sequence[str] | None = None,
        task_uuid: str | None = None,
        documentation: str | None = None,
        http_status: int | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.parameter = parameter
        self.task_uuid = task_uuid
        self.documentation = documentation
        self.http_status = http_status
        if retryable is not None:
            self.retryable = retryable
        super().__init__(self._render())

    def _render(self) -> str:
        details = [
            f"{label}={value}"
            for label, value in (
                ("code", self.code),
                ("parameter", self.parameter),
                ("taskUUID", self.task_uuid),
                ("http_status", self.http_status),
                ("documentation", self.documentation),
            )
            if value not in (None, "", [])
        ]
        return f"{self.message} ({', '.join(details)})" if details else self.message

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, for trigger events and logs."""
        return {
            "code": self.code,
            "message": self.message,
            "parameter": self.parameter,
            "task_uuid": self.task_uuid,
            "documentation": self.documentation,
            "http_status": self.http_status,
            "retryable": self.retryable,
            "category": self.category.value,
        }


class RunwareFatalError(RunwareError, AirflowFailException):
    """Retrying cannot help: fail the Airflow task without using its retries."""


class RunwareValidationError(RunwareFatalError):
    """A request parameter breaks the model's rules (caught locally or reported by the API)."""

    category = ErrorCategory.VALIDATION


class RunwareInputNotFoundError(RunwareValidationError):
    """An image input in a bucket is missing, empty or unreadable; found before Runware is paid."""


class RunwareAuthenticationError(RunwareFatalError):
    """The API key is missing, wrong, or not allowed to do this."""

    category = ErrorCategory.AUTHENTICATION


class RunwarePaymentError(RunwareFatalError):
    """The account has no credits left or hit its quota."""

    category = ErrorCategory.PAYMENT


class RunwareContentSafetyError(RunwareFatalError):
    """The prompt or the output was refused by a content policy."""

    category = ErrorCategory.SAFETY


class RunwareNotFoundError(RunwareFatalError):
    """The model or task is unknown to Runware (or has expired)."""

    category = ErrorCategory.NOT_FOUND


class RunwareModelDeactivatedError(RunwareFatalError):
    """Runware no longer serves the model; the message names the replacement when the catalog knows it."""

    category = ErrorCategory.MODEL_RETIRED


class RunwareCostLimitError(RunwareFatalError):
    """The catalog estimate exceeds the operator's ``max_cost_usd``; nothing was submitted."""

    category = ErrorCategory.COST_LIMIT


class RunwareTransientError(RunwareError):
    """Rate limit, capacity, 5xx, timeout or connection failure: worth retrying with backoff."""

    category = ErrorCategory.TRANSIENT

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class RunwareGenerationError(RunwareError):
    """Runware accepted the task but the generation failed; an Airflow retry regenerates only these."""

    category = ErrorCategory.GENERATION


class RunwareTaskTimeoutError(RunwareError):
    """Waiting for results ran out of time; the tasks may still finish server-side (and be billed)."""

    category = ErrorCategory.TIMEOUT


class RunwareUploadError(RunwareFatalError):
    """An image could not be stored: Runware's upload failed, or the object is missing or empty.

    Fatal on purpose: the image was generated and billed, and storage problems (permissions, a
    refused signature, a wrong endpoint) do not fix themselves between Airflow retries, so retrying
    would only pay for the same image again. Fix the storage, then clear the task.
    """

    category = ErrorCategory.STORAGE


class RunwareLostTaskError(RunwareFatalError):
    """Runware has no record of a task an earlier try submitted; generating it again would be a
    second payment, so only an explicit ``regenerate`` does that."""

    category = ErrorCategory.LOST


def error_class_for(code: str | None, http_status: int | None) -> type[RunwareError]:
    """Pick the error class for an API answer: by the code first (a mixed batch's status says little),
    grouped as runware-sdk 1.8.0 groups codes (see ``error_codes``); unknown codes go by status."""
    return class_for_code(code) or _class_for_status(http_status)


def class_for_code(code: str | None) -> type[RunwareError] | None:
    """The error class a Runware code stands for; None for codes the table does not know."""
    category = category_for_code(code)
    return None if category is None else _CLASS_FOR_CATEGORY[category]


def _class_for_status(status_code: int | None) -> type[RunwareError]:
    if status_code in (401, 403):
        return RunwareAuthenticationError
    if status_code == 402:
        return RunwarePaymentError
    if status_code == 404:
        return RunwareNotFoundError
    if status_code is not None and is_transient_status(status_code):
        return RunwareTransientError
    if status_code is not None and 400 <= status_code < 500:
        return RunwareValidationError
    return RunwareGenerationError


def is_transient_status(status_code: int) -> bool:
    """Overload, gateway and server failures: Runware documents 429/503/504; other 5xx count too."""
    return status_code in TRANSIENT_STATUSES or status_code >= 500


def error_category(data: Mapping[str, Any]) -> ErrorCategory:
    """The category of an error dict; ledgers written before categories existed carry a class name."""
    try:
        return ErrorCategory(data.get("category"))
    except ValueError:
        legacy = {cls.__name__: cls for cls in _all_subclasses(RunwareError)}.get(str(data.get("kind")))
        return legacy.category if legacy is not None else ErrorCategory.GENERATION


def error_from_dict(data: Mapping[str, Any], message: str | None = None) -> RunwareError:
    """Rebuild an error that crossed a process boundary as :meth:`RunwareError.to_dict` output."""
    error_class = _CLASS_FOR_CATEGORY[error_category(data)]
    return error_class(
        message or str(data.get("message") or "Runware reported an error"),
        code=data.get("code"),
        parameter=data.get("parameter"),
        task_uuid=data.get("task_uuid"),
        documentation=data.get("documentation"),
        http_status=data.get("http_status"),
    )


def _all_subclasses(cls: type[RunwareError]) -> list[type[RunwareError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


_CLASS_FOR_CATEGORY: dict[ErrorCategory, type[RunwareError]] = {
    ErrorCategory.VALIDATION: RunwareValidationError,
    ErrorCategory.AUTHENTICATION: RunwareAuthenticationError,
    ErrorCategory.PAYMENT: RunwarePaymentError,
    ErrorCategory.SAFETY: RunwareContentSafetyError,
    ErrorCategory.NOT_FOUND: RunwareNotFoundError,
    ErrorCategory.MODEL_RETIRED: RunwareModelDeactivatedError,
    ErrorCategory.COST_LIMIT: RunwareCostLimitError,
    ErrorCategory.TRANSIENT: RunwareTransientError,
    ErrorCategory.GENERATION: RunwareGenerationError,
    ErrorCategory.TIMEOUT: RunwareTaskTimeoutError,
    ErrorCategory.STORAGE: RunwareUploadError,
    ErrorCategory.LOST: RunwareLostTaskError,
}
