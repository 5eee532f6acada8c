"""An auth manager for tests of who may see what: Airflow's SimpleAuthManager, except that the user
named :data:`DENIED_USER` may read no DAG (SimpleAuthManager lets every role read every DAG).

Configured with ``AIRFLOW__CORE__AUTH_MANAGER=gallery_auth.DenyingAuthManager`` and ``tests/`` on the
api-server's ``PYTHONPATH``.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

DENIED_USER = "outsider"


class DenyingAuthManager(SimpleAuthManager):
    def is_authorized_dag(
        self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None
    ) -> bool:
        if user.get_name() == DENIED_USER:
            return False
        return bool(
            super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
        )
