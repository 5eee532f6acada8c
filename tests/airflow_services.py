"""Real Airflow services (api-server, scheduler, triggerer, dag-processor) on loopback, for e2e tests.

Plain ``airflow dags test`` masks nothing and writes no task log; only a real task supervisor and a
real triggerer show what users' logs, XComs and rendered fields will contain. Each component is its own
process (and session), as in a deployment, so a test can kill and restart one of them. The metadata DB
is sqlite in the temporary AIRFLOW_HOME unless a database URL is given (the chaos campaign runs on
PostgreSQL, as production does).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servers import Spawned, free_port, start, stop, wait_until

COMPONENTS = {
    "api-server": ["api-server", "-H", "127.0.0.1", "-p", "{port}"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
}
FINISHED_RUN_STATES = ("success", "failed")


@dataclass
class AirflowServices:
    home: Path
    env: dict[str, str]
    database_url: str
    port: int
    components: dict[str, list[str]] = field(default_factory=lambda: dict(COMPONENTS))
    # Settings of one component only (on top of ``env``), by component name.
    component_env: dict[str, dict[str, str]] = field(default_factory=dict)
    processes: dict[str, Spawned] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    killed_on_stop: list[str] = field(default_factory=list)
    _engine: Any = None

    def airflow(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def query(self, sql: str, *args: Any, **params: Any) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` against the metadata DB: ``:name`` parameters work on sqlite and PostgreSQL;
        positional ones use the driver's own style (``?`` on sqlite)."""
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        if self._engine is None:
            # No pool: nothing of the test's stays connected to the DB while it is being stopped.
            self._engine = create_engine(self.database_url, poolclass=NullPool)
        with self._engine.connect() as connection:
            rows = connection.exec_driver_sql(sql, args) if args else connection.execute(text(sql), params)
            return [tuple(row) for row in rows]

    def trigger(
        self, dag_id: str, conf: Mapping[str, Any], run_id: str | None = None, timeout: float = 120.0
    ) -> str:
        """Trigger once the dag-processor has parsed the DAG; return the run id."""
        deadline = time.monotonic() + timeout
        named = ["--run-id", run_id] if run_id else []
        while True:
            result = self.airflow("dags", "trigger", dag_id, "-c", json.dumps(conf), *named)
            if result.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"could not trigger {dag_id}: {result.stderr[-2000:]}")
            time.sleep(1)
        if run_id:
            return run_id
        runs = self.query("SELECT run_id FROM dag_run WHERE dag_id = :dag_id ORDER BY id DESC", dag_id=dag_id)
        return str(runs[0][0])

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query(
            "SELECT state FROM dag_run WHERE dag_id = :dag_id AND run_id = :run_id",
            dag_id=dag_id,
            run_id=run_id,
        )
        return str(rows[0][0]) if rows else None

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str | None:
        """The run's final state, or ``None`` if it has not finished within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            if state in FINISHED_RUN_STATES:
                return state
            time.sleep(1)
        return None

    def trigger_and_wait(self, dag_id: str, conf: Mapping[str, Any], timeout: float = 240.0) -> str:
        """Trigger once the dag-processor has parsed the DAG; return the run's final state."""
        run_id = self.trigger(dag_id, conf, timeout=timeout)
        state = self.wait_for_run(dag_id, run_id, timeout)
        if state is None:
            raise AssertionError(f"{dag_id} did not finish within {timeout:.0f}s; see {self.home}")
        return state

    def start_component(self, name: str) -> Spawned:
        """Start one component (again, after a kill), logging to its own console file under home."""
        runs = self.restarts.get(name, -1) + 1
        self.restarts[name] = runs
        suffix = f".{runs}" if runs else ""
        args = [part.format(port=self.port) for part in self.components[name]]
        spawned = start(
            f"airflow {name}",
            [sys.executable, "-m", "airflow", *args],
            self.home / f"{name}{suffix}.console.log",
            env={**self.env, **self.component_env.get(name, {})},
        )
        self.processes[name] = spawned
        return spawned

    def kill_component(self, name: str) -> None:
        """SIGKILL a component and everything in its session (the triggerer's runner subprocess, a
        scheduler's workers): a crash, not a shutdown. Only processes this harness started are hit."""
        spawned = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(spawned.process.pid, signal.SIGKILL)
        spawned.process.wait(timeout=30)

    def all_text(self) -> dict[str, str]:
        """Every log file (task, trigger, component consoles) plus XCom values and rendered fields."""
        texts = {str(path): path.read_text(errors="replace") for path in self.home.rglob("*.log")}
        for task_id, key, value in self.query("SELECT task_id, key, value FROM xcom"):
            texts[f"xcom:{task_id}:{key}"] = str(value)
        for task_id, rendered in self.query(
            "SELECT task_id, rendered_fields FROM rendered_task_instance_fields"
        ):
            texts[f"rendered:{task_id}"] = str(rendered)
        return texts

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def plugin_discovery() -> dict[str, str]:
    """Users' api-servers load the provider's gallery plugin through the ``airflow.plugins`` entry point.
    Where the installed metadata predates it (an editable install not refreshed since), load it through
    the provider info's ``plugins`` instead, which Airflow reads with ``lazy_discover_providers`` off."""
    from importlib.metadata import entry_points

    if any(ep.value.startswith("airflow_provider_runware") for ep in entry_points(group="airflow.plugins")):
        return {}
    return {"AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS": "False"}


def service_env(home: Path, dags: Path, database_url: str, port: int) -> dict[str, str]:
    """Configuration every component shares; the caller's ``extra_env`` goes on top."""
    return {
        **plugin_discovery(),
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__FERNET_KEY": "n1O-SuTTvN3xIYVUKlJuCn3D_mvI8tUZYUYzD0ekBfg=",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-jwt-secret-0123456789abcdef0123",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
    }


@contextlib.contextmanager
def airflow_services(
    home: Path,
    dag_files: Sequence[Path],
    extra_env: Mapping[str, str],
    *,
    database_url: str | None = None,
    components: Mapping[str, list[str]] = COMPONENTS,
    component_env: Mapping[str, dict[str, str]] | None = None,
    port: int | None = None,
) -> Iterator[AirflowServices]:
    """Migrate the metadata DB, start the components (by default the four of a LocalExecutor
    deployment; each name maps to its ``airflow`` arguments) and yield once the api-server is healthy;
    every component still running is stopped (terminate, then kill) when the block ends. ``port`` is the
    api-server's (a free one unless given, e.g. for a test that puts a front before its execution API)."""
    dags = home / "dags"
    dags.mkdir(parents=True)
    for dag_file in dag_files:
        shutil.copy(dag_file, dags / dag_file.name)
    port = port or free_port()
    url = database_url or f"sqlite:///{home / 'airflow.db'}"
    env = {**service_env(home, dags, url, port), **extra_env}
    services = AirflowServices(
        home=home,
        env=env,
        database_url=url,
        port=port,
        components=dict(components),
        component_env=dict(component_env or {}),
    )
    migrate = services.airflow("db", "migrate", timeout=300)
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    try:
        for name in services.components:
            services.start_component(name)
        wait_until(
            f"http://127.0.0.1:{port}/api/v2/monitor/health",
            *services.processes.values(),
            timeout=90.0,
            interval=0.5,
        )
        yield services
    finally:
        services.close()
        services.killed_on_stop = stop(*services.processes.values(), timeout=20)
