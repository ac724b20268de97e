"""``kafkaops brokers restart``: the preflight and the stop-on-failure logic on constructed
cluster views (pure, fast), and one real restart of one sandbox broker (stop, start, back in
sync, audited) — the broker is restored even when the test fails."""

from __future__ import annotations

import json
import time

import pytest

from kafkaops.actions.audit import AuditLog
from kafkaops.actions.restart import (
    ClusterView,
    PartitionView,
    RestartError,
    blocking,
    caught_up,
    restart_brokers,
    rolling_order,
)
from tests.conftest import run_cli


def _view(*parts: PartitionView, up=(1, 2, 3), fenced=(), controller=2) -> ClusterView:
    return ClusterView({b: f"h{b}" for b in up}, frozenset(fenced), controller, parts)


def _p(name: str, leader: int, replicas: tuple[int, ...], isr: tuple[int, ...]) -> PartitionView:
    return PartitionView(name, 0, leader, replicas, isr)


def test_preflight_refusals_and_exemptions() -> None:
    healthy = _view(_p("a", 1, (1, 2, 3), (1, 2, 3)))
    assert blocking(healthy, 1) is None
    assert "not registered" in blocking(healthy, 7)  # type: ignore[operator]
    urp_elsewhere = _view(_p("a", 1, (1, 2, 3), (1, 2)))
    assert "under-replicated on other brokers (a-0)" in blocking(urp_elsewhere, 1)  # type: ignore[operator]
    # Broker 3 is the one missing: restarting it cannot make a-0 worse (and may fix it).
    assert blocking(urp_elsewhere, 3) is None
    offline = _view(_p("b", -1, (2,), ()))
    assert "1 partitions are offline (b-0)" in blocking(offline, 1)  # type: ignore[operator]
    assert blocking(_view(_p("b", -1, (2,), ()), up=(1, 3), fenced=(2,)), 2) is None


def test_waiting_and_order() -> None:
    assert caught_up(_view(up=(1, 3), fenced=(2,)), 2) == "broker 2 not back yet (fenced)"
    assert caught_up(_view(_p("a", 1, (1, 2), (1,))), 2) == "1 partitions under-replicated"
    assert caught_up(_view(_p("a", 1, (1, 2), (1, 2))), 2) is None
    assert rolling_order(_view(controller=2)) == [1, 3, 2]  # controller last


class _Step:
    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[int] = []
        self.fail_on = fail_on

    def describe(self, broker: int, host: str) -> str:
        return f"restart {broker}@{host}"

    def __call__(self, broker: int, host: str) -> None:
        self.calls.append(broker)
        if broker == self.fail_on:
            raise RestartError("ssh exited 255: connection refused")


def test_rolling_stops_at_the_first_failure_and_says_what_was_done() -> None:
    step = _Step(fail_on=3)
    look = lambda *_a, **_k: _view(controller=2)  # noqa: E731 - always healthy
    run = restart_brokers("c", {}, None, step, apply=True, timeout_s=5, poll_s=0,
                          sleep=lambda _s: None, look=look)  # fmt: skip
    assert step.calls == [1, 3]
    assert [(s.broker, s.result) for s in run.steps] == [
        (1, "restarted"), (3, "failed"), (2, "not_started")]  # fmt: skip
    assert run.summary() == (
        "restarted 1; broker 3 failed: ssh exited 255: connection refused; not touched: 2"
    )
    assert not run.ok


def test_dry_run_restarts_nothing_and_a_timeout_fails() -> None:
    step = _Step()
    look = lambda *_a, **_k: _view()  # noqa: E731
    run = restart_brokers("c", {}, [2], step, apply=False, timeout_s=5, look=look)
    assert step.calls == [] and [s.result for s in run.steps] == ["planned"]
    assert run.steps[0].detail == "restart 2@h2"
    never = lambda *_a, **_k: _view(up=(1, 3), fenced=(2,))  # noqa: E731 - never comes back
    ticks = iter(range(0, 1000, 10))
    run = restart_brokers("c", {}, [2, 1], step, apply=True, timeout_s=30, poll_s=0,
                          sleep=lambda _s: None, clock=lambda: float(next(ticks)),
                          look=lambda *a, **k: _view() if not step.calls else never())  # fmt: skip
    assert [s.result for s in run.steps] == ["failed", "not_started"]
    assert "still not in sync after 30s: broker 2 not back yet (fenced)" in run.steps[0].detail


@pytest.mark.integration
def test_restart_one_sandbox_broker(sandbox, tmp_path) -> None:
    """The real CLI: a dry run (nothing stopped), then a real restart of broker 3 — a new JVM,
    back in sync, audited.  The broker is restored even when the test fails."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    root = str(sandbox.root)
    dry = run_cli("brokers", "restart", "--broker", "3", "--dir", root, "--json")
    assert dry.returncode == 0, dry.stderr
    assert [s["result"] for s in json.loads(dry.stdout)["steps"]] == ["planned"]
    pid_before = next(n.pid for n in sandbox.status() if n.node_id == 3)
    started = time.monotonic()
    try:
        done = run_cli("brokers", "restart", "--broker", "3", "--dir", root, "--apply",
                       "--store", url, "--timeout", "120s", timeout=180)  # fmt: skip
    finally:
        sandbox.start_node(3)  # the suite's rule: restore any broker a test stops
    took = time.monotonic() - started
    print(done.stdout, done.stderr, f"took {took:.1f}s", sep="\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("broker 3: restarted: back, 0 under-replicated")
    assert "broker 3: back and in sync" in done.stderr  # progress
    pid_after = next(n.pid for n in sandbox.status() if n.node_id == 3)
    assert pid_after and pid_after != pid_before  # really a new JVM
    with AuditLog.open(url) as audit:
        rows = audit.list()
    assert [(r["operation"], r["result"]) for r in rows] == [
        ("restart_broker:3", "started"), ("restart_broker:3", "succeeded")]  # fmt: skip
