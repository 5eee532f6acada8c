"""The chaos campaign: a real Airflow deployment on PostgreSQL, a faulty Runware, crashes, then a verdict.

PostgreSQL, moto (S3) and the emulator (seeded random faults) start first; then ``airflow db migrate``
and the api-server, scheduler (LocalExecutor), triggerer and dag-processor as separate processes. One
run of ``runware_chaos_campaign`` is triggered while a watcher kills a waiting worker and restarts the
triggerer. When the run ends (or the time budget does) the Airflow services stop, the evidence is
collected, everything else stops, and the invariants are checked. ``make chaos`` and the pytest
wrapper both call :func:`run_campaign`.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from airflow_services import AirflowServices, airflow_services
from chaos_evidence import (
    Evidence,
    collect_db,
    collect_emulator,
    collect_files,
    collect_objects,
    save_emulator_log,
)
from chaos_invariants import Report, check
from chaos_plan import DAG_FILES, Plan
from chaos_postgres import PostgresServer, running_postgres
from chaos_process_faults import ProcessFaults
from chaos_processes import ProcessTracker
from emulator_handle import BEFORE_DALLE2_RETIREMENT, EmulatorHandle, running_emulator
from servers import Spawned, serving

RESULTS_DIR = Path(__file__).parent / "results"
AWS_REGION = "us-east-1"
SUMMARY_KEYS = ("images", "delivered", "tasks", "succeeded", "failed", "not_run")
VERDICT_KEYS = ("generations", "failed_generations", "duplicates", "lost", "spurious_failures")


@dataclass(frozen=True)
class CampaignSettings:
    seed: int = 7
    fault_rate: float = 0.3
    worker_kills: int = 1
    triggerer_restarts: int = 1
    outages: int = 2
    # How long the DAG run may take once triggered; the rest of the ~8 minute budget is start-up,
    # migration, shutdown and checking.
    run_timeout: float = 330.0
    # Seconds one image takes at the emulator (plus random queue delays): long enough that blocking
    # tasks are caught waiting and deferrable ones really defer.
    generation_seconds: float = 12.0
    parallelism: int = 5


@dataclass
class CampaignResult:
    settings: CampaignSettings
    run_id: str
    run_state: str | None
    report: Report
    process_events: list[dict[str, Any]]
    harness_problems: list[str]
    phases: dict[str, float] = field(default_factory=dict)
    killed_on_stop: list[str] = field(default_factory=list)

    @property
    def wall_seconds(self) -> float:
        return round(sum(self.phases.values()), 1)

    def _events(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.process_events if event["kind"] == kind]

    @property
    def killed_workers(self) -> int:
        return len(self._events("worker_killed"))

    @property
    def triggerer_restarts(self) -> int:
        return len(self._events("triggerer_restarted"))

    @property
    def outages(self) -> int:
        return len(self._events("api_outage"))

    @property
    def faults(self) -> dict[str, int]:
        """Random faults by kind, plus the requests each scheduled outage refused."""
        faults = dict(self.report.faults)
        for outage in self._events("api_outage"):
            name = f"outage_{outage['fault']}"
            faults[name] = faults.get(name, 0) + outage["refused_posts"]
        return faults

    def summary_line(self) -> str:
        counts = self.report.counts
        faults = _inline(self.faults)
        parts = [
            f"seed={self.settings.seed}",
            f"rate={self.settings.fault_rate}",
            *(f"{key}={counts.get(key, 0)}" for key in SUMMARY_KEYS),
            f"failed_by={{{_inline(self.report.failed_by)}}}",
            f"faults={{{faults}}}",
            *(f"{key}={counts.get(key, 0)}" for key in VERDICT_KEYS),
            f"leaks={counts.get('leaks', 0)}",
            f"leftovers={counts.get('leftovers', 0)}",
            f"killed_workers={self.killed_workers}",
            f"triggerer_restarts={self.triggerer_restarts}",
            f"outages={self.outages}",
            f"violations={len(self.report.violations)}",
            f"wall={self.wall_seconds:.0f}s",
        ]
        return "chaos: " + " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary_line(),
            "settings": asdict(self.settings),
            "run_id": self.run_id,
            "run_state": self.run_state,
            **self.report.to_json(),
            "faults": self.faults,
            "process_events": self.process_events,
            "harness_problems": self.harness_problems,
            "killed_on_stop": self.killed_on_stop,
            "phases_seconds": self.phases,
        }

    def describe_violations(self) -> str:
        return "\n".join(f"- {v.invariant} @ {v.where}: {v.detail}" for v in self.report.violations)


def _inline(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind}: {n}" for kind, n in sorted(counts.items()))


class Phases:
    """Wall time per phase, for the report (never asserted on): each mark closes the phase named."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def mark(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = round(self.seconds.get(name, 0.0) + now - self._last, 1)
        self._last = now


@dataclass(frozen=True)
class Stores:
    postgres_url: str
    moto_url: str
    emulator: EmulatorHandle
    s3: Any
    postgres: PostgresServer


def _moto(log_path: Path, tracker: ProcessTracker) -> Any:
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p"]
    return serving(
        "moto server",
        lambda port: [*command, str(port)],
        log_path,
        health="/moto-api/",
        on_start=lambda spawned: tracker.add_root(spawned.process.pid),
    )


def _s3_client(endpoint_url: str, secret: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=AWS_REGION,
        aws_access_key_id="chaos-access-key",
        aws_secret_access_key=secret,
    )


def _service_env(
    settings: CampaignSettings, emulator: EmulatorHandle, moto_url: str, aws_secret: str
) -> dict[str, str]:
    aws = {
        "conn_type": "aws",
        "login": "chaos-access-key",
        "password": aws_secret,
        "extra": {"endpoint_url": moto_url, "region_name": AWS_REGION},
    }
    return {
        "AIRFLOW_CONN_RUNWARE_DEFAULT": emulator.connection(),
        "AIRFLOW_CONN_AWS_CHAOS": json.dumps(aws),
        "AIRFLOW__CORE__PARALLELISM": str(settings.parallelism),
        # A killed triggerer's triggers go to the next one after this long without a heartbeat.
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "15",
    }


def _emulator_args(settings: CampaignSettings) -> list[str]:
    # The campaign asks for the seed model, DALL·E 2, at its cheapest size: the emulator plays a day
    # before Runware retired it, as the rest of the suite does.
    return [
        "--today",
        BEFORE_DALLE2_RETIREMENT,
        "--fault-rate",
        str(settings.fault_rate),
        "--fault-seed",
        str(settings.seed),
        "--generation-seconds",
        str(settings.generation_seconds),
    ]


def _run_dag(
    services: AirflowServices,
    settings: CampaignSettings,
    plan: Plan,
    emulator: EmulatorHandle,
    tracker: ProcessTracker,
    run_id: str,
) -> tuple[str | None, ProcessFaults]:
    for spawned in services.processes.values():
        tracker.add_root(spawned.process.pid)
    services.trigger(plan.dag_id, {}, run_id=run_id)
    faults = ProcessFaults(
        services=services,
        emulator=emulator,
        plan=plan,
        run_id=run_id,
        tracker=tracker,
        on_restart=tracker.add_root,
        worker_kills=settings.worker_kills,
        triggerer_restarts=settings.triggerer_restarts,
        outages=settings.outages,
    )
    faults.start()
    try:
        return services.wait_for_run(plan.dag_id, run_id, settings.run_timeout), faults
    finally:
        faults.stop()
        tracker.snapshot()


def _harness_problems(
    settings: CampaignSettings, run_state: str | None, faults: ProcessFaults, evidence: Evidence
) -> list[str]:
    """Reasons the run proves less than it should (not invariant violations)."""
    problems = [f"process-fault watcher: {error}" for error in faults.errors]
    if run_state is None:
        problems.append(f"the DAG run did not finish within {settings.run_timeout:.0f}s")
    if faults.count("worker_killed") < settings.worker_kills:
        problems.append("no blocking task was caught waiting: the worker kill was not exercised")
    if faults.count("triggerer_restarted") < settings.triggerer_restarts:
        problems.append("no task was deferred: the triggerer restart was not exercised")
    if faults.count("api_outage") < settings.outages:
        problems.append("too few tasks were waiting at once: not every API outage was exercised")
    if settings.fault_rate > 0 and not evidence.fault_stats.get("total"):
        problems.append("the emulator injected no faults")
    return problems


@contextmanager
def running_stores(
    logs: Path, tracker: ProcessTracker, api_key: str, aws_secret: str, settings: CampaignSettings
) -> Iterator[Stores]:
    """PostgreSQL, moto and the emulator (random faults on), each tracked; stopped in reverse order."""

    def track(spawned: Spawned) -> None:
        tracker.add_root(spawned.process.pid)

    with running_postgres(logs / "postgres.log") as postgres:
        tracker.markers.append(str(postgres.data_dir))
        tracker.add_root(postgres.pid)
        with (
            _moto(logs / "moto.log", tracker) as moto_url,
            running_emulator(api_key, *_emulator_args(settings), on_start=track) as emulator,
        ):
            yield Stores(postgres.url, moto_url, emulator, _s3_client(moto_url, aws_secret), postgres)


def collect_evidence(
    plan: Plan, stores: Stores, services: AirflowServices, evidence: Evidence, home: Path, logs: Path
) -> Evidence:
    """What the run left, read once Airflow has stopped and while the stores still run: the metadata
    DB, the emulator's log, the bucket and the files under AIRFLOW_HOME (both campaigns)."""
    collect_db(services, plan, evidence)
    services.close()
    collect_emulator(stores.emulator, evidence)
    save_emulator_log(evidence, logs / "emulator-log.json")
    collect_objects(stores.s3, plan.bucket, evidence)
    collect_files(home, evidence)
    return evidence


def judge(
    plan: Plan, evidence: Evidence, tracker: ProcessTracker, secrets_used: dict[str, set[str]]
) -> Report:
    """The invariants over the evidence, once every store has stopped: a process of the run still alive
    then is a leftover (killed here, and reported)."""
    leftovers = tracker.leftovers()
    tracker.kill(leftovers)
    evidence.secrets.update(secrets_used)
    return check(plan, evidence, leftovers)


def run_campaign(
    settings: CampaignSettings, workdir: Path, results_dir: Path | None = RESULTS_DIR
) -> CampaignResult:
    """Run one campaign in ``workdir`` (AIRFLOW_HOME and server logs) and judge it."""
    plan = Plan.load()
    home = workdir / "airflow-home"
    logs = workdir / "servers"
    logs.mkdir(parents=True, exist_ok=True)
    tracker = ProcessTracker(markers=[str(home)])
    api_key = f"chaos-runware-key-{secrets.token_hex(12)}"
    aws_secret = f"chaos-aws-secret-{secrets.token_hex(12)}"
    run_id = f"chaos-seed-{settings.seed}"
    phases = Phases()

    with running_stores(logs, tracker, api_key, aws_secret, settings) as stores:
        stores.s3.create_bucket(Bucket=plan.bucket)
        phases.mark("start-stores")
        env = _service_env(settings, stores.emulator, stores.moto_url, aws_secret)
        with airflow_services(home, DAG_FILES, env, database_url=stores.postgres_url) as services:
            phases.mark("migrate-and-start-airflow")
            run_state, faults = _run_dag(services, settings, plan, stores.emulator, tracker, run_id)
            phases.mark("dag-run")
        phases.mark("stop-airflow")
        evidence = collect_evidence(plan, stores, services, Evidence(run_id, run_state), home, logs)
        phases.mark("collect")
    report = judge(plan, evidence, tracker, {"api_key": {api_key}, "aws_secret": {aws_secret}})
    phases.mark("stop-stores-and-check")
    result = CampaignResult(
        settings=settings,
        run_id=run_id,
        run_state=run_state,
        report=report,
        process_events=faults.events,
        harness_problems=_harness_problems(settings, run_state, faults, evidence),
        phases=phases.seconds,
        killed_on_stop=services.killed_on_stop,
    )
    if results_dir is not None:
        write_results(result, results_dir)
    return result


def write_results(result: CampaignResult, results_dir: Path, name: str = "last-run") -> None:
    """``<name>.json`` (everything) and ``<name>.txt`` (the summary line); no secret goes in."""
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{name}.json").write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n")
    (results_dir / f"{name}.txt").write_text(result.summary_line() + "\n")
