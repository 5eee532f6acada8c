"""The provider is discoverable by Airflow exactly as users install it (entry point + schema)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema
import pytest
from packaging.version import Version

from airflow_provider_runware import PACKAGE_NAME, get_provider_info

# Airflow 3.2 reads the connection form from provider info (``conn-fields``, ``ui-field-behaviour``);
# 3.0 and 3.1 read it from the hook's classmethods, and only where flask_appbuilder is installed.
FORM_FROM_PROVIDER_INFO = Version(airflow.__version__) >= Version("3.2.0")
needs_form_from_provider_info = pytest.mark.skipif(
    not FORM_FROM_PROVIDER_INFO,
    reason=f"Airflow {airflow.__version__} builds the connection form from the hook's classmethods "
    "(tested in test_the_hook_form_of_airflow_3_0_and_3_1), not from conn-fields",
)


def test_entry_point_resolves_to_get_provider_info() -> None:
    (entry,) = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.value.startswith("airflow_provider_runware")
    ]
    assert entry.load() is get_provider_info


def test_provider_info_validates_against_airflows_own_schema() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert info["package-name"] == PACKAGE_NAME


@needs_form_from_provider_info
def test_providers_manager_lists_provider_and_hook_without_deprecation_warnings() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        providers = ProvidersManager().providers
        hook_info = ProvidersManagerTaskRuntime().hooks["runware"]
        behaviour = ProvidersManager().field_behaviours["runware"]
    assert PACKAGE_NAME in providers
    assert hook_info is not None
    assert hook_info.hook_class_name == "airflow_provider_runware.hooks.runware.RunwareHook"
    assert hook_info.connection_testable
    assert behaviour["relabeling"]["password"] == "API Key"


def test_the_hook_is_discovered_and_testable_on_this_line() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert PACKAGE_NAME in manager.providers
    hook_info = manager.hooks["runware"]
    assert hook_info is not None
    assert hook_info.hook_class_name == "airflow_provider_runware.hooks.runware.RunwareHook"
    assert hook_info.connection_testable


def test_the_hook_form_of_airflow_3_0_and_3_1() -> None:
    """What 3.0/3.1 show: Airflow's own schema for hook form behaviour accepts it, the API key is
    relabelled, and the Extra box stays visible since those lines do not render conn-fields."""
    from airflow_provider_runware.hooks.runware import RunwareHook

    schema = json.loads(
        (Path(airflow.__file__).parent / "customized_form_field_behaviours.schema.json").read_text()
    )
    behaviour = RunwareHook.get_ui_field_behaviour()
    jsonschema.validate(behaviour, schema)
    assert behaviour["relabeling"]["password"] == "API Key"
    assert "extra" not in behaviour["hidden_fields"]
    assert "password" not in behaviour["hidden_fields"]


@needs_form_from_provider_info
def test_connection_form_has_every_extra_the_hook_reads_and_the_docs_document() -> None:
    from airflow.providers_manager import ProvidersManager

    from airflow_provider_runware.hooks.runware import ConnectionExtras

    widgets = ProvidersManager().connection_form_widgets
    hook_extras = set(ConnectionExtras.model_fields)
    guide = (Path(__file__).parents[2] / "docs" / "guide.md").read_text()
    documented = set(re.findall(r"^\| Extra `(\w+)` \|", guide, flags=re.MULTILINE))
    assert (
        documented
        == hook_extras
        == {
            "timeout",
            "max_retries",
            "max_retry_seconds",
            "max_images_in_flight",
        }
    )
    assert {f"extra__runware__{name}" for name in hook_extras} <= set(widgets)


def test_connection_form_fields_keep_the_models_defaults_and_bounds() -> None:
    (connection,) = get_provider_info()["connection-types"]
    fields = connection["conn-fields"]
    assert fields["max_retry_seconds"]["schema"] == {
        "type": ["number", "null"],
        "default": 300.0,
        "exclusiveMinimum": 0,
    }
    assert fields["max_retries"]["schema"]["maximum"] == 20
    assert fields["timeout"]["label"] == "Request timeout (seconds)"
    assert fields["max_images_in_flight"]["schema"] == {
        "type": ["integer", "null"],
        "default": None,
        "minimum": 1,
    }


def test_provider_info_stays_cheap() -> None:
    """ProvidersManager calls it in every Airflow process: no HTTP client, no hook, no emulator."""
    code = (
        "import sys, json\n"
        "from airflow_provider_runware import get_provider_info\n"
        "get_provider_info()\n"
        "heavy = ['httpx', 'airflow_provider_runware.hooks.runware', 'starlette', 'PIL']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []
