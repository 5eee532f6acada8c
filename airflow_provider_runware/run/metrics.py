"""Airflow metrics of Runware results: how many were generated, failed or reused, what they cost and how
long each took from submission to stored, per task type and model.

They go through Airflow's own Stats facade (``compat.stats``), so they reach whatever the deployment
configured for Airflow's metrics (StatsD, Datadog, OpenTelemetry) under its prefix and allow/block
lists, or nowhere. As Airflow does with its own metrics, each is sent under a name with tags
(``task_type``, ``model``, ``dag_id``, ``task_id``) for the backends that keep tags and, unless
``[metrics] legacy_names_on`` is off, once more under a name that carries the task type and model, for
plain StatsD, which drops tags: ``runware.results.generated`` and
``runware.results.generated.imageInference.openai_2_2``.

Each result counts once, from the ledger (``ResultEntry.counted``): stored by a try, it counts as
generated the first time and as reused by each later try that returns it again; a failure counts once
however many tries see it. Cost counts exactly when the cost log does (``Finisher.report``): once per
billed result. Best effort: a metric that cannot be sent is logged and never fails a task.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_runware.run.ledger import ResultState

if TYPE_CHECKING:
    from airflow_provider_runware.run.ledger import ResultLedger
    from airflow_provider_runware.tasks.base import TaskArguments

GENERATED = "runware.results.generated"
FAILED = "runware.results.failed"
REUSED = "runware.results.reused"
# StatsD counters are integers and a gauge keeps only the last value, so cost is a counter of millionths
# of a US dollar: sums over any period and any number of workers are exact to $0.000001 per result.
COST_USD_MICROS = "runware.cost_usd_micros"
TIME_TO_STORED = "runware.results.time_to_stored"
UNKNOWN = "unknown"

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def label(value: Any) -> str:
    """A tag value and name part every backend accepts (the AIR id ``openai:2@2`` is ``openai_2_2``):
    ``:`` ends a StatsD name, ``.`` splits it, ``,`` and ``=`` end an InfluxDB tag."""
    return _UNSAFE.sub("_", str(value)) if value else UNKNOWN


@dataclass
class MetricsBatch:
    """One try's metrics, added up per task type and model, then sent in one go."""

    dag_id: str
    task_id: str
    counters: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    timings: list[tuple[str, str, float]] = field(default_factory=list)

    def count(self, name: str, task_type: Any, model: Any, amount: int = 1) -> None:
        if amount > 0:
            self.counters[(name, label(task_type), label(model))] += amount

    def cost(self, task_type: Any, model: Any, usd: Any) -> None:
        if isinstance(usd, int | float) and not isinstance(usd, bool) and math.isfinite(usd):
            self.count(COST_USD_MICROS, task_type, model, round(usd * 1_000_000))

    def time_to_stored(self, task_type: Any, model: Any, seconds: float) -> None:
        self.timings.append((label(task_type), label(model), max(seconds, 0.0)))

    def send(self, log: Any) -> None:
        """Hand every metric to Airflow's Stats; a failure is a warning, never the task's."""
        if not self.counters and not self.timings:
            return
        try:
            from airflow_provider_runware.compat import conf, stats

            facade = stats()
            legacy = conf.getboolean("metrics", "legacy_names_on", fallback=True)
            for (name, task_type, model), amount in self.counters.items():
                facade.incr(name, amount, tags=self._tags(task_type, model))
                if legacy:
                    facade.incr(f"{name}.{task_type}.{model}", amount)
            for task_type, model, seconds in self.timings:
                milliseconds = seconds * 1000.0  # StatsD timers are in ms; OTel's Airflow logger too
                facade.timing(TIME_TO_STORED, milliseconds, tags=self._tags(task_type, model))
                if legacy:
                    facade.timing(f"{TIME_TO_STORED}.{task_type}.{model}", milliseconds)
        except Exception as error:
            log.warning("Runware metrics could not be sent to Airflow's Stats: %r", error)

    def _tags(self, task_type: str, model: str) -> dict[str, str]:
        return {"task_type": task_type, "model": model, "dag_id": self.dag_id, "task_id": self.task_id}


def count_ledger(
    batch: MetricsBatch,
    ledger: ResultLedger,
    requests: Sequence[TaskArguments],
    now: float,
    *,
    finishing: bool,
) -> None:
    """Add what this try settled to ``batch`` and mark it counted in the ledger (saved by the caller).

    ``finishing``: the try accounts for every result (``TaskRun._finish``): stored results, their
    cost and time; otherwise it stopped early (a refused submission) and only failures are settled.
    Call it before ``Finisher.report``, which marks the billed results reported.
    """
    for entry in ledger.entries:
        request = requests[entry.row or 0]
        task_type, model = request.TASK_TYPE, request.model
        if entry.state in (ResultState.FAILED, ResultState.LOST) and entry.counted is None:
            batch.count(FAILED, task_type, model)
            entry.counted = "failed"
        if not finishing:
            continue
        if entry.was_generated and not entry.cost_reported:
            batch.cost(task_type, model, (entry.result or {}).get("cost"))
        if entry.state is ResultState.STORED:
            if entry.counted == "generated":
                batch.count(REUSED, task_type, model)
                continue
            batch.count(GENERATED, task_type, model)
            entry.counted = "generated"
            if entry.submitted_at is not None:
                batch.time_to_stored(task_type, model, now - entry.submitted_at)


def count_wire_results(
    batch: MetricsBatch,
    results: Iterable[Mapping[str, Any]] = (),
    errors: Iterable[Mapping[str, Any]] = (),
    submitted: Mapping[str, Mapping[str, Any]] | None = None,
    task_type: str | None = None,
) -> None:
    """The sensor's results, straight from Runware's answer: each item names its ``taskType``, not its
    model. The model is the item's own if Runware sent one, else the one the submitting task recorded
    for that taskUUID (``submitted``: its gallery record's results), else ``unknown``. The submission
    time is the submitting task's and unknown here."""
    submitted = submitted or {}

    def model_of(task_uuid: Any, item: Mapping[str, Any]) -> Any:
        return item.get("model") or (submitted.get(str(task_uuid)) or {}).get("model")

    for item in results:
        kind, model = item.get("taskType") or task_type, model_of(item.get("taskUUID"), item)
        batch.count(GENERATED, kind, model)
        batch.cost(kind, model, item.get("cost"))
    for error in errors:
        kind = error.get("task_type") or error.get("taskType") or task_type
        batch.count(FAILED, kind, model_of(error.get("task_uuid") or error.get("taskUUID"), error))
