"""The service's collector policy: pauses are recorded, survivors frozen, dead cycles reclaimed."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from kafkaops.core.gc_policy import CycleCollector, DefaultCollector, GcPauses, manage_collector
from kafkaops.service.exporter.gc_pauses import GcPauseCollector


@pytest.fixture(autouse=True)
def _restore_collector() -> Iterator[None]:
    """Leave the test process's collector as pytest found it (nothing frozen)."""
    threshold = gc.get_threshold()
    yield
    gc.set_threshold(*threshold)
    gc.unfreeze()
    gc.collect()


class _Node:
    """A reference cycle: only the cycle collector can free it."""

    def __init__(self) -> None:
        self.me = self


def test_pauses_are_recorded_per_generation() -> None:
    pauses = GcPauses().install()
    try:
        gc.collect(0)
        gc.collect(2)
    finally:
        pauses.uninstall()
    stats = pauses.snapshot()
    assert stats[0].count >= 1 and stats[2].count >= 1
    assert stats[2].max_s > 0 and stats[2].total_s >= stats[2].max_s
    gc.collect(2)  # uninstalled: no longer counted
    assert pauses.snapshot()[2].count == stats[2].count


def test_after_cycle_collects_the_cycle_s_garbage_then_freezes_the_survivors() -> None:
    collector = CycleCollector(full_every=0)
    collector.start()
    frozen_at_start = gc.get_freeze_count()
    assert frozen_at_start > 0
    assert gc.get_threshold()[2] == 100  # the automatic full passes made rare
    garbage = weakref.ref(_Node())  # made and dropped during the "cycle"
    survivor = _Node()  # still referenced when the cycle ends
    collector.after_cycle()
    assert garbage() is None, "a cycle that died during the cycle is collected at its end"
    assert gc.get_freeze_count() > frozen_at_start
    assert survivor.me is survivor  # alive, and out of the collector's sight:
    assert all(o is not survivor for o in gc.get_objects())


def test_a_cycle_that_dies_after_being_frozen_is_reclaimed_by_the_periodic_full_collection() -> (
    None
):
    collector = CycleCollector(full_every=3)
    collector.start()
    node = _Node()
    ref = weakref.ref(node)
    collector.after_cycle()  # cycle 1: node survives and is frozen
    del node
    collector.after_cycle()  # cycle 2: frozen, so not seen
    assert ref() is not None
    collector.after_cycle()  # cycle 3: everything unfrozen and collected once
    assert ref() is None


def test_policy_off_keeps_cpython_s_schedule(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    gc.unfreeze()
    monkeypatch.setenv("KAFKAOPS_GC_POLICY", "off")
    collector = manage_collector()
    collector.after_cycle()
    assert isinstance(collector, DefaultCollector) and gc.get_freeze_count() == 0
    monkeypatch.setenv("KAFKAOPS_GC_POLICY", "7")
    assert manage_collector().full_every == 7
    monkeypatch.setenv("KAFKAOPS_GC_POLICY", "often")  # unreadable: the default, never a crash
    assert manage_collector().full_every == 30
    assert "KAFKAOPS_GC_POLICY='often' is neither 'off' nor a number" in caplog.text


def test_pause_families_on_the_metrics_page() -> None:
    pauses = GcPauses().install()
    try:
        gc.collect(2)
    finally:
        pauses.uninstall()
    registry = CollectorRegistry()
    registry.register(GcPauseCollector(pauses))
    page = generate_latest(registry).decode()
    assert 'kafkaops_gc_pause_seconds_total{generation="2"}' in page
    assert 'kafkaops_gc_pause_max_seconds{generation="2"}' in page
    assert "kafkaops_gc_frozen_objects " in page
