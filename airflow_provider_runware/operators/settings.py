"""What a run of a Runware operator needs from the operator, as one frozen value.

The operator builds it after rendering (:meth:`RunwareTaskOperator.run_settings`), so the run engine
reads settings, never the operator's attributes, and task types without file results simply leave the
output settings unset. Pure Python: imported by the operator module at DAG-parse time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunSettings:
    runware_conn_id: str
    webhook_url: str | None
    wait_for_completion: bool
    deferrable: bool
    poll_interval: float
    timeout: float
    max_cost_usd: float | None
    fail_on_partial: bool
    regenerate: str | None
    # The batch form (``requests=[...]``) was used: records and object names carry the row.
    batch: bool
    output_location: str | None = None
    storage_conn_id: str | None = None
    verify_uploads: bool = True
