"""Text rendering of a :class:`DrReport` (readable at 80 columns)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from kafkaops.dr.verify import DrReport


def _s(ms: int | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.1f}s"


def _n(v: int | None) -> str:
    return "-" if v is None else str(v)


def render_report(r: DrReport, console: Console, *, show_all: bool = False) -> None:
    when = datetime.fromtimestamp(r.checked_at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    verdict = "OK" if not r.findings else r.severity.value
    console.print(
        f"DR {r.primary} -> {r.replica} ({r.policy} policy) at {when}: {verdict}",
        markup=False,
        highlight=False,
    )
    tg = r.targets
    console.print(
        f"RPO estimate {_s(r.rpo_estimate_ms)} (target {_s(tg.rpo_ms)}), last heartbeat "
        f"{_s(r.heartbeat_age_ms)} ago, RTO target {_s(tg.rto_ms)}",
        markup=False,
        highlight=False,
    )
    for line in r.rpo_evidence:
        console.print(f"  {line}", markup=False, highlight=False)
    if r.replicator:
        state = r.replicator.get("state", "?")
        console.print(f"replicator: {r.replicator.get('name', '')} {state}", markup=False)
    if r.findings:
        t = Table(title="findings", title_justify="left", expand=False)
        for col in ("sev", "rule", "what"):
            t.add_column(col, overflow="fold")
        for f in r.findings:
            t.add_row(f.severity.value, f.rule, f.title)
        console.print(t)
        for f in r.findings:
            for ev in f.evidence[:5]:
                console.print(f"  {f.rule}: {ev}", markup=False, highlight=False)
    topics = [t for t in r.topics if show_all or t.status != "ok"]
    if topics:
        t = Table(title="topics", title_justify="left")
        for col in ("primary", "replica", "status", "parts"):
            t.add_column(col, overflow="fold")
        for x in topics:
            t.add_row(x.topic, x.remote, x.status, f"{x.primary_partitions}/"
                      f"{_n(x.replica_partitions)}")  # fmt: skip
        console.print(t)
    parts = [p for p in r.partitions if show_all or p.lag_records != 0]
    if parts:
        t = Table(title="replication lag", title_justify="left")
        for col in ("partition", "records", "age", "method"):
            t.add_column(col, overflow="fold")
        for p in parts[:50]:
            t.add_row(f"{p.topic}[{p.partition}]", _n(p.lag_records), _s(p.lag_ms), p.method)
        console.print(t)
    if r.groups:
        t = Table(title="consumer groups after a failover", title_justify="left")
        for col in ("group", "partition", "primary", "translated", "replay", "replay s"):
            t.add_column(col, overflow="fold")
        for g in r.groups[:50]:
            t.add_row(
                g.group,
                f"{g.topic}[{g.partition}]",
                str(g.primary_committed),
                _n(g.translated),
                _n(g.replay_records),
                _s(g.replay_ms),
            )
        console.print(t)
    for e in r.errors:
        console.print(f"note: {e}", markup=False, highlight=False)
