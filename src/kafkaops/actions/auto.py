"""The runbook's automatic alert actions, opt-in: ``actions.auto.<rule>.<p1|p2>``.

The runbook's alert config says ``auto_scale: true`` and "auto-remediation" with nothing
around it; acting on every firing alert would scale storage every 10 s.  Here an action runs
only when all of these hold (:func:`decide`, pure):

* it is configured for the finding's rule *and* severity (nothing acts without config);
* the finding has persisted for the action's ``for:`` (measured from when it joined its open
  incident, so a restart of the watcher does not reset the timer);
* the action's cool-down has passed and its daily cap (per UTC day) is not reached, counted
  from the audit trail in the store (``act_audit``), so several watchers share the count;
* no maintenance window covering the alert is active, unless ``during_maintenance``.

``mode: dry_run`` (the default) only records "would have done X"; ``mode: apply`` acts.
Either way the decision and its outcome go to the actions audit trail and onto the incident's
own audit trail (``kafkaops incidents show``).  MSK operations are *sent* from the watch loop
but not awaited there (the loop must keep watching); ``kafkaops msk audit`` and the cool-down
cover the rest.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kafkaops.actions.audit import AuditLog
from kafkaops.actions.settings import AutoAction
from kafkaops.core.model import CheckStatus, Finding
from kafkaops.store.lease import Fence, LeaseLost

log = logging.getLogger(__name__)

ACTOR = "kafkaops-auto"


@dataclass(frozen=True)
class AutoOutcome:
    cluster: str
    rule: str
    subject: str
    action: str
    #: skipped | dry_run | advised (self-managed: what to do by hand) | succeeded | failed
    result: str
    detail: str
    incident: str | None = None


def decide(
    cfg: AutoAction,
    *,
    held_since: datetime | None,
    now: datetime,
    runs: list[datetime],
    maintenance: str | None,
) -> str | None:
    """Why the action must not run now (one line), or None when it may."""
    held = now - held_since if held_since else timedelta(0)
    need = timedelta(milliseconds=cfg.for_)
    if held_since is None or held < need:
        return (
            f"pending: firing for {int(held.total_seconds())}s of the "
            f"{need.total_seconds():.0f}s required"
        )
    if maintenance and not cfg.during_maintenance:
        return f"maintenance window {maintenance} is active"
    if runs:
        last = max(runs)
        wait = timedelta(milliseconds=cfg.cooldown)
        if now - last < wait:
            return f"cool-down: last run {_iso(last)}, next after {_iso(last + wait)}"
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    today = [r for r in runs if r >= day]
    if len(today) >= cfg.daily_cap:
        return f"daily cap of {cfg.daily_cap} reached"
    return None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def operation_key(action: str, subject: str) -> str:
    """Audit operation name: cluster-wide actions share one cool-down, the others are per
    subject (a topic's partitions, one broker's restart)."""
    if action in ("scale_storage", "scale_brokers"):
        return f"auto:{action}"
    return f"auto:{action}:{subject}"[:200]


def _key(cfg: AutoAction, finding: Finding) -> str:
    return operation_key(str(cfg.action), finding.subject)


def held_since(
    engine: Any, cluster: str, rule: str, subject: str
) -> tuple[datetime | None, str | None]:
    """When the alert joined its open incident (the ``for:`` clock), and that incident."""
    for inc in engine.store.list_incidents(cluster=cluster, limit=20):
        if not inc.is_open:
            continue
        for m in inc.members:
            if m.rule == rule and m.subject == subject and m.firing:
                return m.joined_at, inc.id
    return None, None


def maintenance_for(
    engine: Any, cluster: str, rule: str, severity: Any, now: datetime
) -> str | None:
    """The active maintenance window covering this alert, if any."""
    from kafkaops.incidents.windows import active_windows

    for occ in active_windows(now, engine.windows(now)):
        if occ.kind == "maintenance" and occ.matchers.matches(cluster, rule, severity):
            return occ.name
    return None


#: What a notification says an automatic action's audit result means.
_STATUS = {
    "dry_run": "held back (dry run)",
    "succeeded": "taken",
    "started": "taken",
    "failed": "failed",
    "advised": "advice only",
}


def status(cfg: AutoAction, why_not: str | None, last: dict[str, Any] | None) -> tuple[str, str]:
    """(status, reason) of an automatic action, for notifications.

    ``last``: its newest audit row within the cool-down (what it did); ``why_not``: what
    :func:`decide` says now.  The status is one of: taken, failed, held back (dry run), advice
    only, pending (``for:`` not reached), held back (cool-down, daily cap, maintenance window),
    due (runs in this watch cycle).
    """
    if last is not None:
        done = f"{last['at']}: {last['summary']}"
        return _STATUS.get(last["result"], last["result"]), (
            f"{done}; {why_not}" if why_not and not why_not.startswith("pending") else done
        )
    if why_not is None:
        return "due", "runs in this watch cycle"
    if why_not.startswith("pending"):
        return "pending", why_not
    return "held back", why_not


def _held_back_kind(why_not: str) -> str:
    return why_not.split(":", 1)[0].split(" ", 1)[0]  # cool-down | daily | maintenance


def auto_cycle(
    target: Any,
    engine: Any,
    checks: Any,
    now: datetime,
    snapshot: Any | None,
    fence: Fence | None = None,
) -> list[AutoOutcome]:
    """Evaluate and run the configured automatic actions for one cluster's cycle.

    ``fence``: the cluster lease's check (``watch.sharing: per_cluster``).  It runs in its own
    transaction before an action is taken (an instance that lost the cluster acts on nothing;
    the action itself is outside any transaction, so that is the best a check can do there)
    and first in every write: the audit row, the incident's entry and the ``update`` it
    queues.  Rejected, :class:`LeaseLost` is raised and the loop stops acting for the cluster.
    """
    rules = target.config.actions.auto
    if not rules:
        return []
    if not target.store_url:
        log.warning("cluster %s: actions.auto needs a store (store.url)", target.name)
        return []
    outcomes: list[AutoOutcome] = []
    with AuditLog.open(target.store_url) as audit:
        for f in checks:
            if f.status != CheckStatus.TRIGGERED or f.rule not in rules:
                continue
            cfg = rules[f.rule].get(f.severity.value.lower())  # type: ignore[call-overload]
            if cfg is None:
                continue
            outcomes.append(_one(target, engine, audit, cfg, f, now, snapshot, fence))
    return outcomes


def _one(
    target: Any,
    engine: Any,
    audit: AuditLog,
    cfg: AutoAction,
    f: Finding,
    now: datetime,
    snapshot: Any | None,
    fence: Fence | None = None,
) -> AutoOutcome:
    cluster = target.name
    key = _key(cfg, f)
    since, incident = held_since(engine, cluster, f.rule, f.subject)
    runs = audit.runs(cluster, key, now - timedelta(days=1, milliseconds=cfg.cooldown))
    why_not = decide(
        cfg,
        held_since=since,
        now=now,
        runs=runs,
        maintenance=maintenance_for(engine, cluster, f.rule, f.severity, now),
    )
    if why_not is not None:
        if incident is not None and not why_not.startswith("pending"):
            _tell_held_back(engine, incident, cfg, f, why_not, now, fence)
        return AutoOutcome(cluster, f.rule, f.subject, str(cfg.action), "skipped", why_not,
                           incident)  # fmt: skip
    try:
        plan_text, run = _prepare(target, cfg, f, snapshot)
    except _CannotAct as exc:
        plan_text, run = f"cannot act: {exc}", _FAILED
    except Exception as exc:  # AWS or Kafka unreachable while planning
        plan_text, run = f"cannot plan: {type(exc).__name__}: {' '.join(str(exc).split())}", _FAILED
    if fence is not None and callable(run) and cfg.mode != "dry_run":
        with audit.engine.begin() as conn:
            fence(conn)  # still the owner right before acting
    if run is _FAILED:
        result, detail = "failed", plan_text
    elif cfg.mode == "dry_run":
        result, detail = "dry_run", f"would have done: {plan_text}"
    elif run is None:
        result, detail = "advised", plan_text
    else:
        try:
            detail = f"done: {run()}"
            result = "succeeded"
        except Exception as exc:
            detail = f"failed: {plan_text}: {type(exc).__name__}: {' '.join(str(exc).split())}"
            result = "failed"
    audit.record(
        cluster=cluster,
        operation=key,
        result=result,
        summary=detail,
        actor=ACTOR,
        at=now,
        fence=fence,
        detail={
            "rule": f.rule,
            "severity": f.severity.value,
            "subject": f.subject,
            "mode": cfg.mode,
            "incident": incident,
        },
    )
    if incident is not None:
        label = "auto-action (dry run)" if cfg.mode == "dry_run" else "auto-action"
        try:
            engine.annotate(incident, ACTOR, now, label, f"{cfg.action} for {f.rule} "
                            f"{f.severity.value} on {f.subject}: {detail}",
                            notify=True, guard=fence)  # fmt: skip
        except LeaseLost:
            raise
        except Exception as exc:
            log.error("cluster %s: could not annotate %s: %s", cluster, incident, exc)
    log.warning("cluster %s: %s %s: %s", cluster, cfg.action, result, detail)
    action = cfg.action or f"preset {cfg.preset}"  # presets are resolved at load time
    return AutoOutcome(cluster, f.rule, f.subject, action, result, detail, incident)


def _tell_held_back(
    engine: Any,
    incident: str,
    cfg: AutoAction,
    f: Finding,
    why_not: str,
    now: datetime,
    fence: Fence | None = None,
) -> None:
    """Tell the incident's channels, once per incident and reason (cool-down, daily cap,
    maintenance window), that the action is due but held back — not every watch cycle."""
    head = f"{cfg.action} for {f.rule} {f.severity.value} on {f.subject}: "
    kind = _held_back_kind(why_not)
    try:
        inc = engine.store.get_incident(incident)
        told = [e for e in (inc.audit if inc else ()) if e.action == "auto-action held back"]
        if any(e.detail.startswith(head) and _held_back_kind(e.detail[len(head):]) == kind
               for e in told):  # fmt: skip
            return
        engine.annotate(incident, ACTOR, now, "auto-action held back", head + why_not,
                        notify=True, guard=fence)  # fmt: skip
    except LeaseLost:
        raise
    except Exception as exc:
        log.error("could not annotate %s: %s", incident, exc)


class _CannotAct(Exception):
    pass


#: Marks a preparation that failed (as opposed to None: advice only, nothing to run).
_FAILED: Any = object()


def _prepare(target: Any, cfg: AutoAction, f: Finding, snapshot: Any | None) -> tuple[str, Any]:
    """(what would be done, a callable that does it and says what it did — or None when
    kafkaops can only advise)."""
    s = target.config.actions
    if cfg.action in ("scale_storage", "scale_brokers"):
        return _prepare_msk(target, cfg)
    if cfg.action == "add_partitions":
        return _prepare_partitions(target, cfg, f, snapshot)
    if cfg.action == "restart_broker" and not cfg.command:
        return _prepare_restart(target, f)
    argv = [a.format(cluster=target.name, subject=f.subject, rule=f.rule) for a in cfg.command]
    if not argv:
        raise _CannotAct(f"{cfg.action} needs a command (actions.auto.{f.rule}: command)")
    del s

    def run_command() -> str:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode:
            raise RuntimeError(f"exit {done.returncode}: {(done.stderr or done.stdout)[-300:]}")
        return f"ran {' '.join(argv)} (exit 0)"

    return f"run {' '.join(argv)}", run_command


def _prepare_msk(target: Any, cfg: AutoAction) -> tuple[str, Any]:
    from kafkaops.actions import guardrails as g
    from kafkaops.actions.apply import execute
    from kafkaops.actions.msk import MskApi
    from kafkaops.actions.settings import storage_increment

    s = target.config.actions
    msk = s.msk.get(target.name)
    step = cfg.increment or s.storage_step_gib or 100
    per_az = cfg.increment or 1
    if msk is None:
        grow = cfg.by if cfg.by else f"{step} GiB"
        what = f"+{grow} per broker" if cfg.action == "scale_storage" else f"{per_az} broker per AZ"
        # Self-managed: kafkaops cannot grow disks or start brokers; it says what to do.
        return (
            f"add {what} by hand: self-managed cluster, no actions.msk.{target.name} "
            "(kafkaops capacity plan prints the plan)",
            None,
        )
    api = MskApi.connect(msk.cluster_arn, msk.region, msk.endpoint_url)
    info = api.describe(msk.cluster_arn)
    ops = api.operations(msk.cluster_arn)
    now = datetime.now(UTC)
    try:
        if cfg.action == "scale_storage":
            if cfg.by:
                step = storage_increment(cfg.by, info.ebs_volume_gib or 0)
            plan = g.plan_storage(info, ops, now, by_gib=step, step_gib=s.storage_step_gib,
                                  cap_gib=s.storage_cap_gib, cluster=target.name,
                                  cooldown=timedelta(milliseconds=s.storage_cooldown))  # fmt: skip
        else:
            azs = msk.az_count or len(info.client_subnets) or 1
            plan = g.plan_brokers(info, ops, (info.broker_count or 0) + azs * per_az, az_count=azs,
                                  cluster=target.name)  # fmt: skip
    except g.Refused as exc:
        raise _CannotAct(f"refused: {exc}") from None

    def run() -> str:
        with AuditLog.open(target.store_url) as audit:
            out = execute(plan, api, audit, interval_s=1, timeout_s=0)
        if out.result == "failed":
            raise RuntimeError("; ".join(out.problems))
        return f"{plan.summary}: sent, operation {out.operation.arn if out.operation else '?'}"

    return f"{plan.summary} ({plan.cli()})", run


def _prepare_partitions(
    target: Any, cfg: AutoAction, f: Finding, snapshot: Any | None
) -> tuple[str, Any]:
    """Add partitions to the lagging group's topics; a keyed topic is refused (per-key order)."""
    from kafkaops.balance.layout import layout_from_snapshot
    from kafkaops.balance.partitions import place_new_partitions, sample_keys

    if snapshot is None:
        raise _CannotAct("no snapshot of the cluster this cycle")
    group = next((g for g in snapshot.groups if g.group_id == f.subject), None)
    if group is None:
        raise _CannotAct(f"group {f.subject} not in the snapshot")
    topics = sorted({p.topic for p in group.partitions if (p.lag or 0) > 0})
    if not topics:
        raise _CannotAct(f"group {f.subject} has no lagging topic")
    by = cfg.increment or target.config.lag.partition_increment
    layout = layout_from_snapshot(snapshot)
    plans = []
    for topic in topics:
        current = sum(1 for p in layout.partitions if p.topic == topic)
        read, keyed = sample_keys(target.client_kwargs, topic)
        if keyed:
            raise _CannotAct(
                f"{topic} is keyed ({keyed} of {read} sampled records have a key): adding "
                "partitions breaks per-key ordering; not done automatically"
            )
        plans.append((topic, current, place_new_partitions(layout, topic, by)))
    text = "; ".join(f"add {by} partitions to {t} ({c} → {c + by})" for t, c, _ in plans)

    def run() -> str:
        from kafkaops.balance.admin import BalanceAdmin

        with BalanceAdmin(target.client_kwargs) as admin:
            admin.admin.create_partitions(
                {t: {"count": c + by, "assignments": p} for t, c, p in plans}, timeout_ms=30_000
            )
        return text.replace("add ", "added ")

    return text, run


_BROKER = re.compile(r"^broker (\d+)(?: (\S+?):\d+)?\b")


def broker_ids(subject: str, evidence: Sequence[str]) -> dict[int, str]:
    """The brokers a finding is about and their hosts (``broker_unreachable`` names them in its
    evidence: ``broker 2 host:9092: …``); the host is "" when not given."""
    if subject.isdigit():
        return {int(subject): ""}
    found = (m for e in evidence if (m := _BROKER.match(str(e))))
    return dict(sorted((int(m.group(1)), m.group(2) or "") for m in found))


def _prepare_restart(target: Any, f: Finding) -> tuple[str, Any]:
    """Restart the finding's brokers with ``actions.restart.<cluster>.command``.

    Only the restart step runs from the watch loop (it must keep watching); whether the broker
    came back is what the next cycles see — the alert resolves, or stays and escalates.
    """
    from kafkaops.actions.restart import CommandStep

    settings = target.config.actions.restart.get(target.name)
    if settings is None:
        raise _CannotAct(
            f"restart_broker needs actions.restart.{target.name}.command (or command: here)"
        )
    brokers = broker_ids(f.subject, f.evidence)
    if not brokers:
        raise _CannotAct(f"no broker id in the {f.rule} finding")
    step = CommandStep(settings.command, target.name, settings.command_timeout / 1000)
    text = "; ".join(f"restart broker {b}: {step.describe(b, h)}" for b, h in brokers.items())

    def run() -> str:
        for b, h in brokers.items():
            step(b, h)
        return text.replace("restart broker", "restarted broker")

    return text, run
