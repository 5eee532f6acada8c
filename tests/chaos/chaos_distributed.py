"""The chaos campaign's distributed mode: CeleryExecutor across two workers, two triggerers, a supervisor.

The same plan format, DAG, evidence and invariants as the LocalExecutor campaign (:mod:`chaos_campaign`),
on the deployment teams that outgrow one machine run: PostgreSQL 15, Redis as the Celery broker (the
result backend is PostgreSQL), the api-server, scheduler and dag-processor, two Celery workers
(``airflow celery worker -H worker-N@%h``) and two triggerers, each its own process, with
:class:`~chaos_supervisor.Supervisor` starting again whatever exits, as systemd or Kubernetes would.
On top of the emulator's seeded faults, :class:`~chaos_distributed_faults.DistributedFaults` kills
workers (while submitting, while waiting), freezes a task's supervisor until a second try runs beside
the first, kills one triggerer for good, stops the database twice and restarts Redis; the broker's short
visibility timeout makes it redeliver running tasks. Timeouts that
decide how soon Airflow notices a dead worker, triggerer or lost message are shortened so that one run
fits in a few minutes; each is named in :func:`_distributed_env`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_services import COMPONENTS, FINISHED_RUN_STATES, AirflowServices, airflow_services
from chaos_campaign import (
    SUMMARY_KEYS,
    VERDICT_KEYS,
    CampaignResult,
    CampaignSettings,
    Phases,
    _inline,
    _service_env,
    collect_evidence,
    judge,
    running_stores,
    write_results,
)
from chaos_distributed_evidence import concurrent_tries, ledger_refusals, redeliveries
from chaos_distributed_faults import FAULT_KINDS, DistributedFaults
from chaos_evidence import (
    Evidence,
)
from chaos_plan import DAG_FILES, Plan
from chaos_processes import ProcessTracker
from chaos_redis import running_redis
from chaos_supervisor import Supervisor

HERE = Path(__file__).resolve().parent
DISTRIBUTED_PLAN_FILE = HERE / "dags" / "chaos_plan_distributed.json"
RESULTS_NAME = "last-run-distributed"
WORKERS = ("worker-1", "worker-2")
TRIGGERERS = ("triggerer-1", "triggerer-2")


def distributed_components(concurrency: int) -> dict[str, list[str]]:
    """api-server, scheduler and dag-processor as usual; two triggerers and two Celery workers, each
    without its log server (their ports would clash on one host) and with its own Celery hostname."""
    components = {name: COMPONENTS[name] for name in ("api-server", "scheduler", "dag-processor")}
    for name in TRIGGERERS:
        components[name] = ["triggerer", "--skip-serve-logs"]
    for name in WORKERS:
        components[name] = [
            *("celery", "worker", "--skip-serve-logs", "-H", f"{name}@%h"),
            *("--concurrency", str(concurrency)),
        ]
    return components


@dataclass(frozen=True)
class DistributedSettings(CampaignSettings):
    worker_kills: int = 0
    triggerer_restarts: int = 0
    outages: int = 0
    run_timeout: float = 240.0
    # A little longer than the LocalExecutor campaign's: tasks wait long enough for every fault that
    # needs waiting tasks to find some.
    generation_seconds: float = 15.0
    parallelism: int = 6
    worker_concurrency: int = 3
    # Shorter than a blocking task's wait: Redis hands the message of a task still running to a worker
    # again (the forced redelivery).
    visibility_timeout: int = 15
    # How long a task instance may go without a heartbeat before the scheduler fails it (default 300 s).
    heartbeat_timeout: int = 30
    # How long a task instance may stay queued (a lost broker message) before the scheduler requeues it.
    queued_timeout: int = 45


def _component_env(components: Mapping[str, list[str]]) -> dict[str, dict[str, str]]:
    """Each component's name, which :mod:`chaos_hostname` reports as its hostname to Airflow."""
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH", "")]))
    return {name: {"CHAOS_COMPONENT": name, "PYTHONPATH": path} for name in components}


def _distributed_env(settings: DistributedSettings, broker_url: str, postgres_url: str) -> dict[str, str]:
    return {
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "chaos_hostname.component_name",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        # SQLAlchemy 2.1 reads postgresql:// as psycopg 3; the campaign's URL names psycopg2.
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{postgres_url}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(settings.worker_concurrency),
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": str(settings.visibility_timeout),
        # kombu looks for messages past their visibility timeout every 10 x 10 s by default; every 2 s
        # here, so that a running task's message is redelivered while it still runs.
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__UNACKED_RESTORE_INTERVAL": "2",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__UNACKED_RESTORE_THROTTLE": "1",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(settings.heartbeat_timeout),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(settings.queued_timeout),
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
        # A scheduler looks for dead workers' tasks, and for lost messages, only among the task
        # instances it queued itself; those of a scheduler that died (the DB outage) wait until it
        # adopts them, once their scheduler's job has missed heartbeats for the health threshold
        # (default 30 s), at the next orphan check (default every 300 s).
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "20",
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "15",
    }


@dataclass
class DistributedResult(CampaignResult):
    restarts: list[dict[str, Any]] = field(default_factory=list)
    redelivery: dict[str, int] = field(default_factory=dict)
    concurrent_tries: list[dict[str, Any]] = field(default_factory=list)
    ledger_refusals: int = 0

    @property
    def process_faults(self) -> dict[str, int]:
        counts = {kind: self._count(kind) for kind in FAULT_KINDS}
        counts["redelivered"] = self.redelivery.get("redeliveries", 0)
        return counts

    @property
    def two_tries_at_once(self) -> int:
        """Frozen tries still alive when the next try of their task instance had started."""
        return sum(bool(event.get("two_tries_at_once")) for event in self.process_events)

    def _count(self, kind: str) -> int:
        return sum(event["kind"] == kind for event in self.process_events)

    def restarted_after(self) -> dict[str, dict[str, int]]:
        """fault -> component -> how many times the supervisor started it again after it."""
        after: dict[str, dict[str, int]] = {}
        for restart in self.restarts:
            per_fault = after.setdefault(restart["after_fault"], {})
            per_fault[restart["component"]] = per_fault.get(restart["component"], 0) + 1
        return after

    def summary_line(self) -> str:
        counts = self.report.counts
        restarted = "; ".join(
            f"{fault}: " + ", ".join(f"{name} x{n}" for name, n in sorted(components.items()))
            for fault, components in self.restarted_after().items()
        )
        parts = [
            f"seed={self.settings.seed}",
            f"rate={self.settings.fault_rate}",
            *(f"{key}={counts.get(key, 0)}" for key in SUMMARY_KEYS),
            f"failed_by={{{_inline(self.report.failed_by)}}}",
            f"faults={{{_inline(self.faults)}}}",
            f"process_faults={{{_inline(self.process_faults)}}}",
            *(f"{key}={counts.get(key, 0)}" for key in VERDICT_KEYS),
            f"leaks={counts.get('leaks', 0)}",
            f"leftovers={counts.get('leftovers', 0)}",
            f"restarted={{{restarted}}}",
            f"refused_starts={self.redelivery.get('refused_starts', 0)}",
            f"two_tries_at_once={self.two_tries_at_once}",
            f"concurrent_tries={len(self.concurrent_tries)}",
            f"ledger_refusals={self.ledger_refusals}",
            f"violations={len(self.report.violations)}",
            f"wall={self.wall_seconds:.0f}s",
        ]
        return "chaos-distributed: " + " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            **super().to_json(),
            "restarts": self.restarts,
            "redelivery": self.redelivery,
            "concurrent_tries": self.concurrent_tries,
            "ledger_refusals": self.ledger_refusals,
        }


def _harness_problems(
    settings: DistributedSettings,
    run_state: str | None,
    faults: DistributedFaults,
    supervisor: Supervisor,
    evidence: Evidence,
) -> list[str]:
    """Reasons the run proves less than it should (not invariant violations)."""
    problems = [f"fault watcher: {error}" for error in faults.errors]
    problems += [f"supervisor: {error}" for error in supervisor.errors]
    if run_state is None:
        problems.append(f"the DAG run did not finish within {settings.run_timeout:.0f}s")
    problems += [f"the {kind} fault never found its moment" for kind in faults.missing()]
    if settings.fault_rate > 0 and not evidence.fault_stats.get("total"):
        problems.append("the emulator injected no faults")
    return problems


def _wait_for_run(services: AirflowServices, dag_id: str, run_id: str, timeout: float) -> str | None:
    """The run's final state, or ``None`` after ``timeout``; the DB being down (an outage) is waited out."""
    from sqlalchemy.exc import DBAPIError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(DBAPIError):
            state = services.run_state(dag_id, run_id)
            if state in FINISHED_RUN_STATES:
                return state
        time.sleep(1)
    return None


def _dag_files(workdir: Path) -> list[Path]:
    """The campaign's DAG with the distributed plan under the name the DAG reads."""
    folder = workdir / "dag-files"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DISTRIBUTED_PLAN_FILE, folder / "chaos_plan.json")
    return [DAG_FILES[0], folder / "chaos_plan.json"]


def run_distributed_campaign(
    settings: DistributedSettings, workdir: Path, results_dir: Path | None = None
) -> DistributedResult:
    """Run one distributed campaign in ``workdir`` and judge it with the campaign's invariants."""
    plan = Plan.load(DISTRIBUTED_PLAN_FILE)
    home = workdir / "airflow-home"
    logs = workdir / "servers"
    logs.mkdir(parents=True, exist_ok=True)
    tracker = ProcessTracker(markers=[str(home)])
    api_key = f"chaos-runware-key-{secrets.token_hex(12)}"
    aws_secret = f"chaos-aws-secret-{secrets.token_hex(12)}"
    run_id = f"chaos-distributed-seed-{settings.seed}"
    phases = Phases()

    with (
        running_stores(logs, tracker, api_key, aws_secret, settings) as stores,
        running_redis(logs / "redis.log") as redis,
    ):
        tracker.add_root(redis.pid)
        stores.s3.create_bucket(Bucket=plan.bucket)
        phases.mark("start-stores")
        env = {
            **_service_env(settings, stores.emulator, stores.moto_url, aws_secret),
            **_distributed_env(settings, redis.url, stores.postgres_url),
        }
        components = distributed_components(settings.worker_concurrency)
        with airflow_services(
            home,
            _dag_files(workdir),
            env,
            database_url=stores.postgres_url,
            components=components,
            component_env=_component_env(components),
        ) as services:
            phases.mark("migrate-and-start-airflow")
            for spawned in services.processes.values():
                tracker.add_root(spawned.process.pid)
            faults = DistributedFaults(
                services=services,
                emulator=stores.emulator,
                plan=plan,
                run_id=run_id,
                tracker=tracker,
                on_restart=tracker.add_root,
                postgres=stores.postgres,
                redis=redis,
            )
            supervisor = Supervisor(
                services,
                on_start=tracker.add_root,
                current_fault=faults.current_fault,
                elapsed=faults.elapsed,
            )
            faults.supervisor = supervisor
            services.trigger(plan.dag_id, {}, run_id=run_id)
            faults.start()
            supervisor.start()
            try:
                run_state = _wait_for_run(services, plan.dag_id, run_id, settings.run_timeout)
            finally:
                faults.stop()
                supervisor.stop()
                tracker.snapshot()
            phases.mark("dag-run")
        phases.mark("stop-airflow")
        evidence = collect_evidence(plan, stores, services, Evidence(run_id, run_state), home, logs)
        phases.mark("collect")
    report = judge(plan, evidence, tracker, {"api_key": {api_key}, "aws_secret": {aws_secret}})
    phases.mark("stop-stores-and-check")
    result = DistributedResult(
        settings=settings,
        run_id=run_id,
        run_state=run_state,
        report=report,
        process_events=faults.events,
        harness_problems=_harness_problems(settings, run_state, faults, supervisor, evidence),
        phases=phases.seconds,
        killed_on_stop=services.killed_on_stop,
        restarts=supervisor.restarts,
        redelivery=redeliveries(home),
        concurrent_tries=concurrent_tries(home),
        ledger_refusals=ledger_refusals(home),
    )
    if results_dir is not None:
        write_results(result, results_dir, RESULTS_NAME)
    return result
