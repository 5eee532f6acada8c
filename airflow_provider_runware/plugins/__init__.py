"""The provider's Airflow plugin: a gallery of every run's Runware results, served by the api-server.

The plugin class lives in :mod:`.runware_plugin` and the FastAPI app in :mod:`.app`; neither is imported
by operators or DAG files. :mod:`.urls` (pure) builds the links the extra link and review forms use.
"""
