"""``kafkaops watch``'s per-cycle lines: every mute is explained under its own cluster."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from kafkaops.cli.watch import cycle_line, show_cycle
from kafkaops.core.model import Severity
from kafkaops.pipeline.watch import ClusterOutcome, CycleOutcome


def _cluster(name: str, muted: tuple[str, ...] = ()) -> ClusterOutcome:
    return ClusterOutcome(
        cluster=name, reachable=True, failures=0, severity=Severity.P1, triggered=1,
        notifications=0, actions=0, duration_s=1.0, muted=muted,
    )  # fmt: skip


def test_each_mute_is_printed_under_its_cluster_without_sharing() -> None:
    out = io.StringIO()
    err = Console(file=out, width=200)
    outcome = CycleOutcome(
        at=datetime(2026, 12, 6, 3, 0, tzinfo=UTC),
        leader=True,
        clusters=(
            _cluster("a", ("muted by window `daily` until 2026-12-06 04:00Z",)),
            _cluster("b"),
        ),
    )
    show_cycle(outcome, err)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert lines[0] == cycle_line(outcome, outcome.clusters[0])
    assert lines[1] == "  muted by window `daily` until 2026-12-06 04:00Z"
    assert lines[2] == cycle_line(outcome, outcome.clusters[1])
