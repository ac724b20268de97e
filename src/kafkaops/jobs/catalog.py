"""What each scheduled job does.  Every job gets a :class:`JobContext` (the clusters, their
latest reports, the stores) and returns its output, a JSON-able summary that the runner stores
with the run; per-cluster results go into the jobs store as rows of their own.

Why a context and not the service's state: the same jobs run inside ``kafkaops serve`` (with the
watch loop's latest reports, collected at most one interval ago) and from ``kafkaops jobs run``
(collecting fresh), and the service and the CLI never import each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kafkaops.jobs.store import JobsStore

if TYPE_CHECKING:
    from kafkaops.config import Config
    from kafkaops.core.model import ClusterSnapshot, HealthReport
    from kafkaops.incidents.store import IncidentStore
    from kafkaops.pipeline.health import Target

log = logging.getLogger(__name__)


class JobContext(Protocol):
    """What a job may read."""

    config: Config
    #: The shared store's URL (history, incidents, capacity samples).
    store_url: str | None

    def cluster_names(self) -> list[str]: ...

    def report(self, cluster: str) -> tuple[HealthReport | None, str | None]:
        """The cluster's current health report, or None and why."""
        ...

    def snapshot(self, cluster: str) -> ClusterSnapshot | None: ...

    def incidents(self) -> IncidentStore | None: ...

    def target(self, cluster: str) -> Target:
        """How to reach the cluster (for jobs that ask it themselves, e.g. the audit)."""
        ...


JobFn = Callable[[JobContext, JobsStore, datetime], dict[str, Any]]


# ----------------------------------------------------------------------------- daily check
def daily_check(ctx: JobContext, store: JobsStore, at: datetime) -> dict[str, Any]:
    """Runbook "Daily Checks (09:00)": every cluster's health report, recorded."""
    from kafkaops.report.health_view import health_to_dict

    unhealthy: list[str] = []
    for name in ctx.cluster_names():
        report, why = ctx.report(name)
        if report is None:
            unhealthy.append(name)
            store.record("daily_check", name, at, ok=False, severity=None,
                         result={"error": why or "no report yet"})  # fmt: skip
            continue
        doc = health_to_dict(report)
        doc.pop("checks", None)  # every rule × subject: large and in the findings already
        store.record("daily_check", name, at, ok=report.overall_healthy,
                     severity=report.severity.value, result=doc)  # fmt: skip
        if not report.overall_healthy:
            unhealthy.append(name)
    return {"clusters": len(ctx.cluster_names()), "unhealthy": unhealthy}


# -------------------------------------------------------------------------- capacity check
def capacity_check(ctx: JobContext, store: JobsStore, at: datetime) -> dict[str, Any]:
    """Runbook's daily capacity check: days until each broker's disk fills, per cluster.

    The findings themselves reach the incident engine every watch cycle (the capacity hook);
    this records the daily answer so a trend of "days to full" is kept and shown.
    """
    from kafkaops.capacity.analysis import analyse
    from kafkaops.capacity.check import capacity_findings
    from kafkaops.capacity.store import CapacityStore
    from kafkaops.core.model import CheckStatus, Severity

    if not ctx.store_url:
        return {"skipped": "no store.url: capacity history is not recorded"}
    worst: dict[str, str] = {}
    cap = CapacityStore(ctx.store_url)
    try:
        for name in ctx.cluster_names():
            report = analyse(cap, name, ctx.config.capacity, now=at)
            findings = capacity_findings(report)
            hit = [f for f in findings if f.status == CheckStatus.TRIGGERED]
            sev = Severity.worst([f.severity for f in hit])
            worst[name] = sev.value
            store.record("capacity_check", name, at, ok=not hit,
                         severity=sev.value if hit else None,
                         result={"findings": [f.to_dict() for f in findings]})  # fmt: skip
    finally:
        cap.close()
    return {"severity_by_cluster": worst}


# -------------------------------------------------------------------------- weekly review
def weekly_review(ctx: JobContext, store: JobsStore, at: datetime) -> dict[str, Any]:
    """Runbook "Weekly Review (Monday 10:00)": the last 7 days per cluster — disk, throughput,
    producer errors, lag, incidents with time to acknowledge/resolve, capacity, cost — as JSON
    in the jobs store, the rendered report in the report store (``/api/reports``, the
    dashboard), delivered to ``channels.reports.to.weekly_review`` (e-mail, Slack) through the
    outbox, and with ``jobs.reports_dir`` an HTML file too."""
    from kafkaops.capacity.review import build_review, render_review
    from kafkaops.capacity.store import CapacityStore
    from kafkaops.notify.outbox import Outbox
    from kafkaops.notify.redact import Redactor
    from kafkaops.notify.reports import deliver_report

    if not ctx.store_url:
        return {"skipped": "no store.url: nothing to review"}
    start, end = at - timedelta(days=7), at
    written: list[str] = []
    delivered: dict[str, Any] = {}
    cap = CapacityStore(ctx.store_url)
    outbox = Outbox(ctx.store_url, redact=Redactor(ctx.config.channels))
    try:
        for name in ctx.cluster_names():
            review = build_review(
                cap, name, ctx.config.capacity, start=start, end=end,
                history_url=ctx.store_url, incidents_url=ctx.store_url,
            )  # fmt: skip
            rendered = render_review(review)
            doc = review.to_dict()
            sent = deliver_report(rendered, outbox, ctx.config.channels, now=at)
            doc["report"] = sent.to_dict()
            delivered[name] = sent.to_dict()
            out_dir = ctx.config.jobs.reports_dir
            if out_dir:
                path = Path(out_dir).expanduser() / f"weekly-review-{name}-{review.week}.html"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(rendered.html, encoding="utf-8")
                doc["html"] = str(path)
                written.append(str(path))
            store.record("weekly_review", name, at, ok=True, severity=None, result=doc)
    finally:
        outbox.close()
        cap.close()
    return {"clusters": len(ctx.cluster_names()), "html": written, "reports": delivered}


# ------------------------------------------------------------------------ DR backup check
def dr_backup_check(ctx: JobContext, store: JobsStore, at: datetime) -> dict[str, Any]:
    """Runbook "Backup verification", daily: the configured DR pair verified (``dr verify``)."""
    from kafkaops.core.errors import KafkaopsError
    from kafkaops.pipeline.dr_pair import check_pair, pair_from_config

    try:
        pair = pair_from_config(ctx.config)
        _facts, report = check_pair(pair)
    except KafkaopsError as exc:
        store.record("dr_backup_check", ctx.config.dr.primary or "?", at, ok=False,
                     severity=None, result={"error": str(exc)})  # fmt: skip
        return {"error": str(exc)}
    sev = report.severity.value
    ok = sev == "OK"
    store.record("dr_backup_check", pair.primary, at, ok=ok, severity=None if ok else sev,
                 result=report.to_dict())  # fmt: skip
    return {"pair": f"{pair.primary}->{pair.replica}", "severity": sev}


# --------------------------------------------------------------------------- config audit
def config_audit(ctx: JobContext, store: JobsStore, at: datetime) -> dict[str, Any]:
    """Runbook "Weekly maintenance": the configuration audit and the security scan
    (``kafkaops audit``) per cluster, findings with their fixes recorded."""
    from kafkaops.core.errors import KafkaopsError
    from kafkaops.diagnose.audit import report_dict
    from kafkaops.pipeline.audit import audit_target

    severities: dict[str, str] = {}
    for name in ctx.cluster_names():
        try:
            target = ctx.target(name)
            findings = audit_target(target, target.config.diagnose.audit.window / 1000)
        except KafkaopsError as exc:
            severities[name] = "error"
            store.record("config_audit", name, at, ok=False, severity=None,
                         result={"error": str(exc)})  # fmt: skip
            continue
        doc = report_dict(findings)
        sev = doc["severity"]
        severities[name] = sev
        store.record("config_audit", name, at, ok=sev == "OK",
                     severity=None if sev == "OK" else sev, result=doc)  # fmt: skip
    return {"severity_by_cluster": severities}


# ------------------------------------------------------------------------- monthly report
def monthly_report(ctx: JobContext, store: JobsStore, at: datetime) -> dict[str, Any]:
    """Runbook's monthly report, the month that just ended, per cluster: SLO and error budget,
    incidents with MTTA/MTTR, capacity outlook, cost trend, DR drills and backup checks,
    benchmark trend, audit and compliance — JSON in the store and, with ``jobs.reports_dir``,
    an HTML report with charts; then handed to :func:`deliver_monthly_report`."""
    from kafkaops.report.monthly import build_monthly, to_html
    from kafkaops.slo.monthly import previous_month

    if not ctx.store_url:
        return {"skipped": "no store.url: no verdicts recorded"}
    month = previous_month(at)
    incidents = ctx.incidents()
    met: dict[str, Any] = {}
    written: list[str] = []
    recent = store.recent(None, 5000)
    for name in ctx.cluster_names():
        found = incidents.list_incidents(None, name, 5000) if incidents else []
        report = build_monthly(
            ctx.config, name, month, at, ctx.store_url,
            job_results=[r for r in recent if r["cluster"] == name], incidents=found,
        )  # fmt: skip
        doc = report.to_dict()
        page = to_html(report)
        out_dir = ctx.config.jobs.reports_dir
        if out_dir:
            path = Path(out_dir).expanduser() / f"monthly-report-{name}-{month}.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(page, encoding="utf-8")
            doc["html"] = str(path)
            written.append(str(path))
        doc["delivery"] = deliver_monthly_report(ctx, report, at)
        avail = doc["slo"]["slis"]["availability"]
        met[name] = avail["met"]
        store.record("monthly_report", name, at, ok=avail["met"] is not False,
                     severity=None, result=doc)  # fmt: skip
    return {"month": str(month), "availability_met": met, "html": written}


def deliver_monthly_report(ctx: JobContext, report: Any, at: datetime) -> dict[str, Any]:
    """Store the monthly report (dashboard, ``/api/reports``) and send it to
    ``channels.reports.to.monthly_report`` (e-mail, Slack) through the outbox, as the weekly
    review is sent: the watch loop (``serve``) delivers it within a cycle."""
    from kafkaops.notify.outbox import Outbox
    from kafkaops.notify.redact import Redactor
    from kafkaops.notify.reports import deliver_report
    from kafkaops.report.monthly import rendered

    if not ctx.store_url:
        return {"skipped": "no store.url: nowhere to queue the report"}
    outbox = Outbox(ctx.store_url, redact=Redactor(ctx.config.channels))
    try:
        return deliver_report(rendered(report), outbox, ctx.config.channels, now=at).to_dict()
    finally:
        outbox.close()


# ---------------------------------------------------------------------- compliance check
def compliance_check(ctx: JobContext, store: JobsStore, at: datetime) -> dict[str, Any]:
    """Runbook "security compliance check", monthly: every cluster's checks, recorded (the
    monthly report shows the latest)."""
    from kafkaops.core.errors import KafkaopsError
    from kafkaops.pipeline.compliance import check_cluster

    failed: dict[str, int] = {}
    for name in ctx.cluster_names():
        try:
            kwargs = ctx.config.clusters[name].kafka_client_kwargs()
        except (KeyError, KafkaopsError) as exc:
            store.record("compliance_check", name, at, ok=False, severity=None,
                         result={"error": str(exc)})  # fmt: skip
            failed[name] = -1
            continue
        report = check_cluster(ctx.config, name, kwargs, store_url=ctx.store_url, now=at)
        store.record("compliance_check", name, at, ok=report.ok and report.complete,
                     severity=None if report.ok else "P2", result=report.to_dict())  # fmt: skip
        failed[name] = len(report.failed)
    return {"failed_checks": failed}


# --------------------------------------------------------------------- monthly benchmark
def monthly_benchmark(ctx: JobContext, store: JobsStore, at: datetime) -> dict[str, Any]:
    """Runbook "performance benchmark", monthly: ``perf-test`` on every cluster named in
    ``slo.perf_test.allow`` (the others are never loaded), stored and compared."""
    from kafkaops.core.errors import KafkaopsError
    from kafkaops.slo.perf import build_plan, compare, run_plan
    from kafkaops.slo.perf_store import PerfStore

    settings = ctx.config.slo.perf_test
    ran: dict[str, Any] = {}
    for name in ctx.cluster_names():
        if name not in settings.allow:
            continue
        try:
            kwargs = ctx.config.clusters[name].kafka_client_kwargs()
            plan = build_plan(name, kwargs, settings)
        except (KeyError, KafkaopsError) as exc:
            store.record("monthly_benchmark", name, at, ok=False, severity=None,
                         result={"error": str(exc)})  # fmt: skip
            ran[name] = "error"
            continue
        result = run_plan(plan, kwargs, now=at)
        if ctx.store_url:
            perf = PerfStore(ctx.store_url)
            try:
                if result.ok:
                    result.detail.update(
                        compare(result, perf.runs(name), settings.regression_percent)
                    )
                perf.record(result)
            finally:
                perf.close()
        regressions = result.detail.get("regressions", [])
        store.record("monthly_benchmark", name, at, ok=result.ok and not regressions,
                     severity="P2" if regressions else None, result=result.to_dict())  # fmt: skip
        ran[name] = "regression" if regressions else ("ok" if result.ok else "failed")
    return {"clusters": ran}


#: Every job by name; ``dr_backup_check`` only runs when a ``dr:`` pair is configured.
CATALOG: dict[str, JobFn] = {
    "daily_check": daily_check,
    "capacity_check": capacity_check,
    "dr_backup_check": dr_backup_check,
    "weekly_review": weekly_review,
    "config_audit": config_audit,
    "monthly_report": monthly_report,
    "compliance_check": compliance_check,
    "monthly_benchmark": monthly_benchmark,
}


def applies(name: str, config: Config) -> bool:
    """Whether job ``name`` has anything to do with this config."""
    if name == "dr_backup_check":
        return bool(config.dr.primary and config.dr.replica)
    if name == "monthly_benchmark":
        return bool(config.slo.perf_test.allow)
    return True
