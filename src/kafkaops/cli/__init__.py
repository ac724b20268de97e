"""Layer 7: the command line — one module per command group over the library; no business logic.

The entry point is :func:`kafkaops.cli.main.main` (``kafkaops`` on the PATH, or
``python -m kafkaops.cli``)."""
