"""Runware's raw error codes, grouped by what they mean for the images they concern.

The grouping follows runware-sdk 1.8.0 (``runware/errors.py``, ``derive_code``): the same code lists,
the same substring rules and the same order of checks, so a code the SDK calls "safety" is safety
here too. Where the SDK's "retryable" would spend money on an answer that will repeat, the provider
is stricter, and says so below:

- ``modelDisabled`` / ``modelDeactivated``: the SDK counts them as provider errors (retryable); a
  retired model never comes back, so they are fatal and name the replacement.
- ``uploadFailed``: the image was generated and billed; storage problems do not heal between
  tries, so it is a storage error (fatal), never a regeneration.
- Other provider failures (``inferenceError``, ``taskFailed``, ...) regenerate only on an Airflow
  retry (category ``generation``); provider *capacity* answers (``noAvailableServer``,
  ``modelUnavailable``, ``modelNotReady``) are ``transient``: retried with backoff.

:func:`category_for_code` returns ``None`` when the code says nothing we know: the HTTP status decides.
"""

from __future__ import annotations

from enum import Enum


class ErrorCategory(str, Enum):  # noqa: UP042 - StrEnum would change str(member) in existing logs
    """What an error means for the images it concerns; stable across processes and versions.

    Errors cross process boundaries (trigger events, the ledger in ``task_state_store``) as JSON, and
    decisions such as "generate again?" are taken on the category, never on a Python class name.
    """

    VALIDATION = "validation"
    AUTHENTICATION = "authentication"
    PAYMENT = "payment"
    SAFETY = "safety"
    NOT_FOUND = "not_found"
    MODEL_RETIRED = "model_retired"
    COST_LIMIT = "cost_limit"
    TRANSIENT = "transient"
    GENERATION = "generation"
    TIMEOUT = "timeout"
    STORAGE = "storage"
    LOST = "lost"


# runware-sdk 1.8.0 _SAFETY_CODES: refusals that repeat for the same prompt; never regenerated.
SAFETY_CODES = frozenset(
    {
        "contentPolicyViolation",
        "providerContentPolicyViolation",
        "sensitiveContentDetected",
        "unsafeContentDetected",
        "nsfwContentDetected",
        "promptBlocked",
        "imageBlocked",
        "moderationFailed",
        "invalidProviderContent",
    }
)
# runware-sdk 1.8.0 _AUTH_CODES (plus anything naming the API key, as the SDK does).
AUTH_CODES = frozenset(
    {
        "unauthorized",
        "forbidden",
        "permissionDenied",
        "insufficientPermissions",
        "authenticationFailed",
        "authFailed",
        "authTimeout",
        "invalidAuthentication",
        "invalidCredentials",
        "missingAuthentication",
        "tokenExpired",
        "tokenInvalid",
        "tokenMissing",
        "tokenRevoked",
        "accountSuspended",
        "accountDisabled",
        "organizationSuspended",
        "organizationDisabled",
        "workspaceSuspended",
        "workspaceDisabled",
    }
)
PAYMENT_CODES = frozenset({"quotaExceeded", "paymentRequired", "environmentPaused"})
# runware-sdk 1.8.0 _SERVER_ERROR_CODES: Runware's own failures, worth retrying.
SERVER_CODES = frozenset(
    {
        "internalServerError",
        "serviceUnavailable",
        "serverUnavailable",
        "standardError",
        "unknownError",
        "undefinedError",
        "defaultError",
        "unrecognizedResponse",
        "errorRetrievingAccountManagement",
    }
)
# runware-sdk 1.8.0 _NOT_FOUND_CODES (plus every ``*NotFound`` and ``*Expired``).
NOT_FOUND_CODES = frozenset({"taskCancelled", "taskFailedOrNotFound", "unknownModel"})
DEACTIVATED_CODES = frozenset({"modelDisabled", "modelDeactivated"})
# runware-sdk 1.8.0 _PROVIDER_CODES, split by what a retry buys.
PROVIDER_TRANSIENT_CODES = frozenset({"noAvailableServer", "modelUnavailable", "modelNotReady"})
PROVIDER_GENERATION_CODES = frozenset(
    {"inferenceError", "processingFailed", "taskFailed", "downloadFailed", "mediaStorageFileCouldNotBeMoved"}
)
UPLOAD_CODES = frozenset({"uploadFailed"})
VALIDATION_PREFIXES = ("invalid", "missing", "conflict", "duplicate", "unsupported", "value", "array", "max")
VALIDATION_CODES = frozenset(
    {
        "unknownParameter",
        "incompatibleParameters",
        "mismatchProviderSettingsProvider",
        "unknownProviderSettingsProvider",
        "transparentModelMismatch",
        "modelOwnershipValidationError",
        "modelAlreadyExists",
        "validationFailed",
    }
)
# Answers Runware may give for a model it no longer serves; which one it sends is not documented.
# For a model the catalog marks retired, any of them means "migrate" (see hooks.runware).
RETIRED_MODEL_ANSWERS = DEACTIVATED_CODES | frozenset(
    {"unknownModel", "invalidModel", "modelNotFound", "modelUnavailable"}
)


def category_for_code(code: str | None) -> ErrorCategory | None:
    """The category of a raw Runware code, checked in runware-sdk 1.8.0's order; ``None`` if unknown."""
    if not code:
        return None
    payment = "Credits" in code or "Quota" in code or "Balance" in code or code in PAYMENT_CODES
    validation = code.startswith(VALIDATION_PREFIXES) or "Conflict" in code or code in VALIDATION_CODES
    checks: tuple[tuple[bool, ErrorCategory], ...] = (
        (payment, ErrorCategory.PAYMENT),
        ("RateLimit" in code or code == "rateLimitExceeded", ErrorCategory.TRANSIENT),
        (code in SAFETY_CODES, ErrorCategory.SAFETY),
        (code in AUTH_CODES or "ApiKey" in code, ErrorCategory.AUTHENTICATION),
        (code in DEACTIVATED_CODES, ErrorCategory.MODEL_RETIRED),
        ("Timeout" in code or code in ("timeout", "timeoutProvider"), ErrorCategory.TRANSIENT),
        (code in NOT_FOUND_CODES or code.endswith(("NotFound", "Expired")), ErrorCategory.NOT_FOUND),
        (code in SERVER_CODES, ErrorCategory.TRANSIENT),
        (code in PROVIDER_TRANSIENT_CODES, ErrorCategory.TRANSIENT),
        (code in UPLOAD_CODES, ErrorCategory.STORAGE),
        (code in PROVIDER_GENERATION_CODES or code.startswith("provider"), ErrorCategory.GENERATION),
        (validation, ErrorCategory.VALIDATION),
    )
    return next((category for matched, category in checks if matched), None)
