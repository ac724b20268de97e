"""The watch loop's hourly housekeeping: history retention and outbox pruning actually run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafkaops.collect.admin import CollectOptions
from kafkaops.config import Config
from kafkaops.pipeline.health import Target
from kafkaops.pipeline.watch import Watcher
from kafkaops.store.history import HistoryStore
from tests.store.test_history_store import snap


class _Dispatcher:
    def __init__(self) -> None:
        self.pruned: list[datetime] = []
        self.outbox = self

    def prune(self, before: datetime) -> int:
        self.pruned.append(before)
        return 0


def test_leader_applies_retention_hourly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    store = HistoryStore(url)
    try:
        year_ago_ms = int((now - timedelta(days=400)).timestamp() * 1000)
        store.record(snap(year_ago_ms, 10, 5))
        assert sum(store.count_rows().values()) == 5
    finally:
        store.close()
    target = Target("c", {"bootstrap_servers": "127.0.0.1:1"}, CollectOptions(), Config(), url)
    dispatcher = _Dispatcher()
    watcher = Watcher(targets=[target], engine=None, dispatcher=dispatcher)
    watcher.housekeeping(now)
    watcher.housekeeping(now + timedelta(minutes=30))  # not due yet
    store = HistoryStore(url)
    try:
        assert sum(store.count_rows().values()) == 0  # past the one-year horizon
    finally:
        store.close()
    assert dispatcher.pruned == [now - timedelta(days=90)]
    watcher.housekeeping(now + timedelta(hours=1))
    assert len(dispatcher.pruned) == 2
