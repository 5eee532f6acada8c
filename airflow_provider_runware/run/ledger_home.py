"""Where a task instance's ledger is kept between tries, on every Airflow 3 line.

The ledger must outlive the try that wrote it: a retry, a manual clear and a SIGKILLed worker all
start a new process that has to know what earlier tries paid for. It needs no setup from the user.

- **Airflow 3.3 and later**: the task's ``task_state_store``, kept per task instance across tries and
  clears, expiring after ``[state_store] default_retention_days`` (30 days by default).
- **Airflow 3.0 to 3.2**: an Airflow Variable, named from the task instance's identity and described
  with it. Variables live in the metadata database like the task's own state, survive every kind of
  retry and clear, are reachable from any worker through the task SDK, and need no connection,
  bucket or configuration (the common.ai provider's object-storage home would need all three, and a
  task without an output location would still need a second home). The Variable is deleted when the
  task instance succeeds, so the Variables list does not grow with every run; a failed task's ledger
  stays so a clear reuses what was paid for, and is ignored (and deleted) once older than the
  retention below, matching 3.3.

Every write is read back on the Variable home: Airflow 3.0's task SDK sends a Variable write without
waiting for an answer and swallows errors, and a ledger that silently failed to land would let a later
try pay again. A write that cannot be confirmed raises :class:`RunwareLedgerError` before anything is
submitted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_runware.exceptions import RunwareError

if TYPE_CHECKING:
    from airflow_provider_runware.run.identity import TaskInstanceIdentity

log = logging.getLogger(__name__)

TASK_STATE_KEY = "runware_images"
VARIABLE_PREFIX = "runware_ledger_"
# How often a try writes its ledger again after an older try's late write landed over it.
OVERWRITE_ATTEMPTS = 3
# How long a failed task's ledger stays usable below 3.3: [state_store] default_retention_days' default.
VARIABLE_RETENTION_SECONDS = 30 * 24 * 3600


class RunwareLedgerError(RunwareError):
    """The ledger could not be written or read back: the task stops before it pays for anything."""

    reason: str = "The Runware ledger could not be written"


class LedgerHome(Protocol):
    """Load, save and discard one task instance's ledger (its JSON form)."""

    description: str

    def load(self) -> Mapping[str, Any] | None: ...

    def save(self, ledger: Mapping[str, Any]) -> None: ...

    def discard(self) -> None: ...


class TaskStateStoreHome:
    """Airflow 3.3+: ``task_state_store``, which Airflow itself expires."""

    description = f"task_state_store key {TASK_STATE_KEY!r}"

    def __init__(self, store: Any) -> None:
        self._store = store

    def load(self) -> Mapping[str, Any] | None:
        value = self._store.get(TASK_STATE_KEY)
        return value if isinstance(value, Mapping) else None

    def save(self, ledger: Mapping[str, Any]) -> None:
        try:
            self._store.set(TASK_STATE_KEY, dict(ledger))
        except Exception as err:
            raise _write_failed(self.description, err) from err

    def discard(self) -> None:
        """Kept after success: Airflow expires it, and a clear of a succeeded task reads it."""


class VariableHome:
    """Airflow 3.0-3.2: one Variable per task instance, deleted when the task instance succeeds.

    Each value names the try that wrote it: its number, and its task instance id, a UUIDv7 that Airflow
    makes anew for every try (a retry, a clear, a re-created run), so a later try's id sorts after an
    earlier one's. Airflow runs one try of a task instance at a time, but a try the scheduler took for
    dead (its heartbeats stopped reaching the API) can still be running when the next try starts, and
    a Variable, unlike 3.3's task_state_store, does not refuse the old try's writes. So a try never
    overwrites a later try's ledger (it stops instead, submitting nothing more), and writes its own
    again when an earlier try's late write landed over it.
    """

    def __init__(self, identity: TaskInstanceIdentity, try_id: str = "", try_number: int = 0) -> None:
        self.identity = identity
        self.try_id = try_id
        self.try_number = try_number
        self.key = variable_key(identity)
        self.description = f"Airflow Variable {self.key!r}"

    def load(self) -> Mapping[str, Any] | None:
        try:
            raw = self._read()
        except Exception as err:
            raise RunwareLedgerError(
                f"The Runware ledger could not be read from {self.description} "
                f"({type(err).__name__}: {err}); nothing was submitted"
            ) from err
        if raw is None:
            return None
        self._stop_if_superseded(raw)
        stored = json.loads(raw)
        if stored.get("expires_at", 0) < time.time():
            log.info("Ignoring the expired Runware ledger in %s", self.description)
            self.discard()
            return None
        ledger: Mapping[str, Any] = stored["ledger"]
        return ledger

    def save(self, ledger: Mapping[str, Any]) -> None:
        from airflow.sdk import Variable

        value = json.dumps(
            {
                "task_instance": self._task_instance(),
                "try_id": self.try_id,
                "try_number": self.try_number,
                "expires_at": time.time() + VARIABLE_RETENTION_SECONDS,
                "ledger": ledger,
            },
            separators=(",", ":"),
        )
        for _ in range(OVERWRITE_ATTEMPTS):
            try:
                self._stop_if_superseded(self._read())
                Variable.set(self.key, value, description=self._variable_description())
                written = self._read()
            except RunwareLedgerError:
                raise
            except Exception as err:
                raise _write_failed(self.description, err) from err
            if written == value:
                return
            self._stop_if_superseded(written)
            if not self.try_id or _writer(written)[0] in (None, self.try_id):
                break  # the write was lost (3.0's task SDK does not report a failed Variable write)
            log.warning(
                "An earlier try (try %s) of this task instance wrote %s after this try did; writing it again",
                _writer(written)[1],
                self.description,
            )
        raise _write_failed(self.description, None)

    def discard(self) -> None:
        """Best effort: a ledger that outlives its task instance is harmless and expires. A newer
        try's ledger is never deleted by an older try that finished late."""
        from airflow.sdk import Variable

        try:
            if self._newer_writer(self._read()) is None:
                Variable.delete(self.key)
        except Exception as err:
            log.warning("Could not delete %s: %s", self.description, type(err).__name__)

    def _read(self) -> str | None:
        from airflow.sdk import Variable

        raw = Variable.get(self.key, default=None)
        return None if raw is None else str(raw)

    def _newer_writer(self, raw: str | None) -> str | None:
        """The number of the later try that wrote ``raw``, if a later try did."""
        writer_id, writer_number = _writer(raw)
        if self.try_id and writer_id is not None and writer_id > self.try_id:
            return writer_number
        return None

    def _stop_if_superseded(self, raw: str | None) -> None:
        writer = self._newer_writer(raw)
        if writer is not None:
            raise RunwareLedgerError(
                f"A later try (try {writer}) of this task instance has taken over its Runware ledger in "
                f"{self.description}: this try (try {self.try_number}) stops here and submits nothing "
                "more. The later try asks Runware about every image this one submitted and reports them"
            )

    def _task_instance(self) -> str:
        identity = self.identity
        mapped = f"[{identity.map_index}]" if identity.map_index >= 0 else ""
        return f"{identity.dag_id} / {identity.run_id} / {identity.task_id}{mapped}"

    def _variable_description(self) -> str:
        return (
            f"Runware image ledger of {self._task_instance()}: what its tries submitted and paid for. "
            "Written by airflow-provider-runware below Airflow 3.3, deleted when the task instance "
            "succeeds; safe to delete once that task instance will not be retried or cleared."
        )


def variable_key(identity: TaskInstanceIdentity) -> str:
    """Short and fixed-length (Variable keys are limited to 250 characters, dag and run ids are not)."""
    parts = "\0".join([identity.dag_id, identity.run_id, identity.task_id, str(identity.map_index)])
    return VARIABLE_PREFIX + hashlib.sha256(parts.encode()).hexdigest()[:40]


def ledger_home(context: Mapping[str, Any], identity: TaskInstanceIdentity) -> LedgerHome:
    """The task instance's ``task_state_store`` where Airflow has one (3.3+), else its Variable."""
    store = context.get("task_state_store")
    if store is not None:
        return TaskStateStoreHome(store)
    ti = context.get("ti")
    try_number = getattr(ti, "try_number", 0)
    return VariableHome(
        identity, str(getattr(ti, "id", "") or ""), try_number if isinstance(try_number, int) else 0
    )


def _writer(raw: str | None) -> tuple[str | None, str]:
    """The id and number of the try that wrote a stored Variable value (no id for a value without)."""
    try:
        stored = json.loads(raw) if raw is not None else {}
    except ValueError:
        stored = {}
    if not isinstance(stored, dict) or not stored.get("try_id"):
        return None, "?"
    return str(stored["try_id"]), str(stored.get("try_number", "?"))


def _write_failed(where: str, err: Exception | None) -> RunwareLedgerError:
    cause = f" ({type(err).__name__}: {err})" if err is not None else " (it did not read back as written)"
    error = RunwareLedgerError(
        f"The Runware ledger could not be written to {where}{cause}: the task stops here, and it never "
        "submits anything it could not record first, so no image is paid for without a record"
    )
    error.reason = f"The Runware ledger could not be written to {where}{cause}"
    return error


def answer_not_recorded(error: RunwareLedgerError, task_uuids: Sequence[str]) -> RunwareLedgerError:
    """The save after a POST failed: Runware may have these tasks, and the ledger still says
    ``submitting`` for them, which is what makes the next try ask before it pays."""
    return RunwareLedgerError(
        f"{error.reason} after {len(task_uuids)} tasks were sent to Runware (taskUUIDs "
        f"{', '.join(task_uuids)}), so Runware's answer is not recorded. The ledger still holds them "
        "as submitting: the next try asks Runware about them (getResponse) before it submits "
        "anything, and sends again only those Runware never received, under the same taskUUIDs"
    )
