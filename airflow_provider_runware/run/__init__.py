"""The run engine, the same for every task type: identity, the ledger and its home per Airflow line,
planning, polling and finishing. Imported by workers and triggerers, never when a DAG file is parsed.
"""
