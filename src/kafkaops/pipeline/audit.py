"""The configuration audit of one target: shared by ``kafkaops audit`` and the weekly job.

Why here: the audit's rules live in :mod:`kafkaops.diagnose.audit`, but which thresholds and
instance type apply comes from the target's config (``capacity.msk.instance_type``,
``diagnose.optimizer.heavy_bytes_per_s``) — the pipeline is where a target meets its config.
"""

from __future__ import annotations

from collections.abc import Callable

from kafka.errors import KafkaError

from kafkaops.core.errors import ClusterUnreachable
from kafkaops.diagnose.audit import AuditFinding, collect_and_audit
from kafkaops.pipeline.health import Target


def audit_target(
    target: Target, window_s: float, progress: Callable[[str], None] | None = None
) -> list[AuditFinding]:
    """Every audit finding for ``target``; a Kafka failure becomes one ClusterUnreachable."""
    try:
        return collect_and_audit(
            target.client_kwargs,
            target.bootstrap,
            target.options.request_timeout_ms,
            window_s=window_s,
            options=target.options,
            instance_type=target.config.capacity.msk.instance_type,
            heavy_bytes_per_s=target.config.diagnose.optimizer.heavy_bytes_per_s,
            cluster=target.name,
            progress=progress,
        )
    except KafkaError as exc:
        raise ClusterUnreachable(
            f"cluster {target.name} ({target.bootstrap}): audit failed: {exc}"
        ) from None
