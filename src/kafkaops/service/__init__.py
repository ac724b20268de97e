"""``kafkaops serve``: the watch loop, scheduled checks, HTTP API, ``/metrics`` and dashboard.

Kept import-free on purpose: :mod:`kafkaops.config` imports :mod:`kafkaops.config.service`,
and loading a config must not pull in FastAPI or uvicorn.
"""
