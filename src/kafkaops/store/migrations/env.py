"""Alembic environment: always run from :mod:`kafkaops.store.migrate` on a given connection.

There is no ``alembic.ini`` and no URL here: ``kafkaops db upgrade`` and the stores hand over an
open connection (``config.attributes["connection"]``) already inside a locked transaction, so two
processes starting at once cannot both create the same table.
"""

from __future__ import annotations

from alembic import context

from kafkaops.store.migrate import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=None,
    version_table=VERSION_TABLE,
    # SQLite and PostgreSQL both roll DDL back: a failed migration leaves the old schema intact.
    transactional_ddl=True,
)
context.run_migrations()
