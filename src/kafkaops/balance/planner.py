"""The reassignment planner: fewest bytes moved to bring every broker into the band (pure).

Deterministic: the same layout and request always give the same plan (every choice is made
in a fixed order with broker id / topic / partition as the last tie-breaker), so a plan can
be reviewed, regenerated and diffed.

Unlike ``kafka-reassign-partitions --generate`` — which re-deals every replica of the listed
topics from scratch and so moves most of the data even when one broker is slightly off — the
planner starts from where the replicas are and moves only what the bands need, in this order:

1. rack-awareness violations are repaired (hard constraint: no move may put more copies of a
   partition in one rack than ``ceil(RF / racks)``);
2. ``--drain`` brokers are emptied (MSK removes only empty brokers);
3. replicas (``--goal replicas``) or bytes then replicas (``--goal disk``) are evened out,
   smallest replicas first for counts, best-fitting sizes for bytes; with ``--add`` the
   listed (new, empty) brokers are the only destinations, so no data moves between old ones;
4. leadership is evened out by reordering replica lists (a preferred-leader change moves no
   data); ``--goal leaders`` does only this.

A replica slot is moved at most once per plan and the replication factor never changes.

Why this module is long: the planner's phases (rack repair, drain, replica/byte evening, leader
evening) share one mutable working state and one set of invariants (rack-aware, RF kept, no
replica moved twice); split, the invariants would be checked in several places.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace

from kafkaops.balance.diagnosis import (
    DEFAULT_TOLERANCE,
    BrokerLoad,
    broker_loads,
    count_band,
)
from kafkaops.balance.layout import Layout, PartitionInfo
from kafkaops.core.errors import KafkaopsError

GOALS = ("replicas", "leaders", "disk")


class PlanError(KafkaopsError):
    """A plan request or a plan file that must not be applied (the message says why)."""


@dataclass(frozen=True)
class PlanRequest:
    goal: str = "replicas"
    drain: frozenset[int] = frozenset()
    add: frozenset[int] = frozenset()
    #: Only partitions of topics matching this regular expression may move.
    topics: str | None = None
    max_moves: int | None = None
    max_bytes: int | None = None
    tolerance: float = DEFAULT_TOLERANCE


@dataclass(frozen=True)
class Move:
    topic: str
    partition: int
    before: tuple[int, ...]
    after: tuple[int, ...]
    size: int

    @property
    def added(self) -> tuple[int, ...]:
        return tuple(b for b in self.after if b not in self.before)

    @property
    def removed(self) -> tuple[int, ...]:
        return tuple(b for b in self.before if b not in self.after)

    @property
    def bytes_moved(self) -> int:
        return self.size * len(self.added)

    @property
    def leadership_only(self) -> bool:
        return not self.added


@dataclass(frozen=True)
class Plan:
    goal: str
    moves: tuple[Move, ...]
    before: tuple[BrokerLoad, ...]
    after: tuple[BrokerLoad, ...]
    #: True when every broker ends in its band (and every drained broker empty).
    complete: bool
    notes: tuple[str, ...] = ()
    drain: tuple[int, ...] = ()
    add: tuple[int, ...] = ()

    @property
    def bytes_to_move(self) -> int:
        return sum(m.bytes_moved for m in self.moves)

    @property
    def replica_moves(self) -> int:
        return sum(len(m.added) for m in self.moves)


@dataclass
class _State:
    layout: Layout
    assign: dict[tuple[str, int], list[int]]
    size: dict[tuple[str, int], int]
    replicas: Counter[int]
    bytes: Counter[int]
    preferred: Counter[int]
    movable: set[tuple[str, int]]
    #: (partition, broker) pairs placed by this plan: never moved again.
    placed: set[tuple[tuple[str, int], int]] = field(default_factory=set)
    #: Partitions whose replica set this plan changed.
    moved: set[tuple[str, int]] = field(default_factory=set)
    bytes_moved: int = 0
    notes: list[str] = field(default_factory=list)
    limit_hit: bool = False


def _validate_request(layout: Layout, req: PlanRequest) -> None:
    if req.goal not in GOALS:
        raise PlanError(f"unknown goal {req.goal!r} (one of: {', '.join(GOALS)})")
    for what, ids in (("--drain", req.drain), ("--add", req.add)):
        unknown = sorted(set(ids) - set(layout.brokers))
        if unknown:
            raise PlanError(
                f"{what}: broker {', '.join(map(str, unknown))} is not in the cluster "
                f"(brokers: {', '.join(map(str, sorted(layout.brokers)))})"
            )
    if req.drain & req.add:
        raise PlanError(f"broker {sorted(req.drain & req.add)[0]} is both drained and added")
    if not 0 < req.tolerance < 1:
        raise PlanError(f"tolerance {req.tolerance} must be between 0 and 1 (0.1 = 10 %)")
    remaining = set(layout.brokers) - req.drain
    max_rf = max((len(p.replicas) for p in layout.partitions), default=0)
    if len(remaining) < max_rf:
        raise PlanError(
            f"draining {sorted(req.drain)} leaves {len(remaining)} broker(s), fewer than the "
            f"largest replication factor ({max_rf})"
        )
    if req.topics:
        try:
            re.compile(req.topics)
        except re.error as exc:
            raise PlanError(
                f"--topics {req.topics!r} is not a valid regular expression: {exc}"
            ) from None
    if req.max_moves is not None and req.max_moves < 0:
        raise PlanError("--max-moves must be 0 or more")


def plan_reassignment(layout: Layout, req: PlanRequest | None = None) -> Plan:
    """Plan the moves for ``req`` on ``layout`` (raises :class:`PlanError` on a bad request)."""
    req = req or PlanRequest()
    _validate_request(layout, req)
    pattern = re.compile(req.topics) if req.topics else None
    st = _State(
        layout=layout,
        assign={p.key: list(p.replicas) for p in layout.partitions},
        size={p.key: p.size for p in layout.partitions},
        replicas=Counter(),
        bytes=Counter(),
        preferred=Counter(),
        movable={p.key for p in layout.partitions if pattern is None or pattern.search(p.topic)},
    )
    for p in layout.partitions:
        for r in p.replicas:
            st.replicas[r] += 1
            st.bytes[r] += p.size
        if p.replicas:
            st.preferred[p.replicas[0]] += 1
    eligible = sorted(set(layout.brokers) - req.drain)
    destinations = sorted(req.add) if req.add else eligible
    racks = {layout.brokers[b] for b in eligible if layout.brokers[b] is not None}

    if req.goal != "leaders":
        _repair_racks(st, req, eligible, destinations, racks)
        _drain(st, req, destinations, racks)
        _balance(st, req, eligible, destinations, racks)
        if req.goal == "disk":
            # Then replica counts, smallest replicas first: a few bytes each, so the disk
            # balance just reached holds while counts come into their band too.
            _balance(st, replace(req, goal="replicas"), eligible, destinations, racks)
    elif req.drain:
        raise PlanError("--goal leaders moves no replica, so it cannot --drain a broker")
    _balance_leaders(st, req, eligible)

    originals = {p.key: p for p in layout.partitions}
    moves = tuple(
        Move(k[0], k[1], originals[k].replicas, tuple(v), st.size[k])
        for k, v in sorted(st.assign.items())
        if tuple(v) != originals[k].replicas
    )
    after = _loads_after(layout, moves)
    complete = not st.limit_hit and _in_band(after, req, eligible)
    if req.add and not complete:
        loads = {b.broker: b for b in after}
        metric = "bytes" if req.goal == "disk" else "replicas"
        values = [getattr(loads[b], metric) for b in eligible]
        _, lower, _upper = _band(values, req.goal, req.tolerance)
        low = [b for b in eligible if b not in req.add and getattr(loads[b], metric) < lower]
        if low:
            st.notes.append(
                f"broker {', '.join(map(str, low))} stays below the {metric} band: with --add "
                "only the added brokers receive data (plan without --add to even out the rest)"
            )
    return Plan(
        goal=req.goal,
        moves=moves,
        before=tuple(broker_loads(layout)),
        after=tuple(after),
        complete=complete,
        notes=tuple(st.notes),
        drain=tuple(sorted(req.drain)),
        add=tuple(sorted(req.add)),
    )


# ------------------------------------------------------------------------------ helpers
def _allowed_per_rack(rf: int, racks: set[str | None]) -> int:
    return math.ceil(rf / len(racks)) if racks else rf


def _can_place(st: _State, key: tuple[str, int], src: int, dest: int, racks: set) -> bool:
    reps = st.assign[key]
    if dest in reps:
        return False
    if not racks:
        return True
    brokers = st.layout.brokers
    rack = brokers[dest]
    same = sum(1 for r in reps if r != src and brokers[r] == rack)
    return same + 1 <= _allowed_per_rack(len(reps), racks)


def _budget_ok(st: _State, req: PlanRequest, key: tuple[str, int]) -> bool:
    """Would one more replica move of ``key`` stay within --max-moves / --max-bytes?"""
    if req.max_bytes is not None and st.bytes_moved + st.size[key] > req.max_bytes:
        st.limit_hit = True
        return False
    if req.max_moves is not None and key not in st.moved and len(st.moved) >= req.max_moves:
        st.limit_hit = True
        return False
    return True


def _move(st: _State, key: tuple[str, int], src: int, dest: int) -> None:
    reps = st.assign[key]
    i = reps.index(src)
    reps[i] = dest
    size = st.size[key]
    st.replicas[src] -= 1
    st.replicas[dest] += 1
    st.bytes[src] -= size
    st.bytes[dest] += size
    if i == 0:
        st.preferred[src] -= 1
        st.preferred[dest] += 1
    st.placed.add((key, dest))
    st.moved.add(key)
    st.bytes_moved += size


def _metric(st: _State, goal: str) -> Counter[int]:
    return st.bytes if goal == "disk" else st.replicas


def _repair_racks(
    st: _State, req: PlanRequest, eligible: list[int], destinations: list[int], racks: set
) -> None:
    if not racks:
        return
    brokers = st.layout.brokers
    for key in sorted(st.movable):
        reps = st.assign[key]
        allowed = _allowed_per_rack(len(reps), racks)
        per_rack = Counter(brokers[r] for r in reps)
        for src in list(reps):
            if per_rack[brokers[src]] <= allowed or src in req.drain:
                continue
            options = [
                d
                for d in sorted(
                    set(destinations) | set(eligible), key=lambda b: (st.replicas[b], b)
                )
                if d in destinations and _can_place(st, key, src, d, racks)
            ]
            if options and _budget_ok(st, req, key):
                per_rack[brokers[src]] -= 1
                per_rack[brokers[options[0]]] += 1
                _move(st, key, src, options[0])


def _drain(st: _State, req: PlanRequest, destinations: list[int], racks: set) -> None:
    if not req.drain:
        return
    metric = _metric(st, req.goal)
    for key in sorted(st.assign):
        for src in [r for r in st.assign[key] if r in req.drain]:
            if key not in st.movable:
                st.notes.append(f"{key[0]}-{key[1]} stays on {src}: its topic is not in --topics")
                continue
            options = sorted(
                (d for d in destinations if _can_place(st, key, src, d, racks)),
                key=lambda b: (metric[b], st.replicas[b], b),
            )
            if not options:
                st.notes.append(
                    f"{key[0]}-{key[1]} cannot leave broker {src}: no destination keeps "
                    "rack awareness"
                )
                st.limit_hit = True
                continue
            if not _budget_ok(st, req, key):
                st.notes.append("stopped at the --max-moves/--max-bytes limit")
                return
            _move(st, key, src, options[0])


def _band(values: list[float], goal: str, tol: float) -> tuple[float, float, float]:
    mean = sum(values) / len(values) if values else 0.0
    if goal == "disk":
        return mean, mean * (1 - tol), mean * (1 + tol)
    lower, upper = count_band(mean, tol)
    return mean, lower, upper


def _balance(
    st: _State, req: PlanRequest, eligible: list[int], destinations: list[int], racks: set
) -> None:
    """Move replicas from the fullest brokers to the emptiest until all are in band."""
    metric = _metric(st, req.goal)
    donors_allowed = [b for b in eligible if not req.add or b not in req.add]
    # Replicas of each broker, smallest first (counts) — the cheapest to move.
    on_broker: dict[int, list[tuple[int, tuple[str, int]]]] = {b: [] for b in st.layout.brokers}
    for key in sorted(st.movable):
        for r in st.assign[key]:
            on_broker[r].append((st.size[key], key))
    for b in on_broker:
        on_broker[b].sort()
    blocked: set[tuple[int, int]] = set()
    for _ in range(10 * len(st.assign) + 10):
        mean, lower, upper = _band([metric[b] for b in eligible], req.goal, req.tolerance)
        over = [b for b in donors_allowed if metric[b] > upper]
        under = [b for b in destinations if metric[b] < lower]
        if not over and not under:
            return
        attempts = []
        if over:
            attempts.append(
                (
                    sorted(over, key=lambda b: (-metric[b], b)),
                    sorted(destinations, key=lambda b: (metric[b], b)),
                )
            )
        if under or over:
            # Also when the brokers above the band cannot give (rack awareness): any broker
            # fuller than a receiver may feed it (each move narrows a gap, so this ends).
            attempts.append(
                (
                    sorted(donors_allowed, key=lambda b: (-metric[b], b)),
                    sorted(under or destinations, key=lambda b: (metric[b], b)),
                )
            )
        if not _one_move(st, req, attempts, on_broker, blocked, racks, mean):
            st.notes.append(
                "no further move improves the balance without breaking rack awareness "
                "or moving a replica twice"
            )
            return
        if st.limit_hit:
            st.notes.append("stopped at the --max-moves/--max-bytes limit")
            return


def _one_move(
    st: _State,
    req: PlanRequest,
    attempts: list[tuple[list[int], list[int]]],
    on_broker: dict[int, list[tuple[int, tuple[str, int]]]],
    blocked: set[tuple[int, int]],
    racks: set,
    mean: float,
) -> bool:
    """Make the first possible move of the attempts, in order; False when none is possible."""
    metric = _metric(st, req.goal)
    for donors, receivers in attempts:
        for donor in donors:
            for recv in receivers:
                if recv == donor or (donor, recv) in blocked:
                    continue
                gap = metric[donor] - metric[recv]
                key = _pick(st, req, on_broker[donor], donor, recv, racks, gap, mean)
                if key is None:
                    blocked.add((donor, recv))
                    continue
                if not _budget_ok(st, req, key):
                    return True  # the caller sees limit_hit
                _move(st, key, donor, recv)
                return True
    return False


def _pick(
    st: _State,
    req: PlanRequest,
    candidates: list[tuple[int, tuple[str, int]]],
    donor: int,
    recv: int,
    racks: set,
    gap: float,
    mean: float,
) -> tuple[str, int] | None:
    """The replica on ``donor`` to move to ``recv``: smallest first (counts); for bytes the
    largest that does not overshoot, else the smallest that still narrows the gap."""
    # Entries whose replica left ``donor`` (or arrived by this plan) can never be picked
    # again: drop them from the front so scans stay short on 20,000-partition layouts.
    stale = 0
    for _size, key in candidates:
        if donor in st.assign[key] and (key, donor) not in st.placed:
            break
        stale += 1
    if stale:
        del candidates[:stale]
    if req.goal != "disk":
        if gap < 2:
            return None
        for _size, key in candidates:
            if (
                donor in st.assign[key]
                and (key, donor) not in st.placed
                and _can_place(st, key, donor, recv, racks)
            ):
                return key
        return None
    target = min(st.bytes[donor] - mean, mean - st.bytes[recv])
    best: tuple[str, int] | None = None
    fallback: tuple[str, int] | None = None
    for size, key in candidates:
        if size <= 0 or donor not in st.assign[key] or (key, donor) in st.placed:
            continue
        if not _can_place(st, key, donor, recv, racks):
            continue
        if size <= target:
            best = key  # sorted ascending: keeps the largest that fits
        elif fallback is None and size < gap:
            fallback = key
            if best is None:
                break
    return best or fallback


def _balance_leaders(st: _State, req: PlanRequest, eligible: list[int]) -> None:
    """Even out preferred leaders by reordering replica lists (moves no data).

    Passes over the partitions each broker prefers, fullest broker first, handing leadership
    to a replica on a broker with at least two fewer (below the band first) while the donor
    is above the mean; each partition is reordered at most once.  Every swap narrows a gap,
    and each pass is linear, so 20,000 partitions take well under a second.
    """
    elig = set(eligible)
    leads: dict[int, list[tuple[str, int]]] = {b: [] for b in st.layout.brokers}
    for key in sorted(st.movable):
        reps = st.assign[key]
        if reps:
            leads[reps[0]].append(key)
    reordered: set[tuple[str, int]] = set()
    for _ in range(50):
        mean, lower, upper = _band([st.preferred[b] for b in eligible], "leaders", req.tolerance)
        over = [b for b in eligible if st.preferred[b] > upper]
        under = {b for b in eligible if st.preferred[b] < lower}
        if not over and not under:
            return
        progress = False
        for donor in sorted(eligible, key=lambda b: (-st.preferred[b], b)):
            if st.preferred[donor] <= mean:
                break
            keep: list[tuple[str, int]] = []
            for key in leads[donor]:
                reps = st.assign[key]
                if key in reordered or not reps or reps[0] != donor:
                    continue  # gone for good
                if st.preferred[donor] <= mean:
                    keep.append(key)
                    continue
                options = [
                    r for r in reps[1:] if r in elig and st.preferred[r] + 1 < st.preferred[donor]
                ]
                if not options:
                    keep.append(key)
                    continue
                new = min(options, key=lambda r: (r not in under, st.preferred[r], r))
                i = reps.index(new)
                reps[0], reps[i] = reps[i], reps[0]
                st.preferred[donor] -= 1
                st.preferred[new] += 1
                reordered.add(key)
                progress = True
            leads[donor] = keep
        if not progress:
            break
    mean, lower, upper = _band([st.preferred[b] for b in eligible], "leaders", req.tolerance)
    if any(not lower <= st.preferred[b] <= upper for b in eligible):
        st.notes.append(
            "preferred leaders stay outside the band: no partition can hand leadership "
            "to a replica on a less-loaded broker (reordering moves no data)"
        )


def _loads_after(layout: Layout, moves: tuple[Move, ...]) -> list[BrokerLoad]:
    """Predicted per-broker state once the moves are done and preferred leaders elected."""
    by_key = {(m.topic, m.partition): m.after for m in moves}
    parts = tuple(
        PartitionInfo(
            p.topic,
            p.partition,
            by_key.get(p.key, p.replicas),
            by_key.get(p.key, p.replicas)[0] if p.replicas else -1,
            p.size,
            p.internal,
        )
        for p in layout.partitions
    )
    delta: Counter[int] = Counter()
    for m in moves:
        for b in m.added:
            delta[b] += m.size
        for b in m.removed:
            delta[b] -= m.size
    disk = {b: v + delta[b] for b, v in layout.broker_bytes.items()}
    return broker_loads(Layout(layout.brokers, parts, disk))


def _in_band(after: list[BrokerLoad], req: PlanRequest, eligible: list[int]) -> bool:
    loads = {b.broker: b for b in after}
    if any(loads[b].replicas for b in req.drain):
        return False
    if req.goal == "leaders":
        dims = ["preferred_leaders"]
    elif req.goal == "disk":
        dims = ["bytes", "replicas", "preferred_leaders"]
    else:
        dims = ["replicas", "preferred_leaders"]
    for dim in dims:
        values = [getattr(loads[b], dim) for b in eligible]
        _, lower, upper = _band(values, "disk" if dim == "bytes" else "count", req.tolerance)
        if any(v < lower or v > upper for v in values):
            return False
    return True
