"""Apply a plan: preflight, throttle, batches of AlterPartitionReassignments, election.

The throttle is the part that must never be left behind: a forgotten
``*.replication.throttled.rate`` caps every later catch-up of that broker (a restarted broker
then takes hours to rejoin the ISR).  So :func:`apply_plan` removes exactly what it set in a
``finally`` — after success, on an error, on Ctrl-C and on SIGTERM (the CLI turns SIGTERM and
SIGHUP into KeyboardInterrupt).  On an interruption the batch in flight is cancelled first,
so nothing keeps copying unthrottled; batches already finished stay done.  Only SIGKILL can
skip the ``finally``: ``kafkaops balance status`` then shows what is left and
``balance cancel`` / ``balance cleanup`` remove it (they find throttles set by anyone).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafkaops.balance import audit
from kafkaops.balance.admin import BalanceAdmin, Key, Throttles
from kafkaops.balance.layout import Layout
from kafkaops.balance.plan_file import Reassignment, check_plan
from kafkaops.balance.planner import PlanError
from kafkaops.core.model import ClusterSnapshot


@dataclass
class Progress:
    batch: int
    batches: int
    partitions_done: int
    partitions_total: int
    bytes_copied: int
    bytes_total: int
    elapsed_s: float

    @property
    def eta_s(self) -> float | None:
        if self.bytes_copied <= 0 or self.bytes_total <= 0:
            return None
        rate = self.bytes_copied / max(self.elapsed_s, 0.001)
        return max(0.0, (self.bytes_total - self.bytes_copied) / rate)


@dataclass
class ApplyResult:
    result: str  # "completed" | "failed: …" | "interrupted"
    partitions: int
    bytes_planned: int
    duration_s: float
    throttle_removed: bool
    errors: list[str] = field(default_factory=list)


def preflight(snapshot: ClusterSnapshot, running: dict[Key, Any]) -> list[str]:
    """Why a reassignment must not start now (empty: it may)."""
    problems = []
    if snapshot.offline_partitions:
        names = ", ".join(p.name for p in snapshot.offline_partitions[:5])
        problems.append(f"{len(snapshot.offline_partitions)} offline partition(s): {names}")
    if snapshot.under_replicated_partitions:
        names = ", ".join(p.name for p in snapshot.under_replicated_partitions[:5])
        problems.append(
            f"{len(snapshot.under_replicated_partitions)} under-replicated partition(s): {names}"
        )
    if running:
        names = ", ".join(f"{t}-{p}" for t, p in sorted(running)[:5])
        problems.append(f"a reassignment is already running ({len(running)} partitions: {names})")
    return problems


def effective(reassignments: list[Reassignment], layout: Layout) -> list[Reassignment]:
    """The entries that change something (a plan re-applied after success is a no-op)."""
    current = {p.key: p.replicas for p in layout.partitions}
    return [r for r in reassignments if current.get(r.key) != r.replicas]


def apply_plan(
    admin: BalanceAdmin,
    snapshot: ClusterSnapshot,
    layout: Layout,
    reassignments: list[Reassignment],
    *,
    throttle: int,
    batch: int,
    force: bool = False,
    poll_s: float = 1.0,
    on_progress: Callable[[Progress], None] | None = None,
    audit_log: Path | None = None,
    audit_fields: dict[str, Any] | None = None,
) -> ApplyResult:
    """Apply ``reassignments`` (already parsed) to the cluster ``snapshot`` shows."""
    problems = check_plan(reassignments, layout)
    if problems:
        raise PlanError("plan refused, nothing applied:\n  " + "\n  ".join(problems))
    running = admin.reassignments()
    blockers = preflight(snapshot, running)
    if blockers and not force:
        raise PlanError(
            "not starting, nothing applied (--force to override):\n  " + "\n  ".join(blockers)
        )
    todo = effective(reassignments, layout)
    current = {p.key: p.replicas for p in layout.partitions}
    sizes = {p.key: p.size for p in layout.partitions}
    bytes_total = sum(sizes[r.key] * len(set(r.replicas) - set(current[r.key])) for r in todo)
    started = time.monotonic()
    outcome = ApplyResult("completed", len(todo), bytes_total, 0.0, True)
    brokers: list[int] = []
    topics: list[str] = []
    in_flight: list[Key] = []
    try:
        if todo:
            brokers, topics = admin.set_throttle(
                throttle, [(r.key, current[r.key], r.replicas) for r in todo]
            )
        batches = [todo[i : i + batch] for i in range(0, len(todo), batch)]
        done = 0
        copied_before = 0
        for n, chunk in enumerate(batches, 1):
            in_flight = [r.key for r in chunk]
            errors = admin.reassign({r.key: r.replicas for r in chunk})
            if errors:
                outcome.errors = [f"{t}-{p}: {e}" for (t, p), e in sorted(errors.items())]
                raise PlanError("the cluster refused: " + "; ".join(outcome.errors))
            chunk_bytes = 0
            while True:
                left = set(admin.reassignments()) & set(in_flight)
                chunk_bytes = _copied(admin, chunk, current, sizes)
                if on_progress:
                    on_progress(
                        Progress(
                            n,
                            len(batches),
                            done + len(chunk) - len(left),
                            len(todo),
                            copied_before + chunk_bytes,
                            bytes_total,
                            time.monotonic() - started,
                        )
                    )
                if not left:
                    break
                time.sleep(poll_s)
            in_flight = []
            done += len(chunk)
            copied_before += sum(
                sizes[r.key] * len(set(r.replicas) - set(current[r.key])) for r in chunk
            )
        admin.elect_preferred([r.key for r in todo])
    except BaseException as exc:
        outcome.result = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"failed: {exc}"
        if in_flight:
            try:
                admin.reassign(dict.fromkeys(in_flight))
            except Exception as cancel_exc:
                outcome.errors.append(f"cancelling the batch in flight failed: {cancel_exc}")
        raise
    finally:
        try:
            if brokers or topics:
                admin.clear_throttle(brokers, topics)
        except Exception as clear_exc:
            outcome.throttle_removed = False
            outcome.errors.append(
                f"removing the throttle failed ({clear_exc}); run 'kafkaops balance cleanup'"
            )
        outcome.duration_s = round(time.monotonic() - started, 3)
        if audit_log is not None:
            audit.record(
                audit_log,
                "apply",
                result=outcome.result,
                partitions=outcome.partitions,
                bytes_planned=bytes_total,
                throttle_bytes_per_s=throttle,
                batch=batch,
                duration_s=outcome.duration_s,
                throttle_removed=outcome.throttle_removed,
                errors=outcome.errors,
                **(audit_fields or {}),
            )
    return outcome


def _copied(
    admin: BalanceAdmin,
    chunk: list[Reassignment],
    current: dict[Key, tuple[int, ...]],
    sizes: dict[Key, int],
) -> int:
    """Bytes already on the new replicas of this batch (capped at each partition's size)."""
    targets = {b for r in chunk for b in r.replicas if b not in current[r.key]}
    if not targets:
        return 0
    try:
        on_disk = admin.replica_sizes(targets)
    except Exception:
        return 0  # progress only: a slow DescribeLogDirs must not fail the apply
    total = 0
    for r in chunk:
        for b in r.replicas:
            if b not in current[r.key]:
                total += min(on_disk.get((r.key[0], r.key[1], b), 0), sizes[r.key])
    return total


@dataclass
class Status:
    running: dict[Key, dict[str, list[int]]]
    throttles: Throttles
    #: (topic, partition, adding broker) → bytes copied so far / partition size.
    copied: dict[str, tuple[int, int]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reassignments": [
                {"topic": t, "partition": p, **v} for (t, p), v in sorted(self.running.items())
            ],
            "throttles": self.throttles.to_dict(),
            "copied": {k: {"bytes": c, "of": s} for k, (c, s) in sorted(self.copied.items())},
        }


def status(admin: BalanceAdmin, layout: Layout) -> Status:
    running = admin.reassignments()
    sizes = {p.key: p.size for p in layout.partitions}
    adding = {b for v in running.values() for b in v.get("adding_replicas", [])}
    on_disk = admin.replica_sizes(adding) if adding else {}
    copied = {}
    for (t, p), v in running.items():
        for b in v.get("adding_replicas", []):
            copied[f"{t}-{p} -> {b}"] = (on_disk.get((t, p, b), 0), sizes.get((t, p), 0))
    return Status(running, admin.find_throttles(layout.topics()), copied)


def cancel(admin: BalanceAdmin, layout: Layout, *, timeout_s: float = 60.0) -> dict[str, Any]:
    """Cancel every running reassignment, wait for it to stop, remove every throttle."""
    running = admin.reassignments()
    errors: dict[Key, str] = {}
    if running:
        errors = admin.reassign(dict.fromkeys(running))
    deadline = time.monotonic() + timeout_s
    while admin.reassignments() and time.monotonic() < deadline:
        time.sleep(0.5)
    left = admin.reassignments()
    removed = cleanup(admin, layout, force=bool(left))
    return {
        "cancelled": [f"{t}-{p}" for t, p in sorted(running)],
        "errors": {f"{t}-{p}": e for (t, p), e in errors.items()},
        "still_running": [f"{t}-{p}" for t, p in sorted(left)],
        **removed,
    }


def cleanup(admin: BalanceAdmin, layout: Layout, *, force: bool = False) -> dict[str, Any]:
    """Remove throttle configs found anywhere (refused while a reassignment runs: removing
    them then lets it copy at full speed — ``force`` to do it anyway)."""
    found = admin.find_throttles(layout.topics())
    running = admin.reassignments()
    if running and not force and not found.empty:
        raise PlanError(
            f"{len(running)} partition reassignment(s) still running: removing the throttle "
            "now lets them copy at full speed (cancel them with 'kafkaops balance cancel', or "
            "--force)"
        )
    if not found.empty:
        admin.clear_throttle(found.brokers, found.topics)
    after = admin.find_throttles(layout.topics())
    return {
        "removed": found.to_dict(),
        "remaining": after.to_dict(),
    }
