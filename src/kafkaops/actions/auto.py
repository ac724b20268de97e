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
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kafkaops.actions.audit import AuditLog
from kafkaops.actions.settings import AutoAction
from kafkaops.core.model import CheckStatus, Finding

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


def _key(cfg: AutoAction, finding: Finding) -> str:
    """Audit operation name: cluster-wide actions share one cool-down, the others are per
    subject (a topic's partitions, one broker's restart)."""
    if cfg.action in ("scale_storage", "scale_brokers"):
        return f"auto:{cfg.action}"
    return f"auto:{cfg.action}:{finding.subject}"[:200]


def _held_since(engine: Any, cluster: str, finding: Finding) -> tuple[datetime | None, str | None]:
    for inc in engine.store.list_incidents(cluster=cluster, limit=20):
        if not inc.is_open:
            continue
        for m in inc.members:
            if m.rule == finding.rule and m.subject == finding.subject and m.firing:
                return m.joined_at, inc.id
    return None, None


def _maintenance(engine: Any, cluster: str, finding: Finding, now: datetime) -> str | None:
    from kafkaops.incidents.windows import active_windows

    for occ in active_windows(now, engine.windows(now)):
        if occ.kind == "maintenance" and occ.matchers.matches(
            cluster, finding.rule, finding.severity
        ):
            return occ.name
    return None


def auto_cycle(
    target: Any, engine: Any, checks: Any, now: datetime, snapshot: Any | None
) -> list[AutoOutcome]:
    """Evaluate and run the configured automatic actions for one cluster's cycle."""
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
            outcomes.append(_one(target, engine, audit, cfg, f, now, snapshot))
    return outcomes


def _one(
    target: Any,
    engine: Any,
    audit: AuditLog,
    cfg: AutoAction,
    f: Finding,
    now: datetime,
    snapshot: Any | None,
) -> AutoOutcome:
    cluster = target.name
    key = _key(cfg, f)
    held_since, incident = _held_since(engine, cluster, f)
    runs = audit.runs(cluster, key, now - timedelta(days=1, milliseconds=cfg.cooldown))
    why_not = decide(
        cfg,
        held_since=held_since,
        now=now,
        runs=runs,
        maintenance=_maintenance(engine, cluster, f, now),
    )
    if why_not is not None:
        return AutoOutcome(cluster, f.rule, f.subject, cfg.action, "skipped", why_not, incident)
    try:
        plan_text, run = _prepare(target, cfg, f, snapshot)
    except _CannotAct as exc:
        plan_text, run = f"cannot act: {exc}", _FAILED
    except Exception as exc:  # AWS or Kafka unreachable while planning
        plan_text, run = f"cannot plan: {type(exc).__name__}: {' '.join(str(exc).split())}", _FAILED
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
                            f"{f.severity.value} on {f.subject}: {detail}")  # fmt: skip
        except Exception as exc:
            log.error("cluster %s: could not annotate %s: %s", cluster, incident, exc)
    log.warning("cluster %s: %s %s: %s", cluster, cfg.action, result, detail)
    return AutoOutcome(cluster, f.rule, f.subject, cfg.action, result, detail, incident)


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

    s = target.config.actions
    msk = s.msk.get(target.name)
    step = cfg.increment or s.storage_step_gib or 100
    if msk is None:
        what = f"+{step} GiB per broker" if cfg.action == "scale_storage" else "one broker per AZ"
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
            plan = g.plan_storage(info, ops, now, by_gib=step, step_gib=s.storage_step_gib,
                                  cap_gib=s.storage_cap_gib, cluster=target.name,
                                  cooldown=timedelta(milliseconds=s.storage_cooldown))  # fmt: skip
        else:
            azs = msk.az_count or len(info.client_subnets) or 1
            plan = g.plan_brokers(info, ops, (info.broker_count or 0) + azs, az_count=azs,
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
