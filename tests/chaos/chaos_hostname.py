"""``[core] hostname_callable`` for the distributed campaign: each component reports its own name.

All components run on one host, so Airflow's default (the FQDN) would make both Celery workers and both
triggerers the same host in the metadata DB. With this, ``task_instance.hostname`` names the worker that
ran a try and ``job.hostname`` the triggerer that holds a trigger; the harness sets
``CHAOS_COMPONENT`` for each process it starts.
"""

from __future__ import annotations

import os
import socket


def component_name() -> str:
    return os.environ.get("CHAOS_COMPONENT") or socket.getfqdn()
