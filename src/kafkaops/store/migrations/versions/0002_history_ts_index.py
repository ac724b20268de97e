"""History: an index on ``ts_ms`` for the retention pass.

``History.apply_retention`` deletes ``ts_ms < cutoff`` and thins ``ts_ms < cutoff AND res_s < b``
across every cluster; the existing keys lead with ``cluster``, so each pass scanned the whole
table (≈98 M rows for a year of 10,000 partitions).  With the index it reads only the old rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_leo_ts", "log_end_offsets"),
    ("ix_go_ts", "group_offsets"),
    ("ix_bs_ts", "broker_samples"),
)


def upgrade() -> None:
    for name, table in _INDEXES:
        op.create_index(name, table, ["ts_ms"], unique=False)


def downgrade() -> None:
    for name, table in _INDEXES:
        op.drop_index(name, table_name=table)
