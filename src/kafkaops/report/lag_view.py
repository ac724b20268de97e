"""Views of the lag diagnosis: rich tables for people, plain data for ``--json``."""

from __future__ import annotations

import dataclasses
from typing import Any

from rich.console import Console
from rich.table import Table

from kafkaops.core.model import ClusterSnapshot
from kafkaops.core.units import format_duration_ms
from kafkaops.lag.diagnosis import GroupDiagnosis, GroupLagSummary


def _time(ms: int | None) -> str:
    return "-" if ms is None else format_duration_ms(ms)


def render_ranking(
    rows: list[GroupLagSummary], console: Console, status: dict[str, str] | None = None
) -> None:
    table = Table(title="Consumer groups by lag (worst first)")
    cols = ["group", "state", "members", "partitions", "offset lag", "time lag", "method"]
    if status:
        cols.append("status")
    for col in cols:
        numeric = "lag" in col or col in ("members", "partitions")
        table.add_column(col, justify="right" if numeric else "left", overflow="fold")
    for r in rows:
        cells = [
            r.group_id,
            r.state,
            str(r.members),
            str(r.partitions),
            f"{r.offset_lag:,}",
            _time(r.max_time_lag_ms),
            r.time_lag_method or "-",
        ]
        if status:
            value = status.get(r.group_id, "-")
            colour = {"OK": "green", "WARN": "yellow"}.get(value, "red")
            cells.append(f"[{colour}]{value}[/{colour}]")
        table.add_row(*cells)
    console.print(table)


def render_diagnosis(d: GroupDiagnosis, snapshot: ClusterSnapshot, console: Console) -> None:
    s = d.summary
    console.print(
        f"[bold]{s.group_id}[/] · state {s.state} · {s.members} member(s) · topics "
        f"{', '.join(s.topics) or '-'} · offset lag {s.offset_lag:,} · max time lag "
        f"{_time(s.max_time_lag_ms)} ({s.time_lag_method or 'not measured'})"
    )
    group = next(g for g in snapshot.groups if g.group_id == s.group_id)
    parts = Table(title="Partitions")
    for col in ("partition", "committed", "log start", "log end", "lag", "time lag", "member"):
        parts.add_column(col, overflow="fold")
    for p in sorted(group.partitions, key=lambda p: (-(p.lag or 0), p.topic, p.partition)):
        committed = "-" if p.committed is None else str(p.committed)
        if p.committed_below_log_start:
            committed += " [red](< log start)[/red]"
        parts.add_row(
            f"{p.topic}-{p.partition}", committed, str(p.log_start_offset),
            str(p.log_end_offset), "-" if p.lag is None else f"{p.lag:,}",
            _time(p.time_lag_ms), (p.member_id or "-")[:40],
        )  # fmt: skip
    console.print(parts)
    if d.members:
        members = Table(title="Members and assignment")
        for col in ("member", "client", "host", "partitions", "lag"):
            members.add_column(col, overflow="fold")
        for m in sorted(d.members, key=lambda m: -m.lag):
            members.add_row(m.member_id[:40], m.client_id, m.host, str(m.partitions), f"{m.lag:,}")
        console.print(members)
    if d.skew is not None and len(d.members) > 1:
        console.print(f"lag skew: the most loaded member holds {d.skew:.0%} of the lag")
    if d.unassigned_lagging_partitions:
        console.print(
            "lagging partitions assigned to no member: "
            + ", ".join(d.unassigned_lagging_partitions)
        )
    console.print("[bold]Recommendations[/]")
    for i, rec in enumerate(d.recommendations or ("Nothing to do.",), 1):
        console.print(f"  {i}. {rec}", markup=False)


def diagnosis_to_dict(d: GroupDiagnosis, snapshot: ClusterSnapshot) -> dict[str, Any]:
    group = next(g for g in snapshot.groups if g.group_id == d.summary.group_id)
    out = dataclasses.asdict(d)
    out["partitions"] = [dataclasses.asdict(p) for p in group.partitions]
    return out
