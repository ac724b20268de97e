"""History → the capacity report: per broker log dir, when it fills, how sure, what to do.

Reads the daily series of :class:`~kafkaops.capacity.store.CapacityStore` and applies the
forecaster; everything else (thresholds, limits, the plan) is pure.  Which bytes are forecast:

* ``filesystem`` — the log dir's filesystem used (total − usable, as DescribeLogDirs reports
  it) against its total: what actually fills, including anything that is not Kafka's;
* ``kafka`` — Kafka's own bytes in the log dir against the configured/MSK volume size, when the
  brokers do not report their filesystem.

The retention steady state (bytes in × retention × replication factor, per broker by its share
of the replicas) caps the projection: a cluster whose topics all have a finite retention stops
growing at current traffic, and is not forecast to fill because of a trend that retention will
end.  A topic with unlimited retention (or not measured yet) leaves the projection uncapped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafkaops.capacity.forecast import Crossing, Fit, NotEnoughHistory, Point, fit_trend
from kafkaops.capacity.plan import GiB, Recommendation, broker_plan, storage_plan
from kafkaops.capacity.settings import CapacitySettings
from kafkaops.capacity.store import DAY_MS, CapacityStore, Daily
from kafkaops.core.msk_limits import PartitionLimit, partition_limit


@dataclass
class DiskForecast:
    broker: int
    log_dir: str
    basis: str
    used_bytes: float | None
    capacity_bytes: float | None
    history: list[tuple[int, float, float, float]]  # (day, min, mean, max) of used bytes
    fit: Fit | None = None
    not_enough: NotEnoughHistory | None = None
    crossings: dict[str, Crossing] = field(default_factory=dict)
    steady_state_bytes: float | None = None
    note: str | None = None

    @property
    def used_percent(self) -> float | None:
        if self.used_bytes is None or not self.capacity_bytes:
            return None
        return 100.0 * self.used_bytes / self.capacity_bytes

    @property
    def days_to_full(self) -> float | None:
        c = self.crossings.get("full")
        return None if c is None else c.days

    def projection(self, horizon: int, every: int = 1) -> list[tuple[int, float, float, float]]:
        """(day, mean, lower, upper) from the last observed day to the horizon."""
        if self.fit is None:
            return []
        last = int(self.fit.last_x)
        return [(last + h, *self.fit.predict(last + h)) for h in range(0, horizon + 1, every)]

    def to_dict(self, horizon: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "broker": self.broker,
            "log_dir": self.log_dir,
            "basis": self.basis,
            "used_bytes": self.used_bytes,
            "capacity_bytes": self.capacity_bytes,
            "used_percent": _r(self.used_percent),
            "history_days": len(self.history),
            "steady_state_bytes": self.steady_state_bytes,
            "note": self.note,
        }
        if self.fit is None:
            out["forecast"] = None
            out["not_enough_history"] = str(self.not_enough) if self.not_enough else None
            return out
        proj = self.projection(horizon)
        end = proj[-1]
        out["forecast"] = {
            **self.fit.to_dict(),
            "growth_bytes_per_day": self.fit.slope_per_day,
            "days_until": {k: c.to_dict() for k, c in self.crossings.items()},
            "projection": {
                "horizon_days": horizon,
                "day": _iso(end[0]),
                "bytes": end[1],
                "lower": end[2],
                "upper": end[3],
                "percent": _r(100 * end[1] / self.capacity_bytes) if self.capacity_bytes else None,
            },
        }
        return out


@dataclass
class BrokerLoad:
    broker: int
    partitions: int | None
    leaders: int | None
    bytes_in_per_s: float | None
    bytes_out_per_s: float | None
    cpu_percent: float | None

    def to_dict(self, limit: PartitionLimit | None) -> dict[str, Any]:
        return {
            "broker": self.broker,
            "partitions": self.partitions,
            "leaders": self.leaders,
            "partitions_recommended": limit.recommended if limit else None,
            "partitions_max": limit.maximum if limit else None,
            "bytes_in_per_s": self.bytes_in_per_s,
            "bytes_out_per_s": self.bytes_out_per_s,
            "cpu_percent": self.cpu_percent,
        }


@dataclass
class CapacityReport:
    cluster: str
    generated_at: datetime
    horizon_days: int
    settings: CapacitySettings
    disks: list[DiskForecast]
    brokers: list[BrokerLoad]
    limit: PartitionLimit | None
    steady_state: dict[str, Any]
    recommendations: list[Recommendation]
    notes: list[str]

    def worst(self) -> DiskForecast | None:
        """The disk that fills first (or the fullest, when none fills within the horizon)."""
        filling = [d for d in self.disks if d.days_to_full is not None]
        if filling:
            return min(filling, key=lambda d: d.days_to_full or 0.0)
        known = [d for d in self.disks if d.used_percent is not None]
        return max(known, key=lambda d: d.used_percent or 0.0) if known else None

    def to_dict(self) -> dict[str, Any]:
        worst = self.worst()
        return {
            "cluster": self.cluster,
            "generated_at": self.generated_at.isoformat().replace("+00:00", "Z"),
            "horizon_days": self.horizon_days,
            "thresholds": {
                "warning_percent": self.settings.warning,
                "critical_percent": self.settings.critical,
                "headroom_days": self.settings.headroom_days,
            },
            "worst": None
            if worst is None
            else {
                "broker": worst.broker,
                "log_dir": worst.log_dir,
                "days_to_full": _r(worst.days_to_full),
            },
            "disks": [d.to_dict(self.horizon_days) for d in self.disks],
            "brokers": [b.to_dict(self.limit) for b in self.brokers],
            "instance_type": self.settings.msk.instance_type,
            "steady_state": self.steady_state,
            "recommendations": [r.to_dict() for r in self.recommendations],
            "notes": self.notes,
        }


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def _iso(day: int) -> str:
    return datetime.fromtimestamp(day * 86400, UTC).date().isoformat()


def _by_subject(days: dict[str, list[Daily]]) -> dict[str, dict[int, Daily]]:
    return {s: {d.day: d for d in v} for s, v in days.items()}


def steady_state(store: CapacityStore, cluster: str) -> dict[str, Any]:
    """Σ over topics of bytes in × retention × RF (bytes-based retention where smaller).
    ``bounded`` is False when any topic keeps data forever or has no measured rate yet."""
    total = 0.0
    unbounded: list[str] = []
    unmeasured: list[str] = []
    topics = store.latest_topics(cluster)
    for t in topics:
        rf = t.replication_factor or 1
        by_time = None
        if t.retention_ms is not None and t.retention_ms > 0:
            if t.bytes_in_per_s is None:
                unmeasured.append(t.topic)
            else:
                by_time = t.bytes_in_per_s * t.retention_ms / 1000.0 * rf
        by_size = None
        if t.retention_bytes is not None and t.retention_bytes > 0 and t.partitions:
            by_size = float(t.retention_bytes) * t.partitions * rf
        if by_time is None and by_size is None:
            if not (t.retention_ms is not None and t.retention_ms > 0):
                unbounded.append(t.topic)
            continue
        total += min(v for v in (by_time, by_size) if v is not None)
    return {
        "bytes": total if topics and not unbounded and not unmeasured else None,
        "bounded": bool(topics) and not unbounded and not unmeasured,
        "topics": len(topics),
        "unlimited_retention": sorted(unbounded)[:20],
        "rate_not_measured": sorted(unmeasured)[:20],
    }


def analyse(
    store: CapacityStore,
    cluster: str,
    settings: CapacitySettings,
    *,
    now: datetime | None = None,
    horizon_days: int | None = None,
    current_version: str | None = None,
    last_storage_update: datetime | None = None,
) -> CapacityReport:
    """The whole capacity report for one cluster from its stored history."""
    now = now or datetime.now(UTC)
    horizon = horizon_days or settings.horizon_days
    store.rollup(cluster)
    since = int(now.timestamp() * 1000) // DAY_MS - settings.window_days
    used = _by_subject(store.daily(cluster, "logdir", "used_bytes", since_day=since))
    fs_total = _by_subject(store.daily(cluster, "logdir", "fs_total_bytes", since_day=since))
    fs_usable = _by_subject(store.daily(cluster, "logdir", "fs_usable_bytes", since_day=since))
    notes: list[str] = []
    steady = steady_state(store, cluster)
    kafka_now: dict[str, float] = {
        s: v[max(v)].max or 0.0 for s, v in used.items() if v and v[max(v)].max is not None
    }
    kafka_total = sum(kafka_now.values())
    volume = (
        float(settings.broker_volume)
        if settings.broker_volume
        else (settings.msk.volume_gib * GiB if settings.msk.volume_gib else None)
    )
    disks: list[DiskForecast] = []
    for subject in sorted(set(used) | set(fs_total), key=_subject_key):
        broker_s, _, path = subject.partition(":")
        broker = int(broker_s)
        totals, usables = fs_total.get(subject, {}), fs_usable.get(subject, {})
        if totals and usables and not volume:
            basis = "filesystem"
            hist = []
            for day in sorted(set(totals) & set(usables)):
                t, u = totals[day], usables[day]
                if t.max is None or u.min is None or u.max is None or u.mean is None:
                    continue
                hist.append((day, t.max - u.max, t.max - u.mean, t.max - u.min))
            capacity: float | None = max(d.max for d in totals.values() if d.max is not None)
            overhead = (hist[-1][3] - kafka_now.get(subject, 0.0)) if hist else 0.0
        else:
            basis = "kafka"
            hist = [
                (d.day, d.min, d.mean, d.max)
                for d in sorted(used.get(subject, {}).values(), key=lambda d: d.day)
                if d.max is not None and d.min is not None and d.mean is not None
            ]
            capacity = volume
            overhead = 0.0
        disk = DiskForecast(broker, path, basis, hist[-1][3] if hist else None, capacity, hist)
        cap = None
        if steady["bounded"] and kafka_total > 0:
            share = kafka_now.get(subject, 0.0) / kafka_total
            disk.steady_state_bytes = steady["bytes"] * share + overhead
            # A steady state below today's peak contradicts the growth just observed (traffic
            # measured over too short a window, or it changed): report it, do not apply it.
            if hist and disk.steady_state_bytes >= hist[-1][3]:
                cap = disk.steady_state_bytes
            else:
                disk.note = (
                    "retention steady state below current usage: traffic estimate not "
                    "consistent with the trend, not applied"
                )
        fit = fit_trend([Point(day, mx) for day, _, _, mx in hist], cap=cap)
        if isinstance(fit, NotEnoughHistory):
            disk.not_enough = fit
        else:
            disk.fit = fit
            if capacity:
                for name, pct in (
                    ("warning", settings.warning),
                    ("critical", settings.critical),
                    ("full", 100.0),
                ):
                    disk.crossings[name] = fit.crossing(capacity * pct / 100.0, horizon)
        if capacity is None:
            disk.note = (
                "capacity unknown: the brokers do not report their filesystem; set "
                "capacity.broker_volume or capacity.msk.volume_gib"
            )
        disks.append(disk)

    brokers = [
        BrokerLoad(
            b,
            _int(r.get("partitions")),
            _int(r.get("leaders")),
            r.get("bytes_in_per_s"),
            r.get("bytes_out_per_s"),
            r.get("cpu_percent"),
        )
        for b, r in sorted(store.latest_brokers(cluster).items())
    ]
    limit = partition_limit(settings.msk.instance_type)
    recs: list[Recommendation] = []
    required: dict[int, float] = {}
    reasons: dict[int, str] = {}
    for d in disks:
        if d.fit is None or not d.capacity_bytes:
            continue
        last = d.fit.last_x
        upper = max(d.fit.predict(last + h)[2] for h in range(settings.headroom_days + 1))
        need = upper / (settings.warning / 100.0)
        if need > d.capacity_bytes and need > required.get(d.broker, 0.0):
            required[d.broker] = need
            full = d.crossings.get("full")
            when = (
                f"full in {full.days:.0f} days (earliest {full.earliest:.0f})"
                if full and full.days is not None and full.earliest is not None
                else "over the warning threshold within the headroom"
            )
            flag = " (< 7 days)" if full and full.days is not None and full.days < 7 else ""
            reasons[d.broker] = (
                f"broker {d.broker} {d.log_dir}: {when}{flag}; upper bound in "
                f"{settings.headroom_days} days {upper / GiB:.0f} GiB"
            )
    if required:
        caps = [d.capacity_bytes for d in disks if d.capacity_bytes]
        current_gib = settings.msk.volume_gib or math.floor(max(caps) / GiB)
        rec = storage_plan(
            required,
            current_gib,
            settings,
            now,
            reasons=reasons,
            last_update=last_storage_update,
            current_version=current_version,
        )
        if rec:
            recs.append(rec)
            if any(d.basis == "filesystem" for d in disks) and not settings.msk.cluster_arn:
                notes.append(
                    "self-managed brokers: grow each log-dir filesystem to the size above "
                    "(the aws command applies to MSK only)"
                )
    az = settings.az_count or 3
    rec = broker_plan(
        len(brokers),
        az,
        max_partitions=max((b.partitions or 0 for b in brokers), default=None),
        limit=limit,
        max_cpu=_week_cpu(store, cluster, now),
        max_network=None,
        settings=settings,
        arn=settings.msk.cluster_arn,
    )
    if rec:
        recs.append(rec)
    if steady["bounded"] and steady["bytes"] is not None:
        notes.append(
            f"retention caps growth at current traffic: {steady['bytes'] / GiB:.1f} GiB "
            "across the cluster (bytes in × retention × RF)"
        )
    elif steady["unlimited_retention"]:
        notes.append(
            "no retention cap: topics keep data forever ("
            + ", ".join(steady["unlimited_retention"][:5])
            + ")"
        )
    if limit is None:
        notes.append("partitions per broker: set capacity.msk.instance_type for MSK's limits")
    return CapacityReport(
        cluster, now, horizon, settings, disks, brokers, limit, steady, recs, notes
    )


def _week_cpu(store: CapacityStore, cluster: str, now: datetime) -> float | None:
    """The busiest broker's mean CPU over the last 7 days (one busy sample is no reason to
    buy brokers)."""
    today = int(now.timestamp() * 1000) // DAY_MS
    means = []
    for days in store.daily(cluster, "broker", "cpu_percent", since_day=today - 7).values():
        vals = [d.mean for d in days if d.mean is not None]
        if vals:
            means.append(sum(vals) / len(vals))
    return max(means) if means else None


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def _subject_key(s: str) -> tuple[int, str]:
    b, _, p = s.partition(":")
    return (int(b) if b.lstrip("-").isdigit() else 0, p)
