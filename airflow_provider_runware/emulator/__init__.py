"""A local Runware-compatible server for tests, demos and users' own CI (no key, no cost).

Needs the ``emulator`` extra (starlette, uvicorn, pillow); nothing outside this package imports it.
"""

from __future__ import annotations

from airflow_provider_runware.emulator.app import create_app
from airflow_provider_runware.emulator.state import Settings

__all__ = ["Settings", "create_app"]
