"""The ``runware`` connection's extras: one typed model that both the hook and the UI form read.

``get_provider_info`` builds the connection form's ``conn-fields`` from this model, so every extra the
hook understands (and docs/guide.md documents) is in the form, with the same default and bounds. Only
pydantic is imported here (Airflow has already loaded it): no HTTP client, no hook.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Older Airflow UIs store custom connection fields under this prefix.
LEGACY_FIELD_PREFIX = "extra__runware__"


class ConnectionExtras(BaseModel):
    """Typed view of the connection's extra; unknown keys are ignored, never turned into headers."""

    model_config = ConfigDict(extra="ignore")

    timeout: float = Field(
        default=60.0,
        gt=0,
        title="Request timeout (seconds)",
        description="Read timeout for one HTTP request to Runware.",
    )
    max_retries: int = Field(
        default=5,
        ge=0,
        le=20,
        title="Max retries",
        description="Retries of one request on 429/5xx/timeouts/connection errors.",
    )
    max_retry_seconds: float = Field(
        default=300.0,
        gt=0,
        title="Retry time budget (seconds)",
        description="Total time the retries of one request may take.",
    )
    max_images_in_flight: int | None = Field(
        default=None,
        ge=1,
        title="Max images in flight",
        description="At most this many images submitted and not yet finished across the deployment. "
        "Enforced by an Airflow pool of this many slots (include_deferred) that every task on this "
        "connection runs in, with pool_slots = its images; tasks that are not are refused before "
        "they submit. Empty: no limit.",
    )

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> ConnectionExtras:
        """Read a connection's extra, whether the UI stored the fields with the legacy prefix or not."""
        cleaned = {k.removeprefix(LEGACY_FIELD_PREFIX): v for k, v in extra.items() if v not in (None, "")}
        return cls.model_validate(cleaned)


_RELABELING = {"password": "API Key", "host": "Base URL"}
_PLACEHOLDERS = {
    "host": "https://api.runware.ai/v1 (leave empty for the default)",
    "password": "Runware API key",
}


def form_behaviour() -> dict[str, Any]:
    """Provider info's ``ui-field-behaviour`` (Airflow 3.2+, which renders ``conn-fields``, so the raw
    Extra box is hidden)."""
    return {
        "hidden-fields": ["schema", "port", "login", "extra"],
        "relabeling": _RELABELING,
        "placeholders": _PLACEHOLDERS,
    }


def legacy_form_behaviour() -> dict[str, Any]:
    """The hook's ``get_ui_field_behaviour`` for Airflow 3.0 and 3.1, which read the form from the hook
    and ignore ``conn-fields``: the Extra box stays, as the only place to set the extras there."""
    return {
        "hidden_fields": ["schema", "port", "login"],
        "relabeling": _RELABELING,
        "placeholders": _PLACEHOLDERS,
    }


_JSON_TYPES = {"number": "number", "integer": "integer", "string": "string", "boolean": "boolean"}
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def conn_fields() -> dict[str, dict[str, Any]]:
    """The connection form's custom fields, one per :class:`ConnectionExtras` field.

    Values are optional in the form (``null`` allowed): an empty field means the documented default.
    """
    schema = ConnectionExtras.model_json_schema()
    fields: dict[str, dict[str, Any]] = {}
    for name, prop in schema["properties"].items():
        # An optional extra (``int | None``) is an ``anyOf`` of its type and null.
        typed = next((branch for branch in prop.get("anyOf", [prop]) if branch.get("type") != "null"), prop)
        field_schema: dict[str, Any] = {
            "type": [_JSON_TYPES[typed["type"]], "null"],
            "default": prop["default"],
        }
        field_schema.update({key: typed[key] for key in _BOUNDS if key in typed})
        fields[name] = {"label": prop["title"], "description": prop["description"], "schema": field_schema}
    return fields
