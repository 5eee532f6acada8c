"""Which Airflow 3 line the tests run on, and skips for what a line does not have.

The provider supports every Airflow 3 line (``make matrix`` runs the core suite on each). A test that
cannot work on an older line, because Airflow itself lacks what the test exercises, is marked so that
it is *skipped with a reason naming the line and the missing feature*, never passed silently::

    pytestmark = requires_airflow("3.1", why="HITLOperator (airflow.providers.standard)")

Keep such skips few: the provider's guarantees are meant to hold on every line.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest
from packaging.version import Version

AIRFLOW_VERSION = Version(version("apache-airflow"))
AIRFLOW_LINE = f"{AIRFLOW_VERSION.major}.{AIRFLOW_VERSION.minor}"


def airflow_at_least(minimum: str) -> bool:
    """Whether the installed Airflow (pre-releases count as their release) is ``minimum`` or later."""
    return Version(AIRFLOW_VERSION.base_version) >= Version(minimum)


def requires_airflow(minimum: str, why: str) -> pytest.MarkDecorator:
    """Skip on lines older than ``minimum``, naming the line and what it lacks."""
    return pytest.mark.skipif(
        not airflow_at_least(minimum),
        reason=f"Airflow {AIRFLOW_LINE} line ({AIRFLOW_VERSION}) lacks {why}: needs Airflow {minimum}+",
    )


def dag_bag(dag_folder: str) -> Any:
    """Airflow's DagBag over one DAG file (or folder): ``airflow.dag_processing.dagbag`` from 3.2,
    ``airflow.models.dagbag`` on 3.0 and 3.1."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ModuleNotFoundError:  # Airflow 3.0 and 3.1
        from airflow.models.dagbag import DagBag
    return DagBag(dag_folder=dag_folder)
