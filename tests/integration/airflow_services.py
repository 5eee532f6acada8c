"""Real Airflow services (api-server, scheduler, triggerer, dag-processor) on loopback, for e2e tests.

Plain ``airflow dags test`` masks nothing and writes no task log; only a real task supervisor and a
real triggerer show what users' logs, XComs and rendered fields will contain.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
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


@dataclass
class AirflowServices:
    home: Path
    env: dict[str, str]
    processes: list[Spawned] = field(default_factory=list)

    @property
    def database(self) -> Path:
        return self.home / "airflow.db"

    def airflow(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.database, timeout=30)) as db:
            return db.execute(sql, params).fetchall()

    def trigger_and_wait(self, dag_id: str, conf: Mapping[str, Any], timeout: float = 240.0) -> str:
        """Trigger once the dag-processor has parsed the DAG; return the run's final state."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.airflow("dags", "trigger", dag_id, "-c", json.dumps(conf))
            if result.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"could not trigger {dag_id}: {result.stderr[-2000:]}")
            time.sleep(1)
        while time.monotonic() < deadline:
            states = self.query("SELECT state FROM dag_run WHERE dag_id = ?", dag_id)
            if states and states[0][0] in ("success", "failed"):
                return str(states[0][0])
            time.sleep(1)
        raise AssertionError(f"{dag_id} did not finish within {timeout:.0f}s; see {self.home}")

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


@contextlib.contextmanager
def airflow_services(
    home: Path, dag_files: list[Path], extra_env: Mapping[str, str]
) -> Iterator[AirflowServices]:
    dags = home / "dags"
    dags.mkdir(parents=True)
    for dag_file in dag_files:
        shutil.copy(dag_file, dags / dag_file.name)
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-jwt-secret-0123456789abcdef0123",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
        **extra_env,
    }
    services = AirflowServices(home=home, env=env)
    migrate = services.airflow("db", "migrate")
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    try:
        for name, command in COMPONENTS.items():
            args = [part.format(port=port) for part in command]
            services.processes.append(
                start(
                    f"airflow {name}",
                    [sys.executable, "-m", "airflow", *args],
                    home / f"{name}.console.log",
                    env=env,
                )
            )
        wait_until(
            f"http://127.0.0.1:{port}/api/v2/monitor/health", *services.processes, timeout=90.0, interval=0.5
        )
        yield services
    finally:
        stop(*services.processes, timeout=20)
