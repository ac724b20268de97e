"""The watch cycle's capacity hook: bounded sampling, findings, and never an exception."""

from __future__ import annotations

import time

from kafkaops.capacity import watch_hook
from kafkaops.capacity.check import RULE
from kafkaops.capacity.settings import CapacitySettings
from kafkaops.capacity.store import CapacityStore
from kafkaops.core.model import CheckStatus
from tests.capacity.snapshots import snapshot


def test_hook_samples_at_most_once_a_minute_and_returns_findings(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    watch_hook.close_all()
    try:
        now_ms = int(time.time() * 1000)
        for i in range(5):  # five 10-second cycles
            found = watch_hook.capacity_cycle(
                url, CapacitySettings(), snapshot(now_ms + i * 10_000)
            )
        assert {f.rule for f in found} == {RULE}
        # One day of history: "not measured", with the honest reason.
        assert all(f.status == CheckStatus.NOT_MEASURED for f in found)
        assert "not enough history (1 days, needs 7)" in found[0].evidence[0]
        store = CapacityStore(url)
        try:
            rows = store.count_rows()
        finally:
            store.close()
        assert rows["cap_logdir"] == 3 and rows["cap_broker"] == 3 and rows["cap_topic"] == 1
        # A store that cannot be opened costs the health cycle nothing.
        assert watch_hook.capacity_cycle("sqlite:////nonexistent/dir/x.db", CapacitySettings(),
                                         snapshot(now_ms)) == []  # fmt: skip
        assert watch_hook.capacity_cycle(None, CapacitySettings(), snapshot(now_ms)) == []
    finally:
        watch_hook.close_all()
