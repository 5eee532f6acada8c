"""Shared fixtures. The Runware emulator runs once per session as a real subprocess on loopback.

Airflow reads its configuration when first imported, so the throwaway AIRFLOW_HOME and the settings
every test relies on are put in place here, before any test module imports Airflow.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulator_handle import BEFORE_DALLE2_RETIREMENT, EMULATOR_API_KEY, EmulatorHandle, running_emulator

_REPO = Path(__file__).resolve().parent.parent
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="runware-airflow-home-"))
# dag.test() runs only DAGs found in the configured dags folder: link the examples and the test DAGs in.
_DAGS_FOLDER = _AIRFLOW_HOME / "dags"
_DAGS_FOLDER.mkdir()
for _source in [*(_REPO / "example_dags").iterdir(), *(_REPO / "tests" / "dags").glob("*.py")]:
    if not _source.name.startswith(("_", ".")):
        (_DAGS_FOLDER / _source.name).symlink_to(_source)
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(_DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__FERNET_KEY": "n1O-SuTTvN3xIYVUKlJuCn3D_mvI8tUZYUYzD0ekBfg=",
    }
)


def pytest_report_header(config: pytest.Config) -> str:
    """Which Airflow line this session tests (``make matrix`` runs every line)."""
    from airflow_lines import AIRFLOW_LINE, AIRFLOW_VERSION

    return f"airflow: {AIRFLOW_VERSION} (the {AIRFLOW_LINE} line)"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The throwaway AIRFLOW_HOME (metadata DB, logs) goes with the session."""
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


# Where the task SDK keeps its process-wide secrets masker: from Airflow 3.1, and on 3.0.
_MASKER_MODULES = ("airflow.sdk._shared.secrets_masker", "airflow.sdk.execution_time.secrets_masker")


def reset_task_secrets_masker() -> None:
    """Forget every value registered with the task SDK's secrets masker in this process.

    A real worker's supervisor does this before each task (``supervise`` calls
    ``reset_secrets_masker``), but ``dag.test()`` runs every task inside the pytest process and never
    does: without this, each presigned URL of every earlier test stayed registered, and the masker
    compiles one regular expression of all of them on every new value, so a 100-image task late in
    the session spent minutes compiling. Only a masker already imported is reset (no import here:
    some tests check what importing the provider loads)."""
    for name in _MASKER_MODULES:
        module = sys.modules.get(name)
        if module is not None and "reset_secrets_masker" in vars(module):
            module.reset_secrets_masker()
            return


@pytest.fixture(autouse=True)
def fresh_secrets_masker() -> None:
    """Each test starts with an empty secrets masker, as each task does on a real worker."""
    reset_task_secrets_masker()


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorHandle]:
    """The emulator process (key ``test-runware-key``), started on first use, stopped at session end.

    Its date is pinned before DALL·E 2's deactivation, so the tests that replay that model page see it
    live (a reset keeps the date; retirement tests change it with ``config(today=...)``). Its videos take
    0.5 s instead of the default 30 s (``--video-seconds``), so video tests stay fast."""
    with running_emulator(
        EMULATOR_API_KEY, "--today", BEFORE_DALLE2_RETIREMENT, "--video-seconds", "0.5"
    ) as handle:
        yield handle


@pytest.fixture
def runware(emulator: EmulatorHandle) -> EmulatorHandle:
    """The emulator, reset to a clean state (no tasks, log, faults; balance 100; start-up modes)."""
    emulator.reset()
    return emulator
