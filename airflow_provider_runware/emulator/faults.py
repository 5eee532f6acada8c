"""Scripted faults: the misbehaviours a Runware client must survive, switched on by tests over HTTP.

A fault is a small JSON spec. Counted faults fire a number of times (``count``, default 1) and then
disappear; mode-like faults (latency, delays, account state, response shapes) stay until reset unless a
``count`` is given. Specs are checked when posted, so a typo fails the test that made it instead of
silently never firing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

COUNTED_KINDS = frozenset(
    {
        "http_status",
        "drop_connection",
        "malformed",
        "fail_generation",
        "upload_fail",
        "upload_skip",
        "sync_timeout",
        "hold",
    }
)
# Modes: one active spec per kind (posting a new one replaces the old), except per-model deactivation.
PERSISTENT_KINDS = frozenset(
    {
        "latency",
        "queue_delay",
        "upload_delay",
        "insufficient_credits",
        "deactivate_model",
        "ack_shape",
        "legacy_pending",
        "not_found",
        "amnesia",
    }
)
# Actions applied at once when posted; nothing is stored.
IMMEDIATE_KINDS = frozenset({"expire_images", "forget_tasks"})
ALL_KINDS = COUNTED_KINDS | PERSISTENT_KINDS | IMMEDIATE_KINDS

_NUMBER_FIELDS = ("seconds", "retry_after")
_INT_FIELDS = ("status", "count")


class FaultSpecError(ValueError):
    """A posted fault spec that cannot work; the control API answers it with HTTP 400."""


@dataclass
class Fault:
    """One active fault; ``remaining`` is ``None`` for faults that last until reset."""

    id: int
    kind: str
    spec: dict[str, Any]
    remaining: int | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, **self.spec, "remaining": self.remaining}


def _check_types(spec: Mapping[str, Any]) -> None:
    for name in _NUMBER_FIELDS:
        value = spec.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise FaultSpecError(f"{name} must be a non-negative number, got {value!r}")
    for name in _INT_FIELDS:
        value = spec.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise FaultSpecError(f"{name} must be an integer, got {value!r}")
    if spec.get("count") is not None and spec["count"] < 1:
        raise FaultSpecError("count must be at least 1")


def _check_kind_fields(kind: str, spec: Mapping[str, Any]) -> None:
    if kind == "http_status" and not 400 <= int(spec.get("status") or 0) <= 599:
        raise FaultSpecError("http_status needs a status between 400 and 599")
    if kind in ("latency", "queue_delay", "upload_delay", "hold") and spec.get("seconds") is None:
        raise FaultSpecError(f"{kind} needs seconds")
    if kind == "deactivate_model" and not isinstance(spec.get("model"), str):
        raise FaultSpecError("deactivate_model needs a model (an AIR id)")
    if kind == "ack_shape" and spec.get("shape") not in ("empty", "ack"):
        raise FaultSpecError("ack_shape needs shape 'empty' (or 'ack' for the normal shape)")
    if kind == "not_found" and spec.get("shape", "error") not in ("error", "empty"):
        raise FaultSpecError("not_found shape must be 'error' or 'empty'")


def validate_spec(raw: Any) -> dict[str, Any]:
    """Return a clean copy of ``raw`` or raise :class:`FaultSpecError` saying what is wrong."""
    if not isinstance(raw, Mapping):
        raise FaultSpecError("a fault spec must be a JSON object with a 'kind'")
    kind = raw.get("kind")
    if kind not in ALL_KINDS:
        raise FaultSpecError(f"unknown fault kind {kind!r}; known kinds: {', '.join(sorted(ALL_KINDS))}")
    spec = dict(raw)
    _check_types(spec)
    _check_kind_fields(kind, spec)
    return spec


@dataclass
class FaultBook:
    """The active faults, consumed in the order they were posted."""

    faults: list[Fault] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, spec: dict[str, Any]) -> Fault:
        kind = spec["kind"]
        if kind in PERSISTENT_KINDS and kind != "deactivate_model":
            self.faults = [f for f in self.faults if f.kind != kind]
        default_count = 1 if kind in COUNTED_KINDS else None
        fault = Fault(next(self._ids), kind, spec, spec.get("count", default_count))
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def active(self) -> list[dict[str, Any]]:
        return [fault.to_json() for fault in self.faults]

    def take(
        self, kind: str, matches: Callable[[Mapping[str, Any]], bool] | None = None
    ) -> dict[str, Any] | None:
        """The first active fault of ``kind`` that ``matches``, using up one of its firings."""
        for fault in self.faults:
            if fault.kind != kind or (matches is not None and not matches(fault.spec)):
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
            return fault.spec
        return None

    def seconds(self, kind: str) -> float:
        """Delay of a mode-like fault (``latency``, ``queue_delay``, ``upload_delay``); 0 when off."""
        spec = self.take(kind)
        return float(spec.get("seconds") or 0.0) if spec else 0.0
