"""Apache Airflow provider for Runware image generation.

Importing the package is cheap on purpose: DAG files import the operator at parse time, so nothing
here may pull in HTTP clients, cloud SDKs or image libraries.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

PACKAGE_NAME = "airflow-provider-runware"


def get_provider_info() -> dict[str, Any]:
    """Provider metadata that ProvidersManager reads through the ``apache_airflow_provider`` entry point.

    The connection form's fields come from the typed extras model, imported here (pydantic only) so
    that importing the package itself stays free of it.
    """
    from airflow_provider_runware.connection_extras import conn_fields, form_behaviour

    return {
        "package-name": PACKAGE_NAME,
        "name": "Runware",
        "description": (
            "Generate, cut out and upscale images, generate videos, caption images and enhance prompts "
            "with the Runware API (imageInference, removeBackground, upscale, videoInference, "
            "imageCaption, promptEnhance) from Airflow DAGs."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Runware",
                "external-doc-url": "https://runware.ai/docs",
                "tags": ["software"],
            }
        ],
        "hooks": [
            {"integration-name": "Runware", "python-modules": ["airflow_provider_runware.hooks.runware"]}
        ],
        "operators": [
            {
                "integration-name": "Runware",
                "python-modules": [
                    "airflow_provider_runware.operators.runware",
                    "airflow_provider_runware.operators.video",
                    "airflow_provider_runware.operators.text",
                ],
            }
        ],
        "sensors": [
            {"integration-name": "Runware", "python-modules": ["airflow_provider_runware.sensors.runware"]}
        ],
        "triggers": [
            {"integration-name": "Runware", "python-modules": ["airflow_provider_runware.triggers.runware"]}
        ],
        "extra-links": [
            "airflow_provider_runware.links.RunwareStoredImagesLink",
            "airflow_provider_runware.links.RunwareGalleryLink",
        ],
        "plugins": [
            {
                "name": "runware",
                "plugin-class": "airflow_provider_runware.plugins.runware_plugin.RunwarePlugin",
            }
        ],
        "connection-types": [
            {
                "connection-type": "runware",
                "hook-class-name": "airflow_provider_runware.hooks.runware.RunwareHook",
                "hook-name": "Runware",
                "ui-field-behaviour": form_behaviour(),
                "conn-fields": conn_fields(),
            }
        ],
    }
