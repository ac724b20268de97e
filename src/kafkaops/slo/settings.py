"""``slo:`` settings — the runbook's "availability 99.9 %, max downtime 43.2 minutes per month".

The budget is ``(1 - objective) × window``: 0.1 % of 30 days = 43.2 minutes, the runbook's
number.  It is the same for every calendar month (a 31-day month does not earn 1.4 more
minutes): the runbook states minutes per month, not a ratio of each month's length.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kafkaops.core.units import bounded_duration


class BurnWindow(BaseModel):
    """One multi-window alert: fires when the burn rate over *both* windows is at least
    ``factor`` (the long window proves it matters, the short one that it is still going on)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    factor: float = Field(gt=0, le=1000)
    long: bounded_duration(60_000, 30 * 86_400_000)  # type: ignore[valid-type]
    short: bounded_duration(60_000, 30 * 86_400_000)  # type: ignore[valid-type]
    severity: str = Field(pattern="^P[012]$")


#: Google SRE workbook, "Alerting on SLOs", table 5-8 for a 30-day 99.9 % SLO: 2 % of the
#: budget in 1 h pages (14.4×), 5 % in 6 h pages or tickets (6×).  The issue asks P1 / P2.
DEFAULT_BURN_WINDOWS = (
    BurnWindow(factor=14.4, long="1h", short="5m", severity="P1"),
    BurnWindow(factor=6.0, long="6h", short="30m", severity="P2"),
)


class PerfTestSettings(BaseModel):
    """``slo.perf_test`` — the runbook's monthly performance benchmark (``kafkaops perf-test``).

    Why a refusal by default: a benchmark is load.  No cluster is known to be "not production",
    so every configured cluster is refused until it is named in ``allow`` (the sandbox is
    always allowed: it is yours).  Records and time are bounded so a benchmark cannot turn into
    an outage: at most ``records`` records of ``record_size`` bytes, at most ``throughput``
    records/s, each phase killed after ``max_time``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Clusters (names under ``clusters:``) the benchmark may run on.
    allow: tuple[str, ...] = ()
    #: The dedicated topic (created when missing: one partition per broker, RF min(3, brokers),
    #: retention 1 day so months of benchmarks do not pile up).
    topic: str = Field(default="kafkaops-perf-test", min_length=1, max_length=249)
    records: int = Field(default=100_000, ge=1, le=10_000_000)
    record_size: int = Field(default=1024, ge=1, le=1_048_576)
    #: Producer rate cap in records/s; -1: as fast as the cluster takes them.
    throughput: int = Field(default=-1, ge=-1, le=10_000_000)
    #: Each phase (produce, consume) is killed after this long.
    max_time: bounded_duration(5_000, 3_600_000) = 300_000  # type: ignore[valid-type]
    #: A result this much worse than the earlier months' (median of up to 3) is a regression.
    regression_percent: float = Field(default=20.0, gt=0, le=500)
    #: Kafka's perf tools: from an installation (``<kafka_home>/bin/kafka-*-perf-test.sh``) …
    kafka_home: str | None = None
    #: … or explicit commands (argv prefixes; the tool's own arguments are appended) …
    producer_command: tuple[str, ...] = ()
    consumer_command: tuple[str, ...] = ()
    #: … else the classes from the jars kafkaops caches for the sandbox (this Kafka version).
    kafka_version: str = Field(default="4.1.1", pattern=r"^\d+\.\d+\.\d+$")
    #: A Java client properties file used as is (mTLS key stores, IAM); default: written from
    #: the cluster's ``security:`` for the run and deleted after it.
    client_config: str | None = None


class SloSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Record per-cycle verdicts and raise burn-rate alerts in ``watch`` / ``serve``.
    enabled: bool = True
    #: Target share of good time, percent (runbook: 99.9).
    objective: float = Field(default=99.9, gt=0, lt=100)
    #: Length the budget is defined over (runbook: a month; 30 days gives 43.2 minutes).
    window_days: int = Field(default=30, ge=1, le=366)
    #: The watched topics (regular expressions, matched in full): offline partitions and
    #: partitions under min.insync.replicas count against availability only on these.  Empty:
    #: every topic (Kafka's internal ones included) — the runbook's whole-cluster view.  Set it
    #: when a cluster hosts topics nobody writes with acks=all (a scratch RF-1 topic under a
    #: cluster-wide ``min.insync.replicas=2`` is never writable and would spend the whole budget).
    topics: tuple[str, ...] = ()
    #: Consumer groups whose time lag defines *freshness*; none: freshness is not measured.
    freshness_groups: tuple[str, ...] = ()
    #: A critical group is fresh while its worst partition's time lag stays under this.
    freshness_max_lag: bounded_duration(1_000, 7 * 86_400_000) = 300_000  # type: ignore[valid-type]
    burn_windows: tuple[BurnWindow, ...] = DEFAULT_BURN_WINDOWS
    perf_test: PerfTestSettings = Field(default_factory=PerfTestSettings)

    @field_validator("topics")
    @classmethod
    def _valid_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"slo.topics: {pattern!r} is not a regular expression: {exc}"
                ) from exc
        return value

    @property
    def budget_ms(self) -> int:
        """Allowed bad time per window: 43.2 min (2,592,000 ms) at the defaults."""
        return round((1 - self.objective / 100) * self.window_days * 86_400_000)
