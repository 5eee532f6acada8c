"""The gallery plugin is declared where Airflow looks, and loading it costs a task process nothing.

Every task process loads the plugins (Airflow's task runner integrates their macros), so importing the
plugin module must not build the FastAPI app, import Airflow's API security module (seconds) or Pillow.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from airflow_provider_runware import get_provider_info

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "airflow_provider_runware.plugins.runware_plugin.RunwarePlugin"
PROBE = """
import sys
import airflow.sdk
before = set(sys.modules)
from airflow_provider_runware.plugins.runware_plugin import RunwarePlugin
assert RunwarePlugin.name == "runware"
loaded = set(sys.modules) - before
heavy = sorted(m for m in loaded if m.split(".")[0] in ("fastapi", "PIL", "boto3", "google")
               or m.startswith(("airflow.api_fastapi", "airflow_provider_runware.plugins.app")))
print(heavy)
"""


def test_the_plugin_is_declared_in_provider_info_and_as_an_airflow_plugins_entry_point() -> None:
    assert get_provider_info()["plugins"] == [{"name": "runware", "plugin-class": PLUGIN}]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    module, _, name = PLUGIN.rpartition(".")
    assert project["entry-points"]["airflow.plugins"] == {"runware": f"{module}:{name}"}


def test_importing_the_plugin_builds_no_app_and_imports_nothing_heavy() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_app_is_built_when_the_api_server_reads_it() -> None:
    from fastapi import FastAPI

    from airflow_provider_runware.plugins.runware_plugin import RunwarePlugin

    (app,) = RunwarePlugin.fastapi_apps
    assert isinstance(app["app"], FastAPI)
    assert app["url_prefix"] == "/runware"
    assert RunwarePlugin().fastapi_apps[0]["app"] is app["app"]  # entry-point plugins are instances
