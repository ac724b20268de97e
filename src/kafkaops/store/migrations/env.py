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
    # Set only by ``kafkaops db revision`` (autogenerate): every store's tables.
    target_metadata=context.config.attributes.get("target_metadata"),
    version_table=VERSION_TABLE,
    # SQLite and PostgreSQL both roll DDL back: a failed migration leaves the old schema intact.
    transactional_ddl=True,
    # Generated scripts use batch_alter_table: SQLite cannot ALTER a column in place (alembic
    # copies the table there); on PostgreSQL a batch is the plain ALTER statements.
    render_as_batch=True,
    compare_type=True,
)
context.run_migrations()
