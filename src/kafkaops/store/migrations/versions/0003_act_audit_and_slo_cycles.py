"""Actions audit trail (act_audit) and SLO cycle verdicts (slo_cycles).

Both tables were added by the actions (issue 14) and SLO (issue 18) stores while they still
used ``create_all``, so a database written by such a kafkaops already has them (its version
table says 0001 or 0002, or it has none and was adopted by the baseline): like the baseline,
this revision keeps a table or index that exists and creates only what is missing.  Generated
by ``kafkaops db revision``, then given that check.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    insp = sa.inspect(op.get_bind())
    tables = set(insp.get_table_names())
    if "act_audit" not in tables:
        op.create_table(
            "act_audit",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("at_us", sa.BigInteger(), nullable=False),
            sa.Column("who", sa.String(length=200), nullable=False),
            sa.Column("cluster", sa.String(length=200), nullable=False),
            sa.Column("operation", sa.String(length=200), nullable=False),
            sa.Column("result", sa.String(length=20), nullable=False),
            sa.Column("summary", sa.Text(), nullable=False),
            sa.Column("operation_arn", sa.String(length=400), nullable=True),
            sa.Column("detail", sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
    if "slo_cycles" not in tables:
        op.create_table(
            "slo_cycles",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("cluster", sa.String(length=200), nullable=False),
            sa.Column("ts_ms", sa.BigInteger(), nullable=False),
            sa.Column("span_ms", sa.BigInteger(), nullable=False),
            sa.Column("available", sa.SmallInteger(), nullable=True),
            sa.Column("fresh", sa.SmallInteger(), nullable=True),
            sa.Column("reason", sa.String(length=300), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
    indexes = (
        {ix["name"] for ix in insp.get_indexes("slo_cycles")} if "slo_cycles" in tables else set()
    )
    if "ix_slo_key" not in indexes:
        op.create_index("ix_slo_key", "slo_cycles", ["cluster", "ts_ms"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_slo_key", table_name="slo_cycles")
    op.drop_table("slo_cycles")
    op.drop_table("act_audit")
