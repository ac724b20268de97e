"""Baseline: every kafkaops table as the stores created them with ``create_all`` before alembic.

History (offsets, broker samples), the leader lease, incidents, the notification outbox, service
job runs and capacity samples.  Databases made by an older kafkaops (``create_all``, no version
table) adopt this revision: a table or index that already exists is kept as it is, so upgrading
them loses nothing.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _existing() -> tuple[set[str], set[str]]:
    insp = sa.inspect(op.get_bind())
    tables = set(insp.get_table_names())
    indexes = {str(ix["name"]) for t in tables for ix in insp.get_indexes(t) if ix.get("name")}
    return tables, indexes


_TABLES: set[str] = set()
_INDEXES: set[str] = set()


def _create_table(name: str, *columns: Any, **kw: Any) -> None:
    if name not in _TABLES:
        op.create_table(name, *columns, **kw)


def _create_index(name: str, table: str, columns: list[str], **kw: Any) -> None:
    if name not in _INDEXES:
        op.create_index(name, table, columns, **kw)


def upgrade() -> None:
    tables, indexes = _existing()
    _TABLES.clear()
    _TABLES.update(tables)
    _INDEXES.clear()
    _INDEXES.update(indexes)
    _create_table(
        "broker_samples",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("broker", sa.Integer(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("used_bytes", sa.BigInteger(), nullable=True),
        sa.Column("disk_percent", sa.Float(), nullable=True),
        sa.Column("cpu_percent", sa.Float(), nullable=True),
        sa.Column("memory_percent", sa.Float(), nullable=True),
        sa.Column("network_bytes_per_s", sa.Float(), nullable=True),
        sa.Column("res_s", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index("ix_bs_key", "broker_samples", ["cluster", "broker", "ts_ms"], unique=False)
    _create_table(
        "cap_broker",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("broker", sa.Integer(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("bytes_in_per_s", sa.Float(), nullable=True),
        sa.Column("bytes_out_per_s", sa.Float(), nullable=True),
        sa.Column("produce_requests_per_s", sa.Float(), nullable=True),
        sa.Column("failed_produce_requests_per_s", sa.Float(), nullable=True),
        sa.Column("cpu_percent", sa.Float(), nullable=True),
        sa.Column("network_bytes_per_s", sa.Float(), nullable=True),
        sa.Column("partitions", sa.Integer(), nullable=True),
        sa.Column("leaders", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index("ix_cap_broker", "cap_broker", ["cluster", "broker", "ts_ms"], unique=False)
    _create_table(
        "cap_daily",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("series", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=1100), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("min", sa.Float(), nullable=True),
        sa.Column("mean", sa.Float(), nullable=True),
        sa.Column("max", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(
        "ix_cap_daily", "cap_daily", ["cluster", "series", "subject", "metric", "day"], unique=False
    )
    _create_table(
        "cap_logdir",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("broker", sa.Integer(), nullable=False),
        sa.Column("log_dir", sa.String(length=1024), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("used_bytes", sa.BigInteger(), nullable=True),
        sa.Column("fs_total_bytes", sa.BigInteger(), nullable=True),
        sa.Column("fs_usable_bytes", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(
        "ix_cap_logdir", "cap_logdir", ["cluster", "broker", "log_dir", "ts_ms"], unique=False
    )
    _create_table(
        "cap_topic",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("partitions", sa.Integer(), nullable=True),
        sa.Column("replication_factor", sa.Integer(), nullable=True),
        sa.Column("retention_ms", sa.BigInteger(), nullable=True),
        sa.Column("retention_bytes", sa.BigInteger(), nullable=True),
        sa.Column("log_start_sum", sa.BigInteger(), nullable=True),
        sa.Column("log_end_sum", sa.BigInteger(), nullable=True),
        sa.Column("bytes_in_per_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index("ix_cap_topic", "cap_topic", ["cluster", "topic", "ts_ms"], unique=False)
    _create_table(
        "group_offsets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("group_id", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("committed", sa.BigInteger(), nullable=True),
        sa.Column("log_end", sa.BigInteger(), nullable=True),
        sa.Column("lag", sa.BigInteger(), nullable=True),
        sa.Column("time_lag_ms", sa.BigInteger(), nullable=True),
        sa.Column("time_lag_method", sa.String(length=32), nullable=True),
        sa.Column("res_s", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(
        "ix_go_key",
        "group_offsets",
        ["cluster", "group_id", "topic", "partition", "ts_ms"],
        unique=False,
    )
    _create_table(
        "inc_alert_states",
        sa.Column("key", sa.String(length=1000), nullable=False),
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    _create_index(
        op.f("ix_inc_alert_states_cluster"), "inc_alert_states", ["cluster"], unique=False
    )
    _create_table(
        "inc_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("incident_id", sa.String(length=300), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "seq", name="uq_inc_audit_seq"),
    )
    _create_table(
        "inc_clusters",
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_cycle_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("cluster"),
    )
    _create_table(
        "inc_incidents",
        sa.Column("id", sa.String(length=300), nullable=False),
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=4), nullable=False),
        sa.Column("opened_us", sa.BigInteger(), nullable=False),
        sa.Column("resolved_us", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(
        "ix_inc_incidents_cluster_status", "inc_incidents", ["cluster", "status"], unique=False
    )
    _create_index("ix_inc_incidents_opened", "inc_incidents", ["opened_us"], unique=False)
    _create_table(
        "inc_leases",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
        sa.Column("acquired_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    _create_table(
        "inc_notices",
        sa.Column("occurrence_id", sa.String(length=400), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=False),
        sa.Column("sent_us", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("occurrence_id"),
    )
    _create_table(
        "inc_sent_ledger",
        sa.Column("key", sa.String(length=1000), nullable=False),
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    _create_index(op.f("ix_inc_sent_ledger_cluster"), "inc_sent_ledger", ["cluster"], unique=False)
    _create_table(
        "inc_windows",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=False),
        sa.Column("end_us", sa.BigInteger(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(op.f("ix_inc_windows_end_us"), "inc_windows", ["end_us"], unique=False)
    _create_table(
        "log_end_offsets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("log_start", sa.BigInteger(), nullable=True),
        sa.Column("log_end", sa.BigInteger(), nullable=True),
        sa.Column("res_s", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(
        "ix_leo_key", "log_end_offsets", ["cluster", "topic", "partition", "ts_ms"], unique=False
    )
    _create_table(
        "outbox_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=700), nullable=False),
        sa.Column("channel", sa.String(length=300), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("dedup_key", sa.String(length=700), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("next_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until_ms", sa.BigInteger(), nullable=True),
        sa.Column("delivered_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    _create_index("ix_outbox_due", "outbox_messages", ["status", "next_at_ms"], unique=False)
    _create_table(
        "svc_job_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("scheduled_us", sa.BigInteger(), nullable=False),
        sa.Column("ran_us", sa.BigInteger(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("severity", sa.String(length=4), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job", "cluster", "scheduled_us", name="uq_svc_job_runs"),
    )
    _create_index(
        op.f("ix_svc_job_runs_scheduled_us"), "svc_job_runs", ["scheduled_us"], unique=False
    )


def downgrade() -> None:
    raise NotImplementedError("kafkaops does not drop its tables: restore a backup instead")
