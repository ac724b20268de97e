"""Fail over to the replica: preflight, stop replication, fence producers, commit translated
offsets, switch the client endpoint, verify consumers resume, audit.

``plan`` (the default) runs nothing that changes a cluster: it collects the facts and prints
what each step would do.  ``apply`` runs the steps in order; each is idempotent (a step whose
effect is already there says "already"), shows progress, and on failure the run stops with
what was done and how to undo it.  Measured RTO (start → consumers resumed, or → endpoint
switched when not verified) and the RPO estimate go to the audit trail (JSON lines).

Groups are committed on the replica only when they have no active members there: Kafka
refuses offset commits for a group with live members, and MM2's own group sync skips them too.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kafkaops.dr.facts import DrFacts
from kafkaops.dr.pair import DrPair
from kafkaops.dr.settings import EndpointSwitch
from kafkaops.dr.verify import DrReport, verify


class FailoverError(Exception):
    """A step failed; the run stopped there."""


@dataclass
class Step:
    name: str
    status: str = "pending"  # planned | done | already | skipped | failed
    detail: str = ""
    rollback: str | None = None
    seconds: float = 0.0


@dataclass
class FailoverResult:
    mode: str  # plan | apply
    primary: str
    replica: str
    started_at_ms: int
    finished_at_ms: int = 0
    ok: bool = False
    steps: list[Step] = field(default_factory=list)
    rpo_estimate_ms: int | None = None
    rpo_basis: str = ""
    rto_ms: int | None = None
    groups: dict[str, dict[str, int]] = field(default_factory=dict)
    new_bootstrap: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def translated_offsets(facts: DrFacts, groups: list[str] | None = None) -> dict[str, dict]:
    """Per group: {(remote topic, partition): translated offset} from the latest checkpoints."""
    out: dict[str, dict[tuple[str, int], int]] = {}
    for (group, topic, partition), cp in sorted(facts.checkpoints.items()):
        if groups and group not in groups:
            continue
        out.setdefault(group, {})[(topic, partition)] = cp.downstream_offset
    return out


def _replica_admin(pair: DrPair) -> Any:
    from kafka import KafkaAdminClient

    from kafkaops.dr.collect import _admin_kwargs

    return KafkaAdminClient(**_admin_kwargs(pair.replica_kwargs))


class Failover:
    def __init__(
        self,
        pair: DrPair,
        *,
        accept_data_loss: bool = False,
        groups: list[str] | None = None,
        switch: EndpointSwitch | None = None,
        fence_command: str | None = None,
        verify_timeout_s: float = 0.0,
        audit_log: Path | None = None,
        progress: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        collect: Callable[[], DrFacts] | None = None,
    ) -> None:
        self.pair = pair
        self.accept_data_loss = accept_data_loss
        self.groups = groups
        self.switch = switch or pair.settings.switch
        self.fence_command = fence_command or pair.settings.fence_command
        self.verify_timeout_s = verify_timeout_s
        self.audit_log = audit_log or Path(pair.settings.audit_log)
        self.say = progress or (lambda _m: None)
        self.clock = clock
        self._collect = collect

    # ------------------------------------------------------------------ facts
    def collect(self) -> DrFacts:
        if self._collect is not None:
            return self._collect()
        from kafkaops.dr.collect import collect_facts

        p = self.pair
        return collect_facts(
            p.primary,
            p.primary_kwargs,
            p.replica,
            p.replica_kwargs,
            p.policy,
            p.target_alias,
            offset_syncs_on=p.settings.offset_syncs_location,
            replicator=p.replicator_state(),
        )

    # -------------------------------------------------------------------- run
    def run(self, *, apply: bool) -> FailoverResult:
        now_ms = int(self.clock() * 1000)
        new_bs = ",".join(self.pair.replica_kwargs.get("bootstrap_servers", []))
        res = FailoverResult(
            "apply" if apply else "plan",
            self.pair.primary,
            self.pair.replica,
            now_ms,
            new_bootstrap=new_bs,
        )
        steps: list[tuple[str, Callable[[Step, bool], None]]] = [
            ("preflight", self._preflight),
            ("stop replication", self._stop_replication),
            ("fence producers", self._fence),
            ("commit translated offsets", self._commit_offsets),
            ("switch client endpoint", self._switch),
            ("verify consumers resume", self._verify_consumers),
        ]
        self._res = res
        refused = False
        try:
            for name, fn in steps:
                step = Step(name)
                res.steps.append(step)
                t0 = time.monotonic()
                self.say(f"[{len(res.steps)}/{len(steps)}] {name} …")
                try:
                    fn(step, apply)
                except FailoverError as exc:
                    step.status, step.detail = "failed", str(exc)
                    if apply or name != "preflight" or not hasattr(self, "translated"):
                        raise
                    # A plan goes on after a refused preflight: the operator sees every step.
                    refused = True
                except Exception as exc:  # a cluster or a hook failing: stop, say what
                    step.status, step.detail = "failed", f"{type(exc).__name__}: {exc}"
                    raise FailoverError(step.detail) from exc
                finally:
                    step.seconds = round(time.monotonic() - t0, 3)
                self.say(f"    {step.status}: {step.detail}")
            res.ok = not refused
        except FailoverError:
            res.ok = False
        res.finished_at_ms = int(self.clock() * 1000)
        if apply and res.ok:
            res.rto_ms = res.finished_at_ms - res.started_at_ms
        if apply:
            self._audit(res)
        return res

    # ------------------------------------------------------------------ steps
    def _preflight(self, step: Step, apply: bool) -> None:
        facts = self.collect()
        self.facts = facts
        report: DrReport = verify(facts, self.pair.targets)
        self.report = report
        if not facts.replica.reachable:
            raise FailoverError(f"replica {facts.replica.name} unreachable: {facts.replica.error}")
        self.translated = translated_offsets(facts, self.groups)
        target = self.pair.targets.rpo_ms
        res = self._res
        if not facts.primary.reachable:
            res.rpo_basis = "primary unreachable: unreplicated records cannot be counted"
            if report.heartbeat_age_ms is not None:
                res.rpo_basis += f"; last MM2 heartbeat {report.heartbeat_age_ms} ms ago"
            if not self.accept_data_loss:
                raise FailoverError(res.rpo_basis + "; pass --accept-data-loss to fail over")
        else:
            res.rpo_estimate_ms = report.rpo_estimate_ms
            res.rpo_basis = "; ".join(report.rpo_evidence)
            if report.rpo_estimate_ms is None and not self.accept_data_loss:
                raise FailoverError("replication lag not measurable; pass --accept-data-loss")
            if (report.rpo_estimate_ms or 0) > target and not self.accept_data_loss:
                raise FailoverError(
                    f"replication behind: RPO estimate {report.rpo_estimate_ms} ms > target "
                    f"{target} ms ({res.rpo_basis}); pass --accept-data-loss to fail over anyway"
                )
        if not self.translated:
            step.detail = "no MM2 checkpoints yet: consumers will start from auto.offset.reset; "
        step.status = "done" if apply else "planned"
        step.detail += (
            f"replica reachable; RPO estimate "
            f"{'unknown' if res.rpo_estimate_ms is None else f'{res.rpo_estimate_ms} ms'}; "
            f"{len(self.translated)} group(s) with checkpoints"
        )

    def _stop_replication(self, step: Step, apply: bool) -> None:
        mirror = self.pair.mirror
        if mirror is None:
            step.status = "skipped"
            step.detail = "not a sandbox mirror: stop MM2 / MSK Replicator in its deployment"
            return
        if not mirror.running():
            step.status, step.detail = "already", "MirrorMaker 2 is not running"
            return
        if not apply:
            step.status, step.detail = (
                "planned",
                f"stop MirrorMaker 2 (pid {mirror.state()['pid']})",
            )
            return
        mirror.down(timeout_s=10)  # with the primary gone MM2 may not stop cleanly
        step.status, step.detail = "done", "MirrorMaker 2 stopped"
        step.rollback = (
            f"kafkaops sandbox mirror up --from {mirror.source_name} --to {mirror.target_name}"
        )

    def _fence(self, step: Step, apply: bool) -> None:
        if not self.fence_command:
            step.status = "skipped"
            step.detail = (
                "no fence command (dr.fence_command / --fence-command): "
                "producers not stopped by kafkaops"
            )
            return
        if not apply:
            step.status, step.detail = "planned", f"run {self.fence_command!r}"
            return
        proc = subprocess.run(
            shlex.split(self.fence_command),
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "KAFKAOPS_DR_PRIMARY": self.pair.primary},
            check=False,
        )
        if proc.returncode != 0:
            raise FailoverError(
                f"fence command exited {proc.returncode}: "
                f"{(proc.stderr or proc.stdout).strip()[-300:]}"
            )
        step.status, step.detail = "done", f"fence command ran: {self.fence_command!r}"

    def _commit_offsets(self, step: Step, apply: bool) -> None:
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        if not self.translated:
            step.status, step.detail = "skipped", "no checkpoints: nothing to translate"
            return
        admin = _replica_admin(self.pair)
        done, kept, active, previous = [], [], [], {}
        try:
            ids = list(self.translated)
            desc = admin.describe_groups(ids)
            current = admin.list_group_offsets(dict.fromkeys(ids))
            for gid, offsets in self.translated.items():
                members = len(desc.get(gid, {}).get("members", []))
                if members:
                    active.append(f"{gid} ({members} active member(s) on the replica)")
                    continue
                now = {
                    (tp.topic, tp.partition): om.offset for tp, om in current.get(gid, {}).items()
                }
                previous[gid] = {f"{t}:{p}": o for (t, p), o in now.items()}
                # Never move a group backwards: one that read on the replica keeps its place.
                want = {tp: o for tp, o in offsets.items() if now.get(tp, -1) < o}
                self._res.groups[gid] = {
                    f"{t}:{p}": max(o, now.get((t, p), -1)) for (t, p), o in offsets.items()
                }
                if not want:
                    kept.append(gid)
                    continue
                if apply:
                    admin.alter_group_offsets(
                        gid,
                        {
                            TopicPartition(t, p): OffsetAndMetadata(o, "", -1)
                            for (t, p), o in want.items()
                        },
                    )
                done.append(f"{gid} ({len(want)} partition(s))")
        finally:
            admin.close()
        parts = []
        if done:
            parts.append(("committed " if apply else "would commit ") + ", ".join(done))
        if kept:
            parts.append("already at or past the translated offsets: " + ", ".join(kept))
        if active:
            parts.append("not committed, active on the replica: " + ", ".join(active))
        step.detail = "; ".join(parts)
        step.status = ("done" if done else "already") if apply else "planned"
        if apply and done:
            step.rollback = "previous replica offsets: " + json.dumps(previous)

    def _switch(self, step: Step, apply: bool) -> None:
        sw = self.switch
        new = self._res.new_bootstrap
        if sw.type == "none":
            step.status = "skipped"
            step.detail = f"no endpoint switch configured: point clients at {new}"
            return
        if sw.type == "file":
            path = Path(sw.path or "")
            old = path.read_text().strip() if path.exists() else None
            if old == new:
                step.status, step.detail = "already", f"{path} already says {new}"
                return
            if not apply:
                step.status, step.detail = "planned", f"write {new} to {path} (now {old})"
                return
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(new + "\n")
            tmp.replace(path)
            step.status, step.detail = "done", f"{path}: {old} -> {new}"
            step.rollback = f"write {old!r} back to {path}" if old else f"remove {path}"
            return
        if sw.type == "command":
            if not apply:
                step.status, step.detail = (
                    "planned",
                    f"run {sw.command!r} with KAFKAOPS_DR_BOOTSTRAP={new}",
                )
                return
            proc = subprocess.run(
                shlex.split(sw.command or "true"),
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "KAFKAOPS_DR_BOOTSTRAP": new},
                check=False,
            )
            if proc.returncode != 0:
                raise FailoverError(
                    f"switch command exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
                )
            step.status, step.detail = "done", f"ran {sw.command!r}"
            return
        from kafkaops.dr.route53 import switch_record

        step.status, step.detail, step.rollback = switch_record(sw, new, apply=apply)

    def _verify_consumers(self, step: Step, apply: bool) -> None:
        if self.verify_timeout_s <= 0 or not self.translated:
            step.status = "skipped"
            step.detail = "not asked (--verify-timeout) or no translated groups"
            return
        if not apply:
            step.status = "planned"
            step.detail = (
                f"wait up to {self.verify_timeout_s:.0f}s for the groups to commit past "
                "the translated offsets"
            )
            return
        deadline = time.monotonic() + self.verify_timeout_s
        pending = set(self._res.groups)
        admin = _replica_admin(self.pair)
        try:
            while pending and time.monotonic() < deadline:
                current = admin.list_group_offsets(dict.fromkeys(pending))
                for gid in list(pending):
                    now = {
                        f"{tp.topic}:{tp.partition}": om.offset
                        for tp, om in current.get(gid, {}).items()
                    }
                    if any(now.get(k, -1) > v for k, v in self._res.groups[gid].items()):
                        pending.discard(gid)
                if pending:
                    time.sleep(0.5)
        finally:
            admin.close()
        if pending:
            raise FailoverError(
                f"no progress on the replica within {self.verify_timeout_s:.0f}s for: "
                + ", ".join(sorted(pending))
            )
        step.status = "done"
        step.detail = f"{len(self._res.groups)} group(s) committing on the replica"

    # ------------------------------------------------------------------ audit
    def _audit(self, res: FailoverResult) -> None:
        line = {"event": "dr_failover", **res.to_dict()}
        self.audit_log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.audit_log, "a") as fh:
            fh.write(json.dumps(line, default=str) + "\n")
