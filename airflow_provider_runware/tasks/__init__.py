"""One module per Runware task type: its operator arguments, the wire rules it is judged by (shared
with the emulator), what its results are and how they are recorded.

Pure Python on purpose: operators build these when a DAG file is parsed. To add a task type, add a
module here (and its model table under :mod:`airflow_provider_runware.catalog`), then an operator.
"""
