"""``kafkaops serve``: the watch loop, scheduled checks, HTTP API, ``/metrics`` and dashboard.

Kept import-free on purpose: :mod:`kafkaops.config` imports :mod:`kafkaops.service.settings`,
and loading a config must not pull in FastAPI or uvicorn.
"""
