"""How the emulator plays the parts of Runware's behaviour that vary or are not documented.

Each mode has a start-up value (a CLI flag, kept in :class:`Settings`) and can be changed at run time
through ``/_emulator/config``; a reset goes back to the start-up values.

- ``today``: the emulator's calendar date. Models past their catalog deactivation date are answered
  as retired; tests that replay the DALL·E 2 model page pin it before 2026-05-12.
- ``error_shape``: how getResponse reports a failed task. ``nested`` (default) is what runware-sdk
  1.8.0 reads, ``{"taskUUID", "status": "error", "error": {"code", ...}}`` inside ``data``; ``flat``
  puts the error object in the top-level ``errors`` array (the older form the docs also show).
- ``balance_shape``: ``object`` (default, runware-sdk 1.8.0 types ``balance`` as an object; the key
  names are our assumption: ``{"amount", "currency"}``) or ``number`` (the docs' example).
- ``conflict_shape``: ``full`` (default) names the reused taskUUID both at the top of the
  ``conflictTaskUUID`` error and in its ``context``; ``context_only`` leaves the top-level field out,
  as some answers do, so clients must read ``context.taskUUID``.
- ``retired_code`` / ``retired_status``: the answer for a retired model. No Runware page documents
  it; ``modelDisabled`` (HTTP 400) is our best evidence, because it is the server-side code that
  runware-sdk 1.8.0's error table lists for a model that can no longer run (``unknownModel`` there
  is raised by the SDK itself). An assumption, switchable to play the others.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

ERROR_SHAPES = ("nested", "flat")
BALANCE_SHAPES = ("object", "number")
CONFLICT_SHAPES = ("full", "context_only")
CHOICES = {"error_shape": ERROR_SHAPES, "balance_shape": BALANCE_SHAPES, "conflict_shape": CONFLICT_SHAPES}
DEFAULT_RETIRED_CODE = "modelDisabled"
DEFAULT_RETIRED_STATUS = 400


class ModeError(ValueError):
    """A mode value the emulator cannot play; the control API answers it with HTTP 400."""


@dataclass
class Modes:
    """The current modes; ``today=None`` follows the real calendar."""

    today: date | None = None
    error_shape: str = "nested"
    balance_shape: str = "object"
    conflict_shape: str = "full"
    retired_code: str = DEFAULT_RETIRED_CODE
    retired_status: int = DEFAULT_RETIRED_STATUS

    def current_date(self) -> date:
        return self.today or date.today()

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` (JSON from the control API) after checking every one of them."""
        unknown = set(changes) - set(asdict(self))
        if unknown:
            raise ModeError(f"unknown modes {sorted(unknown)}; known: {sorted(asdict(self))}")
        checked = {name: _check(name, value) for name, value in changes.items()}
        for name, value in checked.items():
            setattr(self, name, value)

    def to_json(self) -> dict[str, Any]:
        values = asdict(self)
        values["today"] = self.current_date().isoformat()
        return values


def parse_date(value: Any) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise ModeError(
            f"today must be a date YYYY-MM-DD (or null for the real date), got {value!r}"
        ) from error


def _check(name: str, value: Any) -> Any:
    if name == "today":
        return parse_date(value)
    if name in CHOICES and value not in CHOICES[name]:
        raise ModeError(f"{name} must be one of {', '.join(CHOICES[name])}, got {value!r}")
    if name == "retired_code" and (not isinstance(value, str) or not value):
        raise ModeError(f"retired_code must be a non-empty string, got {value!r}")
    if name == "retired_status" and (
        isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599
    ):
        raise ModeError(f"retired_status must be an HTTP error status, got {value!r}")
    return value
