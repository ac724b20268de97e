"""The lag engine's recent history of one cluster, kept in memory between watch cycles.

Why: at 20,000 partitions and 40,000 lagging group-partitions the store-backed path re-read
400,000 window rows every cycle and made two single-row queries per lagging position for the
estimated time lag — 35–78 s a cycle (bench/observe_bench.py).  The watch loop sees every
sample it needs as it writes it, so it keeps them: the last ``window`` samples of every
group-partition (consumer status) and the last ``depth`` log-end samples of every partition
(time-lag interpolation), in numpy arrays (≈ 8 bytes a number: 23 MB at that size, where the
same samples as Python objects took over 100 MB).

The store keeps the longer history: the loop writes a sample there once per ``lag.history_every``
(one multi-row insert; every cycle with 0), the memory holds every cycle's and is filled from the
store once when a watcher starts or becomes the leader (after a restart its first windows are
of the store's one-a-minute samples until new cycles replace them), and a lagging
position older than the memory's log-end history is looked up in the store (and remembered,
since the history of a passed offset does not change).  :class:`LagMemory` answers the same two
questions as :class:`~kafkaops.store.history.HistoryStore` (``group_windows`` and
``log_end_brackets``) with the same answers — the benchmark checks that on every cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from kafkaops.lag.status import GroupStatus, PartitionStatus, fold_group
from kafkaops.lag.status_arrays import window_verdicts
from kafkaops.store.history import GroupSample

if TYPE_CHECKING:
    from kafkaops.core.model import ClusterSnapshot
    from kafkaops.store.history import HistoryStore

#: Stands for "no value" (None) in the int64 arrays: offsets and lags are never this small.
MISSING = np.iinfo(np.int64).min
#: Log-end samples kept per partition: 10 minutes at the default 10-second watch interval.
DEFAULT_DEPTH = 60

PartitionKey = tuple[str, int]
GroupKey = tuple[str, str, int]


class _Ring:
    """Rows × columns of int64 fields sharing one ring of sample times.

    A row is a partition (or a group-partition); a column is one snapshot.  Appending a
    snapshot writes one column for every row (MISSING where the snapshot lacks the row).
    """

    def __init__(self, fields: tuple[str, ...], depth: int) -> None:
        self.depth = depth
        self.fields = fields
        self.rows: dict[tuple, int] = {}
        self.times = np.full(depth, MISSING, dtype=np.int64)
        self.data = {f: np.full((0, depth), MISSING, dtype=np.int64) for f in fields}
        self.count = 0  # columns ever appended (restored ones included)

    def _row(self, key: tuple) -> int:
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = len(self.rows)
            self.reserve(row + 1)
        return row

    def reserve(self, rows: int) -> None:
        """Room for ``rows`` rows, grown once per batch of new keys.

        The first snapshot sizes the arrays exactly (20,000 partitions → 20,000 rows, where
        doubling from 1,024 left 32,768 — 40 % of the log-end ring unused, 6 MB at that size);
        later growth adds at least an eighth, so a cluster that keeps gaining partitions is
        not copied once per new partition.
        """
        capacity = self.data[self.fields[0]].shape[0]
        if rows <= capacity:
            return
        if capacity:
            rows = max(rows, capacity + max(capacity // 8, 64))
        for f in self.fields:
            grown = np.full((rows, self.depth), MISSING, dtype=np.int64)
            grown[:capacity] = self.data[f]
            self.data[f] = grown

    def append(self, ts_ms: int, values: Mapping[Any, tuple[int | None, ...]]) -> None:
        """One column: ``values[key]`` in the order of ``fields`` (None → MISSING)."""
        col = self.count % self.depth
        self.times[col] = ts_ms
        for f in self.fields:
            self.data[f][:, col] = MISSING
        if values:
            known = self.rows
            self.reserve(len(known) + sum(1 for k in values if k not in known))
            rows = np.fromiter((self._row(k) for k in values), dtype=np.int64, count=len(values))
            # One field at a time, straight into int64: a nested list of 40,000 rows of
            # Python ints first was ~10 MB of short-lived objects per cycle at 20,000
            # partitions, in the middle of the cycle's peak.
            n = len(values)
            for i, f in enumerate(self.fields):
                column = np.fromiter(
                    (MISSING if (v := vals[i]) is None else v for vals in values.values()),
                    dtype=np.int64,
                    count=n,
                )
                self.data[f][rows, col] = column
        self.count += 1

    def order(self) -> np.ndarray:
        """Column indexes oldest → newest (only the columns written so far)."""
        n = min(self.count, self.depth)
        start = self.count % self.depth if self.count > self.depth else 0
        return (start + np.arange(n)) % self.depth

    def compact(self) -> None:
        """Forget rows with no value in any column (groups or partitions that went away)."""
        if not self.rows:
            return
        first = self.data[self.fields[0]]
        live = [(k, r) for k, r in self.rows.items() if (first[r] != MISSING).any()]
        if len(live) == len(self.rows):
            return
        index = np.array([r for _, r in live], dtype=np.int64)
        for f in self.fields:
            self.data[f] = self.data[f][index]
        self.rows = {k: i for i, (k, _) in enumerate(live)}


class LagMemory:
    """Recent group windows and log-end history of one cluster (see the module docstring).

    ``window``: samples per group-partition (the status window); ``depth``: log-end samples per
    partition.  Call :meth:`restore` before the first cycle's snapshot is recorded (``observe``
    does), then :meth:`add` each snapshot after the store has recorded it.
    """

    def __init__(
        self, store: HistoryStore, cluster: str, *, window: int = 10, depth: int = DEFAULT_DEPTH
    ) -> None:
        self.store = store
        self.cluster = cluster
        self.window = window
        # "seen": the store has a row even when all of its values are None.
        self._groups = _Ring(("seen", "committed", "log_end", "lag", "time_lag_ms"), window)
        self._log_ends = _Ring(("log_end",), depth)
        self._log_end_total = 0  # log-end sample times in the store (restored + added)
        self._restored = False
        #: When the offset history was last written to the store (``lag.history_every``);
        #: None until this memory's first write, so a new leader writes its first cycle.
        self.offsets_stored_ms: int | None = None
        #: Store answers for positions older than the memory, by (topic, partition, offset).
        self._older: dict[tuple[str, int, int], list[tuple[int, int]]] = {}

    # ------------------------------------------------------------------ filling
    def restore(self) -> None:
        """Fill the memory from the store once (a restart or a new leader loses nothing)."""
        if self._restored:
            return
        self._restored = True
        windows = self.store.group_windows(self.cluster, limit=self.window)
        by_time: dict[int, dict[tuple, tuple[int | None, ...]]] = {}
        for gid, parts in windows.items():
            for (topic, partition), samples in parts.items():
                for s in samples:
                    by_time.setdefault(s.ts_ms, {})[(gid, topic, partition)] = (
                        1, s.committed, s.log_end, s.lag, s.time_lag_ms,
                    )  # fmt: skip
        for ts in sorted(by_time):
            self._groups.append(ts, by_time[ts])
        recent = self.store.recent_log_ends(self.cluster, samples=self._log_ends.depth)
        for ts, values in recent:
            self._log_ends.append(ts, {k: (v,) for k, v in values.items()})
        self._log_end_total = self.store.log_end_sample_times(self.cluster)

    def add(self, snapshot: ClusterSnapshot) -> None:
        """Append the snapshot of this cycle (recorded in the store or not).

        ``_log_end_total`` counts every sample appended, stored or not: it is then never below
        the number of store samples the memory may be missing, so ``_complete`` stays safe.
        """
        self.restore()
        ts = snapshot.taken_at_ms
        ends = {
            (p.topic, p.partition): (p.log_end_offset,)
            for p in snapshot.partitions
            if p.log_end_offset is not None
        }
        if ends:
            self._log_ends.append(ts, ends)
            self._log_end_total += 1
        rows = {
            (g.group_id, p.topic, p.partition): (1, p.committed, p.log_end_offset, p.lag,
                                                 p.time_lag_ms)
            for g in snapshot.groups
            for p in g.partitions
        }  # fmt: skip
        if rows:  # the store's window counts only sample times that have group rows
            self._groups.append(ts, rows)
        if self._groups.count % (4 * self.window) == 0:
            self._groups.compact()
            self._log_ends.compact()

    # ------------------------------------------------------------------ reading
    def group_windows(
        self, cluster: str, *, limit: int = 10
    ) -> dict[str, dict[tuple[str, int], list[GroupSample]]]:
        """Every group's last ``limit`` samples per partition, as the store returns them."""
        self._check(cluster)
        self.restore()
        ring = self._groups
        order = ring.order()[-limit:]
        times = ring.times[order].tolist()
        cols = {f: ring.data[f][:, order] for f in ring.fields}
        out: dict[str, dict[tuple[str, int], list[GroupSample]]] = {}
        committed = _as_lists(cols["committed"])
        log_end = _as_lists(cols["log_end"])
        lag = _as_lists(cols["lag"])
        time_lag = _as_lists(cols["time_lag_ms"])
        seen = (cols["seen"] != MISSING).tolist()
        for (gid, topic, partition), row in ring.rows.items():
            mask = seen[row]
            if not any(mask):
                continue
            c, e, g, t = committed[row], log_end[row], lag[row], time_lag[row]
            out.setdefault(gid, {})[(topic, partition)] = [
                GroupSample(times[j], c[j], e[j], g[j], t[j]) for j in range(len(times)) if mask[j]
            ]
        return out

    def group_statuses(
        self,
        snapshot: ClusterSnapshot,
        *,
        window: int,
        min_complete: float,
        min_span_ms: int,
        min_unchanged_ms: int,
    ) -> dict[str, GroupStatus]:
        """Every snapshot group's status over its last ``window`` samples, evaluated on the
        arrays (:func:`~kafkaops.lag.status_arrays.window_verdicts`): the same answers as
        :func:`~kafkaops.lag.status.group_status` over :meth:`group_windows`, without making
        a Python object per sample."""
        self._check(snapshot.cluster_name)
        self.restore()
        ring = self._groups
        order = ring.order()[-window:]
        live = len(ring.rows)
        seen = ring.data["seen"][:live][:, order] != MISSING
        in_window = seen.any(axis=1).tolist()
        by_group: dict[str, dict[PartitionKey, int]] = {}
        for (gid, topic, partition), row in ring.rows.items():
            if in_window[row]:
                by_group.setdefault(gid, {})[(topic, partition)] = row
        # One entry per (group, partition) the per-sample evaluation would look at: the
        # partitions in the group's window and those in the snapshot, sorted per group.
        spans: list[tuple[str, list[PartitionKey]]] = []
        rows: list[int] = []
        current: list[int] = []
        members: list[bool] = []
        for g in snapshot.groups:
            lags = {(p.topic, p.partition): p.lag or 0 for p in g.partitions}
            known = by_group.get(g.group_id, {})
            keys = sorted(known.keys() | lags.keys())
            spans.append((g.group_id, keys))
            rows.extend(known.get(k, -1) for k in keys)
            current.extend(lags.get(k, 0) for k in keys)
            members.extend([bool(g.members)] * len(keys))
        index = np.array(rows, dtype=np.int64)
        present = index >= 0
        pick = np.where(present, index, 0)[:, None]
        columns = order[None, :]
        committed = ring.data["committed"][pick, columns]
        lag = ring.data["lag"][pick, columns]
        valid = (committed != MISSING) & (lag != MISSING) & present[:, None]
        verdicts = window_verdicts(
            ring.times[order],
            committed,
            lag,
            valid,
            np.array(current, dtype=np.int64),
            np.array(members, dtype=bool),
            now_ms=snapshot.taken_at_ms,
            window=window,
            min_complete=min_complete,
            min_span_ms=min_span_ms,
            min_unchanged_ms=min_unchanged_ms,
        )
        out: dict[str, GroupStatus] = {}
        i = 0
        for gid, keys in spans:
            parts = []
            for topic, partition in keys:
                parts.append(
                    PartitionStatus(
                        topic,
                        partition,
                        verdicts.statuses[i],
                        current[i],
                        verdicts.complete[i],
                        verdicts.reasons[i],
                        verdicts.evaluating[i],
                        verdicts.samples[i],
                    )
                )
                i += 1
            out[gid] = fold_group(gid, parts, window=window)
        return out

    def log_end_brackets(
        self, cluster: str, positions: Iterable[tuple[str, int, int]]
    ) -> dict[tuple[str, int, int], list[tuple[int, int]]]:
        """The samples just before and after each partition's log end passed ``offset``."""
        self._check(cluster)
        self.restore()
        wanted = list(positions)
        out: dict[tuple[str, int, int], list[tuple[int, int]]] = {}
        ring = self._log_ends
        order = ring.order()
        row_of = ring.rows.get
        found = [(w, row_of((w[0], w[1]))) for w in wanted]
        known = [w for w, row in found if row is not None]
        if known and len(order):
            rows = np.array([row for _, row in found if row is not None], dtype=np.int64)
            offsets = np.array([o for _, _, o in known], dtype=np.int64)[:, None]
            ends = ring.data["log_end"][rows][:, order]
            times = ring.times[order]
            valid = ends != MISSING
            le = valid & (ends <= offsets)
            has_before = le.any(axis=1)
            last = len(order) - 1 - np.argmax(le[:, ::-1], axis=1)
            before = np.where(has_before, last, -1)
            after_mask = valid & (ends > offsets) & (np.arange(len(order)) > before[:, None])
            has_after = after_mask.any(axis=1)
            after = np.argmax(after_mask, axis=1)
            idx = np.arange(len(known))
            b = zip(times[before].tolist(), ends[idx, before].tolist(), strict=True)
            a = zip(times[after].tolist(), ends[idx, after].tolist(), strict=True)
            complete = self._complete
            for key, hb, ha, sb, sa in zip(
                known, has_before.tolist(), has_after.tolist(), b, a, strict=True
            ):
                if hb:
                    out[key] = [sb, sa] if ha else [sb]
                elif complete:
                    out[key] = [sa] if ha else []
                # else: older than the memory, asked of the store below
        if self._complete and len(out) < len(wanted):
            # Every sample the store has is in memory, so a partition the memory has no
            # sample of has none in the store either (a fresh store's first cycle: 80,000
            # single-row queries at issue 17's size, all answering "nothing").
            for w in wanted:
                out.setdefault(w, [])
        older = [w for w in wanted if w not in out]
        missing = [w for w in older if w not in self._older]
        if missing:
            answers = self.store.log_end_brackets(cluster, missing)
            for w in missing:
                out[w] = list(answers.get(w, []))
                if any(end > w[2] for _, end in out[w]):  # passed: its history is final
                    self._older[w] = out[w]
        for w in older:
            if w in self._older:
                out[w] = list(self._older[w])
        if len(self._older) > 2 * len(wanted) + 1024:
            keep = set(older)
            self._older = {k: v for k, v in self._older.items() if k in keep}
        return out

    @property
    def _complete(self) -> bool:
        """True while every log-end sample the store has for the cluster is in memory."""
        return self._log_end_total <= self._log_ends.depth

    def _check(self, cluster: str) -> None:
        if cluster != self.cluster:
            raise ValueError(f"lag memory of cluster {self.cluster!r} asked about {cluster!r}")


def _as_lists(matrix: np.ndarray) -> list[list[int | None]]:
    """Rows of an int64 matrix as Python lists, MISSING as None."""
    rows = matrix.tolist()
    return [[None if v == MISSING else v for v in row] for row in rows]
