"""Restart brokers of a self-managed cluster safely: one at a time, each back in sync before the
next.  (MSK brokers are rebooted through AWS instead: ``kafkaops msk reboot``.)

For each broker, in order (a rolling restart puts the broker the metadata names as controller
last):

1. **preflight** (:func:`blocking`, pure) on a fresh metadata probe: the broker is registered,
   no partition is offline and none is under-replicated — except partitions whose only missing
   replica is the broker being restarted (restarting a broker that is already down cannot make
   them worse, and is usually the fix);
2. the **restart step** (pluggable: a configured command, e.g. ``ssh {host} sudo systemctl
   restart kafka``; in the sandbox its own stop/start), with a timeout;
3. **wait** until the broker is registered and unfenced again and no partition is
   under-replicated, polling with progress, up to a timeout.

Anything failing stops the run there; the result says which brokers were restarted, which one
failed and why, and which were not touched.  Each broker gets ``started`` and final rows in the
actions audit trail when a store is configured.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kafka.errors import KafkaError

from kafkaops.actions.audit import AuditLog
from kafkaops.collect.admin import CollectOptions, KafkaAdmin


class RestartError(Exception):
    """A step, a preflight or a wait failed; the message is one line."""


@dataclass(frozen=True)
class PartitionView:
    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def offline(self) -> bool:
        return self.leader < 0

    @property
    def missing(self) -> set[int]:
        return set(self.replicas) - set(self.isr)

    @property
    def name(self) -> str:
        return f"{self.topic}-{self.partition}"


@dataclass(frozen=True)
class ClusterView:
    """What the restart decisions need from one metadata round trip."""

    #: Registered and not fenced, with their advertised host.
    brokers: dict[int, str]
    fenced: frozenset[int]
    controller: int | None
    partitions: tuple[PartitionView, ...]

    @property
    def under_replicated(self) -> list[PartitionView]:
        return [p for p in self.partitions if p.missing and not p.offline]

    @property
    def offline(self) -> list[PartitionView]:
        return [p for p in self.partitions if p.offline]


def probe(client_kwargs: Mapping[str, Any], timeout_ms: int = 10_000) -> ClusterView:
    """DescribeCluster + Metadata (all topics); raises :class:`RestartError` when unreachable."""
    options = CollectOptions(client_id="kafkaops-restart", request_timeout_ms=timeout_ms)
    try:
        with KafkaAdmin(client_kwargs, options) as admin:
            cluster = admin.describe_cluster()
            [metadata] = admin.gather([admin.metadata_call()])
    except (KafkaError, OSError) as exc:
        raise RestartError(f"cluster unreachable: {type(exc).__name__}: {exc}") from None
    if isinstance(metadata, BaseException):
        raise RestartError(f"Metadata failed: {type(metadata).__name__}: {metadata}")
    raw = {b["broker_id"]: b for b in cluster.get("brokers", [])}
    fenced = frozenset(bid for bid, b in raw.items() if b.get("is_fenced"))
    parts = tuple(
        PartitionView(t["name"], p["partition_index"], p.get("leader_id", -1),
                      tuple(p.get("replica_nodes", ())), tuple(p.get("isr_nodes", ())))
        for t in metadata["topics"] if not t.get("error_code")
        for p in t.get("partitions", [])
    )  # fmt: skip
    controller = cluster.get("controller_id")
    return ClusterView(
        brokers={bid: str(b.get("host", "")) for bid, b in raw.items() if bid not in fenced},
        fenced=fenced,
        controller=controller if isinstance(controller, int) and controller >= 0 else None,
        partitions=parts,
    )


def blocking(view: ClusterView, broker: int) -> str | None:
    """Why restarting ``broker`` now could hurt (one line), or None when it may go."""
    known = set(view.brokers) | set(view.fenced)
    if broker not in known:
        return f"broker {broker} is not registered (brokers: {_ids(known)})"
    offline = [p for p in view.offline if broker not in p.replicas]
    if offline:
        return f"{len(offline)} partitions are offline ({_names(offline)}); fix them first"
    urp = [p for p in view.under_replicated if p.missing - {broker}]
    if urp:
        return (
            f"{len(urp)} partitions are under-replicated on other brokers ({_names(urp)}): "
            f"restarting broker {broker} could take them below min ISR; wait until in sync"
        )
    return None


def caught_up(view: ClusterView, broker: int) -> str | None:
    """Why ``broker`` is not back yet (one line), or None when it is registered, unfenced and
    no partition is under-replicated or offline."""
    if broker not in view.brokers:
        return f"broker {broker} not back yet" + (" (fenced)" if broker in view.fenced else "")
    if view.offline:
        return f"{len(view.offline)} partitions offline"
    if view.under_replicated:
        return f"{len(view.under_replicated)} partitions under-replicated"
    return None


def rolling_order(view: ClusterView) -> list[int]:
    """Every registered broker, ascending, the controller last (one controller move only)."""
    ids = sorted(set(view.brokers) | set(view.fenced))
    if view.controller in ids:
        ids.remove(view.controller)  # type: ignore[arg-type]
        ids.append(view.controller)  # type: ignore[arg-type]
    return ids


class RestartStep(Protocol):
    """Restarts one broker and returns (once the process was told to start again)."""

    def describe(self, broker: int, host: str) -> str: ...

    def __call__(self, broker: int, host: str) -> None: ...


@dataclass(frozen=True)
class CommandStep:
    """A configured argv per broker: ``{broker}``, ``{host}``, ``{cluster}`` substituted."""

    template: tuple[str, ...]
    cluster: str
    timeout_s: float = 300.0

    def argv(self, broker: int, host: str) -> list[str]:
        values = {"broker": broker, "host": host, "cluster": self.cluster}
        return [part.format(**values) for part in self.template]

    def describe(self, broker: int, host: str) -> str:
        import shlex

        return shlex.join(self.argv(broker, host))

    def __call__(self, broker: int, host: str) -> None:
        argv = self.argv(broker, host)
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            raise RestartError(f"{argv[0]}: no exit after {self.timeout_s:.0f}s") from None
        except OSError as exc:
            raise RestartError(f"{argv[0]}: {exc.strerror or exc}") from None
        if done.returncode:
            tail = " ".join((done.stderr or done.stdout or "").split())[-300:]
            raise RestartError(f"{argv[0]} exited {done.returncode}: {tail or 'no output'}")


@dataclass
class BrokerResult:
    broker: int
    #: restarted | failed | refused | planned | not_started
    result: str
    detail: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"broker": self.broker, "result": self.result, "detail": self.detail,
                "seconds": round(self.seconds, 1)}  # fmt: skip


@dataclass
class RestartRun:
    cluster: str
    brokers: list[int]
    applied: bool
    steps: list[BrokerResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.result in ("restarted", "planned") for s in self.steps)

    def summary(self) -> str:
        done = [s.broker for s in self.steps if s.result == "restarted"]
        bad = next((s for s in self.steps if s.result in ("failed", "refused")), None)
        left = [s.broker for s in self.steps if s.result == "not_started"]
        if not self.applied:
            return f"dry run: would restart brokers {_ids(self.brokers)} one at a time"
        text = f"restarted {_ids(done) if done else 'none'}"
        if bad is not None:
            text += f"; broker {bad.broker} {bad.result}: {bad.detail}"
        if left:
            text += f"; not touched: {_ids(left)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "brokers": self.brokers, "applied": self.applied,
                "ok": self.ok, "summary": self.summary(),
                "steps": [s.to_dict() for s in self.steps]}  # fmt: skip


Progress = Callable[[int, str, float], None]


def restart_brokers(
    cluster: str,
    client_kwargs: Mapping[str, Any],
    brokers: Sequence[int] | None,
    step: RestartStep,
    *,
    apply: bool,
    timeout_s: float,
    poll_s: float = 5.0,
    audit: AuditLog | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    look: Callable[..., ClusterView] = probe,
) -> RestartRun:
    """Restart ``brokers`` (None: all, rolling order) one at a time; see the module doc.

    Without ``apply`` only the preflight of the first broker runs (a dry run changes nothing).
    """
    view = look(client_kwargs)
    order = list(brokers) if brokers else rolling_order(view)
    run = RestartRun(cluster, order, apply)
    say = progress or (lambda _b, _t, _s: None)
    for i, broker in enumerate(order):
        if i:
            view = look(client_kwargs)
        why = blocking(view, broker)
        host = view.brokers.get(broker, "")
        if why is not None:
            run.steps.append(BrokerResult(broker, "refused", why))
            _record(audit, cluster, broker, "refused", why)
            break
        if not apply:
            run.steps.append(BrokerResult(broker, "planned", step.describe(broker, host)))
            continue
        started = clock()
        say(broker, f"restarting: {step.describe(broker, host)}", 0.0)
        _record(audit, cluster, broker, "started", step.describe(broker, host))
        try:
            step(broker, host)
            say(broker, "restart step done; waiting to rejoin and catch up", clock() - started)
            _wait(look, client_kwargs, broker, started, timeout_s, poll_s, say, sleep, clock)
        except RestartError as exc:
            run.steps.append(BrokerResult(broker, "failed", str(exc), clock() - started))
            _record(audit, cluster, broker, "failed", str(exc))
            break
        took = clock() - started
        run.steps.append(BrokerResult(broker, "restarted", "back, 0 under-replicated", took))
        _record(audit, cluster, broker, "succeeded", f"back and in sync after {took:.0f}s")
        say(broker, "back and in sync", took)
    touched = {s.broker for s in run.steps}
    run.steps += [BrokerResult(b, "not_started") for b in order if b not in touched]
    return run


def _wait(
    look: Callable[..., ClusterView],
    client_kwargs: Mapping[str, Any],
    broker: int,
    started: float,
    timeout_s: float,
    poll_s: float,
    say: Progress,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> None:
    last = ""
    while True:
        try:
            why = caught_up(look(client_kwargs, timeout_ms=5_000), broker)
        except RestartError as exc:
            why = str(exc)
        if why is None:
            return
        if why != last:
            say(broker, why, clock() - started)
            last = why
        if clock() - started >= timeout_s:
            raise RestartError(f"still not in sync after {timeout_s:.0f}s: {why}")
        sleep(poll_s)


def _record(audit: AuditLog | None, cluster: str, broker: int, result: str, text: str) -> None:
    if audit is not None:
        audit.record(cluster=cluster, operation=f"restart_broker:{broker}", result=result,
                     summary=f"broker {broker}: {text}", detail={"broker": broker})  # fmt: skip


def _ids(ids: Sequence[int] | set[int]) -> str:
    return (
        ", ".join(str(i) for i in sorted(ids))
        if isinstance(ids, set)
        else ", ".join(str(i) for i in ids)
    )


def _names(parts: Sequence[PartitionView], limit: int = 3) -> str:
    shown = ", ".join(p.name for p in parts[:limit])
    return shown + (f" and {len(parts) - limit} more" if len(parts) > limit else "")


@dataclass(frozen=True)
class SandboxStep:
    """The sandbox's own stop (SIGTERM, controlled shutdown) and start, for a sandbox cluster."""

    root: Any  # pathlib.Path of the sandbox folder

    def describe(self, broker: int, host: str) -> str:
        return f"sandbox stop-broker {broker} && sandbox start-broker {broker}"

    def __call__(self, broker: int, host: str) -> None:
        from kafkaops.sandbox.cluster import Sandbox

        box = Sandbox(self.root)
        try:
            box.stop_node(broker)
            box.start_node(broker, wait=False)
        except Exception as exc:  # the sandbox raises its own errors with one-line messages
            raise RestartError(f"sandbox: {type(exc).__name__}: {exc}") from None
