"""Consumer-status evaluation settings (Burrow-style sliding window) and the runbook's
partition-scaling recommendation values."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from kafkaops.core.units import bounded_duration

#: A count: a YAML integer ≥ 0 (strict).
Count = Annotated[int, Field(ge=0, strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LagSettings(_Model):
    """Consumer status evaluation (Burrow-style sliding window)."""

    #: Samples per partition in the window (Burrow's default is 10 commits).
    window: int = Field(default=10, ge=2, le=1000)
    #: Share of the window that must hold samples before any verdict other than OK (Burrow's
    #: ``complete``): a status from 1 sample of 10 is a guess, and a false STALL pages someone.
    min_complete: float = Field(default=1.0, gt=0, le=1)
    #: The window must also span at least this long (oldest → newest sample): ten samples
    #: taken within one second say nothing about a consumer that commits every few seconds.
    min_span: bounded_duration(0, 7 * 86_400_000) = 60_000  # type: ignore[valid-type]
    #: STOP/STALL need the committed offset unchanged at least this long ("not moving for 0s"
    #: is never a verdict).  Keep it ≤ the window's span (watch interval × (window − 1)),
    #: or STOP/STALL can never be raised.
    min_unchanged: bounded_duration(1, 7 * 86_400_000) = 60_000  # type: ignore[valid-type]
    #: How often the watch loop writes the offset history (log ends, group offsets) to the
    #: store; 0s = every cycle.  The loop keeps every cycle's samples of the last 10 minutes in
    #: memory (statuses and estimated time lag read those), so the store needs only what the
    #: charts and a restart read.  At 20,000 partitions a per-cycle write is 60,000 rows every
    #: 10 s and an SQLite store's raw hour grew to 21 million rows, slowing every cycle
    #: (bench/README.md); once a minute is what the store's retention keeps after an hour anyway.
    history_every: bounded_duration(0, 3_600_000) = 60_000  # type: ignore[valid-type]
    #: The runbook's scale_up_lag_threshold and partition_increment, for recommendations.
    scale_up_lag_threshold: Count = 10_000
    partition_increment: int = Field(default=4, ge=1)
