"""The provider is discoverable by Airflow exactly as users install it (entry point + schema)."""

from __future__ import annotations

import json
import warnings
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema

from airflow_provider_runware import PACKAGE_NAME, get_provider_info


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


def test_connection_form_declares_typed_custom_fields() -> None:
    from airflow.providers_manager import ProvidersManager

    widgets = ProvidersManager().connection_form_widgets
    assert {"extra__runware__timeout", "extra__runware__max_retries"} <= set(widgets)
