"""Plan files: ``kafka-reassign-partitions`` JSON, plus what kafkaops knows about the plan.

The file is exactly what ``kafka-reassign-partitions --execute --reassignment-json-file``
reads (``{"version": 1, "partitions": [{"topic", "partition", "replicas", "log_dirs"}]}``);
kafkaops keeps its prediction (bytes to move, per-broker state after) and the replicas before
under one extra top-level key, ``kafkaops``, which Kafka's tool ignores.

:func:`check_plan` is the gate before anything is applied: every reason to refuse a plan is
found here against the live layout, and none of it is applied when one is found.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kafkaops.balance.layout import Layout
from kafkaops.balance.planner import Plan, PlanError


@dataclass(frozen=True)
class Reassignment:
    topic: str
    partition: int
    replicas: tuple[int, ...]

    @property
    def key(self) -> tuple[str, int]:
        return (self.topic, self.partition)


def plan_to_dict(plan: Plan, *, created_at: str) -> dict[str, Any]:
    return {
        "version": 1,
        "partitions": [
            {
                "topic": m.topic,
                "partition": m.partition,
                "replicas": list(m.after),
                "log_dirs": ["any"] * len(m.after),
            }
            for m in plan.moves
        ],
        "kafkaops": {
            "created_at": created_at,
            "goal": plan.goal,
            "drain": list(plan.drain),
            "add": list(plan.add),
            "complete": plan.complete,
            "bytes_to_move": plan.bytes_to_move,
            "replica_moves": plan.replica_moves,
            "leadership_only_changes": sum(1 for m in plan.moves if m.leadership_only),
            "notes": list(plan.notes),
            "before": [asdict(b) for b in plan.before],
            "after": [asdict(b) for b in plan.after],
            "original": [
                {"topic": m.topic, "partition": m.partition, "replicas": list(m.before)}
                for m in plan.moves
            ],
        },
    }


def plan_hash(data: dict[str, Any]) -> str:
    """sha256 of the reassignment itself (what would be applied), for the audit log."""
    core = sorted(
        (p["topic"], p["partition"], list(p["replicas"])) for p in data.get("partitions", [])
    )
    return hashlib.sha256(json.dumps(core, separators=(",", ":")).encode()).hexdigest()


def load_plan(path: Path) -> tuple[dict[str, Any], list[Reassignment]]:
    """Read a plan file (ours or one written for ``kafka-reassign-partitions``)."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise PlanError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise PlanError(f"{path}: not JSON: {exc}") from None
    return data, parse_plan(data, str(path))


def parse_plan(data: Any, source: str = "plan") -> list[Reassignment]:
    if not isinstance(data, dict) or not isinstance(data.get("partitions"), list):
        raise PlanError(f'{source}: expected {{"version": 1, "partitions": [...]}}')
    if data.get("version", 1) != 1:
        raise PlanError(f"{source}: version {data.get('version')!r} is not supported (only 1)")
    out = []
    for i, entry in enumerate(data["partitions"]):
        where = f"{source}: partitions[{i}]"
        if not isinstance(entry, dict):
            raise PlanError(f"{where}: expected an object")
        topic, part, reps = entry.get("topic"), entry.get("partition"), entry.get("replicas")
        if not isinstance(topic, str) or not topic:
            raise PlanError(f"{where}.topic: expected a topic name, got {topic!r}")
        if not isinstance(part, int) or isinstance(part, bool) or part < 0:
            raise PlanError(f"{where}.partition: expected a partition number, got {part!r}")
        if (
            not isinstance(reps, list)
            or not reps
            or not all(isinstance(r, int) and not isinstance(r, bool) for r in reps)
        ):
            raise PlanError(f"{where}.replicas: expected a list of broker ids, got {reps!r}")
        dirs = entry.get("log_dirs")
        if dirs is not None and (
            not isinstance(dirs, list) or any(d != "any" for d in dirs) or len(dirs) != len(reps)
        ):
            raise PlanError(
                f"{where}.log_dirs: moves between log dirs of one broker are not supported "
                '(use "any" for every replica)'
            )
        out.append(Reassignment(topic, part, tuple(reps)))
    return out


def check_plan(reassignments: list[Reassignment], layout: Layout) -> list[str]:
    """Every reason to refuse the plan on this cluster (empty: it may be applied)."""
    problems: list[str] = []
    current = {p.key: p for p in layout.partitions}
    topics = layout.topics()
    seen: Counter[tuple[str, int]] = Counter(r.key for r in reassignments)
    racks = layout.racks
    for r in reassignments:
        name = f"{r.topic}-{r.partition}"
        if r.topic not in topics:
            problems.append(f"{name}: topic {r.topic!r} does not exist")
            continue
        if r.key not in current:
            problems.append(f"{name}: topic {r.topic!r} has no partition {r.partition}")
            continue
        if seen[r.key] > 1:
            problems.append(f"{name}: listed {seen[r.key]} times")
        dup = sorted(b for b, c in Counter(r.replicas).items() if c > 1)
        if dup:
            problems.append(f"{name}: replica list {list(r.replicas)} repeats broker {dup[0]}")
        unknown = sorted(set(r.replicas) - set(layout.brokers))
        if unknown:
            problems.append(f"{name}: broker {unknown[0]} is not in the cluster")
        before = current[r.key].replicas
        if len(r.replicas) != len(before):
            problems.append(
                f"{name}: changes the replication factor from {len(before)} to "
                f"{len(r.replicas)} (a balance plan never does)"
            )
        if racks and not unknown and not dup:
            allowed = math.ceil(len(r.replicas) / len(racks))
            after_max = max(Counter(layout.brokers[b] for b in r.replicas).values())
            before_max = max((Counter(layout.brokers.get(b) for b in before).values()), default=0)
            if after_max > allowed and after_max > before_max:
                problems.append(
                    f"{name}: replicas {list(r.replicas)} put {after_max} copies in one rack "
                    "(breaks rack awareness)"
                )
    return sorted(set(problems), key=problems.index)
