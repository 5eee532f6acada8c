"""A tiny operator with the "Stored images" extra link, run by tests/integration/test_links.py.

Its ``execute`` does what the Runware operators do for the link: persist the output folder. The run's
conf names the output location, the storage connection and the folder under it.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, BaseOperator, Context

from airflow_provider_runware.links import RunwareStoredImagesLink


class StoredImagesProbeOperator(BaseOperator):
    operator_extra_links = (RunwareStoredImagesLink(),)
    template_fields = ("output_location", "storage_conn_id", "object_prefix")

    def __init__(
        self, *, output_location: str, storage_conn_id: str, object_prefix: str, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.output_location = output_location
        self.storage_conn_id = storage_conn_id
        self.object_prefix = object_prefix

    def execute(self, context: Context) -> None:
        RunwareStoredImagesLink.persist(
            context, self.output_location, self.storage_conn_id, self.object_prefix
        )


with DAG(dag_id="runware_links_probe", schedule=None, catchup=False, tags=["test"]):
    StoredImagesProbeOperator(
        task_id="store",
        output_location="{{ dag_run.conf['output_location'] }}",
        storage_conn_id="{{ dag_run.conf['storage_conn_id'] }}",
        object_prefix="{{ dag_run.conf['object_prefix'] }}",
    )
