"""Running DAG files for real with ``dag.test()``: trigger inline, task runner, task_state_store, XCom."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow_lines import dag_bag

ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")


def printed(capfd: Any) -> str:
    """What the run printed, as plain text on one line. Airflow 3.0's task runner prints a task's
    exception through rich: colour codes around values and lines wrapped at the terminal's width."""
    out, err = capfd.readouterr()
    return " ".join(ANSI_CODES.sub("", out + err).split())


def migrate_database() -> None:
    """A fresh metadata DB in the session's throwaway AIRFLOW_HOME (see tests/conftest.py)."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


@dataclass
class DagOutcome:
    state: str
    tasks: dict[str, tuple[str, int]]
    run_id: str
    dag_id: str

    def xcom(self, task_id: str, key: str = "return_value") -> list[Any]:
        """Values pushed by every (mapped) instance of ``task_id``, in map-index order."""
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = (
                session.query(XComModel)
                .filter_by(dag_id=self.dag_id, run_id=self.run_id, task_id=task_id, key=key)
                .order_by(XComModel.map_index)
                .all()
            )
            return [json.loads(row.value) if isinstance(row.value, str) else row.value for row in rows]


def run_dag(
    file_name: str, dag_id: str, conf: dict[str, Any] | None = None, logical_date: datetime | None = None
) -> DagOutcome:
    """Run the DAG once. The same ``logical_date`` again re-runs the same run id (Airflow clears it
    first, as a user's "clear" does), which is how tests play a manual clear."""
    bag = dag_bag(str(Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / file_name))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    assert dag is not None, f"{dag_id} not found in {file_name}"
    same_run = {"logical_date": logical_date, "run_after": logical_date} if logical_date else {}
    run = dag.test(run_conf=conf, **same_run)
    tasks = {
        ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": (str(ti.state), ti.try_number)
        for ti in run.get_task_instances()
    }
    return DagOutcome(state=str(run.state), tasks=tasks, run_id=run.run_id, dag_id=dag_id)
