"""``kafkaops incidents …`` / ``kafkaops maintenance …`` through typer's CliRunner.

The apps are mounted on a throw-away root app the way the main CLI will register them; the
clock is the module's ``utcnow``, replaced per test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import kafkaops.cli.incidents as cli
import kafkaops.cli.maintenance as maintenance_cli
from kafkaops.core.model import Severity
from kafkaops.incidents.engine import IncidentEngine
from kafkaops.incidents.store import IncidentStore

from .conftest import T0, at, finding

pytestmark = pytest.mark.pages

root = typer.Typer()
root.add_typer(cli.incidents_app, name="incidents")
root.add_typer(maintenance_cli.maintenance_app, name="maintenance")
runner = CliRunner()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    now = [T0]
    monkeypatch.setattr(cli, "utcnow", lambda: now[0])
    monkeypatch.setattr(maintenance_cli, "utcnow", lambda: now[0])
    return now


def run(store_url: str, *args: str) -> tuple[int, str, str]:
    res = runner.invoke(root, [*args, "--store", store_url])
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), (
        res.exception
    )
    return res.exit_code, res.stdout, res.stderr


def seed(store_url: str) -> str:
    """One open P1 incident on prod, paged at T0 + 10 s; returns its id."""
    engine = IncidentEngine(IncidentStore(store_url))
    engine.cycle("prod", [finding()], T0)
    return engine.cycle("prod", [finding()], at(10)).incidents[0].id


def test_incidents_list_show_ack_resolve(store_url: str, clock: list[datetime]) -> None:
    inc_id = seed(store_url)
    clock[0] = at(minutes=5)
    code, out, _ = run(store_url, "incidents", "list", "--json")
    assert code == 0
    (row,) = json.loads(out)
    assert row["id"] == inc_id and row["status"] == "open" and row["severity"] == "P1"
    assert row["age_s"] == 300 - 10
    code, out, _ = run(store_url, "incidents", "list")
    assert code == 0 and inc_id in out

    code, out, _ = run(store_url, "incidents", "show", inc_id, "--json")
    shown = json.loads(out)
    assert [m["key"] for m in shown["members"]] == ["prod/under_replicated_partitions/cluster"]
    assert shown["paged"] == ["pagerduty", "slack:#ops-critical", "sns:msk-critical-alerts"]
    assert [(a["action"], a["at"], a["age_s"]) for a in shown["audit"]] == [
        ("opened", "2026-12-01T12:00:10Z", 290),
        ("paged", "2026-12-01T12:00:10Z", 290),
    ]
    code, out, _ = run(store_url, "incidents", "show", inc_id)
    assert code == 0 and "audit trail" in out and "4m ago" in out and "2026-12-01T12:00:10Z" in out

    code, out, _ = run(
        store_url, "incidents", "ack", inc_id, "--by", "alice", "--note", "x", "--json"
    )
    assert code == 0
    acked = json.loads(out)
    assert acked["incident"]["acknowledged_by"] == "alice"
    (action,) = acked["actions"]
    assert action["kind"] == "acknowledge" and "pagerduty" in action["channels"]
    code, _, err = run(store_url, "incidents", "ack", inc_id, "--by", "bob")
    assert code == 3 and err.startswith("error: ") and err.count("\n") == 1

    code, out, _ = run(store_url, "incidents", "list", "--status", "acknowledged", "--json")
    assert [r["id"] for r in json.loads(out)] == [inc_id]

    code, out, _ = run(store_url, "incidents", "resolve", inc_id, "--by", "alice")
    assert code == 0 and "resolved by alice" in out and "resolve (P1)" in out
    code, out, _ = run(store_url, "incidents", "list", "--json")
    assert json.loads(out) == []  # default: open and acknowledged only
    code, out, _ = run(store_url, "incidents", "list", "--status", "all", "--cluster", "prod")
    assert code == 0 and inc_id in out
    code, out, _ = run(store_url, "incidents", "list", "--status", "resolved", "--json")
    assert [(r["id"], r["resolved_by"]) for r in json.loads(out)] == [(inc_id, "alice")]


def test_incident_errors_are_one_line_with_stable_exit_codes(
    store_url: str, clock: list[datetime], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for args in (
        ("incidents", "show", "nope"),
        ("incidents", "ack", "nope", "--by", "a"),
        ("incidents", "resolve", "nope", "--by", "a"),
    ):
        code, out, err = run(store_url, *args)
        assert code == 4 and not out and err.startswith("error: no incident")
    code, _, err = run(store_url, "incidents", "list", "--status", "closed")
    assert code == 3 and "--status" in err
    monkeypatch.setenv("KAFKAOPS_SANDBOX_DIR", str(tmp_path / "sb"))
    monkeypatch.delenv("KAFKAOPS_STORE", raising=False)
    res = runner.invoke(root, ["incidents", "list"])  # no store anywhere: the embedded default
    assert res.exit_code == 0, res.stderr
    assert res.stderr.splitlines()[0] == (
        f"store: sqlite:///{tmp_path / 'sb' / 'kafkaops.db'} (embedded default: sandbox)"
    )
    assert (tmp_path / "sb" / "kafkaops.db").exists()
    monkeypatch.setenv("KAFKAOPS_STORE", store_url)  # the environment beats the default
    res = runner.invoke(root, ["incidents", "list", "--json"])
    assert res.exit_code == 0 and not res.stderr and json.loads(res.stdout) == []
    monkeypatch.setenv("KAFKAOPS_STORE", "mysql://x/y")
    res = runner.invoke(root, ["incidents", "list"])
    assert res.exit_code == 3 and res.stderr.startswith("error: KAFKAOPS_STORE: ")
    monkeypatch.delenv("KAFKAOPS_STORE")
    res = runner.invoke(root, ["incidents", "list", "--store", "mysql://x/y"])
    assert res.exit_code == 3 and res.stderr.count("\n") == 1


def test_store_url_comes_from_the_config(tmp_path: Path, clock: list[datetime]) -> None:
    db = tmp_path / "inc.db"
    seed(f"sqlite:///{db}")
    cfg = tmp_path / "kafkaops.yaml"
    cfg.write_text(f"store:\n  url: sqlite:///{db}\n")
    res = runner.invoke(root, ["incidents", "list", "--config", str(cfg), "--json"])
    assert res.exit_code == 0 and len(json.loads(res.stdout)) == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("store: [\n")
    res = runner.invoke(root, ["incidents", "list", "--config", str(bad)])
    assert res.exit_code == 3 and res.stderr.startswith("error: config error")


def test_maintenance_list_and_next(store_url: str, clock: list[datetime]) -> None:
    clock[0] = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # Saturday, inside the daily window
    code, out, _ = run(store_url, "maintenance", "list", "--days", "2", "--json")
    occs = json.loads(out)
    assert [(o["name"], o["type"], o["start"], o["end"], o["active"]) for o in occs] == [
        ("daily", "scheduled", "2026-12-05T02:00:00Z", "2026-12-05T04:00:00Z", True),
        ("monthly", "scheduled", "2026-12-06T00:00:00Z", "2026-12-06T06:00:00Z", False),
        ("weekly", "scheduled", "2026-12-06T01:00:00Z", "2026-12-06T05:00:00Z", False),
        ("daily", "scheduled", "2026-12-06T02:00:00Z", "2026-12-06T04:00:00Z", False),
        ("daily", "scheduled", "2026-12-07T02:00:00Z", "2026-12-07T04:00:00Z", False),
    ]  # everything overlapping [now, now + 2 days)
    code, out, _ = run(store_url, "maintenance", "list")
    assert code == 0 and "monthly" in out
    code, out, _ = run(store_url, "maintenance", "next", "--json")
    nxt = json.loads(out)
    assert [a["name"] for a in nxt["active"]] == ["daily"]
    assert nxt["next"]["name"] == "monthly" and nxt["next"]["starts_in_s"] == 21 * 3600
    code, out, _ = run(store_url, "maintenance", "next")
    assert code == 0 and "active: daily" in out and "next: monthly" in out
    code, _, err = run(store_url, "maintenance", "list", "--days", "0")
    assert code == 3 and "--days" in err


def test_maintenance_notify_twice_sends_one_notice(store_url: str, clock: list[datetime]) -> None:
    clock[0] = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # the 2nd's daily window is 14 h away
    code, out, _ = run(store_url, "maintenance", "notify", "--dry-run", "--json")
    (dry,) = json.loads(out)
    assert dry["sent"] is False and dry["occurrence_id"] == "daily@2026-12-02T02:00:00Z"
    code, out, _ = run(store_url, "maintenance", "notify", "--json")
    (sent,) = json.loads(out)
    assert sent["sent"] is True
    assert sent["payload"] == {
        "type": "scheduled",
        "start_time": "2026-12-02T02:00:00Z",
        "duration": "2 hours",
        "impact": "minimal",
        "services_affected": ["MSK Cluster", "Event Processing", "Real-time Analytics"],
        "contact": "ops-team@example.com",
    }
    clock[0] += timedelta(minutes=5)
    code, out, _ = run(store_url, "maintenance", "notify", "--json")
    assert code == 0 and json.loads(out) == []
    code, out, _ = run(store_url, "maintenance", "notify")
    assert code == 0 and "no maintenance notice due" in out
    code, out, _ = run(store_url, "maintenance", "list", "--days", "1", "--json")
    assert json.loads(out)[0]["notice_sent"] is True


def test_start_emergency(store_url: str, clock: list[datetime]) -> None:
    code, out, _ = run(
        store_url,
        "maintenance", "start-emergency", "--duration", "90m", "--impact", "medium",
        "--reason", "replace broker disk", "--by", "alice", "--json",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    assert data["window"]["start"] == "2026-12-01T12:00:00Z"
    assert data["window"]["end"] == "2026-12-01T13:30:00Z"
    assert data["notice"]["subject"] == "Emergency MSK Maintenance - Starting Now"
    assert data["notice"]["payload"]["type"] == "emergency"
    assert data["notice"]["payload"]["impact"] == "medium"
    code, out, _ = run(store_url, "maintenance", "next", "--json")
    assert [a["type"] for a in json.loads(out)["active"]] == ["emergency"]
    code, out, _ = run(store_url, "maintenance", "notify", "--json")
    assert json.loads(out) == [] or all(n["topic"] != "emergency" for n in json.loads(out))
    code, out, _ = run(store_url, "maintenance", "start-emergency", "--reason", "again")
    assert code == 0 and "Emergency MSK Maintenance - Starting Now" in out
    for bad in (["--duration", "soon"], ["--duration", "0s"], ["--impact", "huge"]):
        code, _, err = run(store_url, "maintenance", "start-emergency", "--reason", "r", *bad)
        assert code == 3 and err.startswith("error: ") and err.count("\n") == 1


def test_every_command_has_help_with_examples() -> None:
    commands = {
        "incidents": ["list", "show", "ack", "resolve"],
        "maintenance": ["list", "next", "notify", "start-emergency"],
    }
    for group, names in commands.items():
        res = runner.invoke(root, [group, "--help"])
        assert res.exit_code == 0 and "Examples" in res.stdout
        for name in names:
            res = runner.invoke(root, [group, name, "--help"])
            assert res.exit_code == 0, (group, name)
            assert "Examples" in res.stdout or "Example" in res.stdout, (group, name)
            assert "--store" in res.stdout and "--config" in res.stdout


def test_silence_mutes_matching_alerts_until_it_ends(store_url: str, clock: list[datetime]) -> None:
    code, out, _ = run(
        store_url, "maintenance", "silence", "--rule", "under_replicated_*", "--cluster", "prod",
        "--duration", "30m", "--comment", "rolling restart", "--by", "alice", "--json",
    )  # fmt: skip
    assert code == 0, out
    data = json.loads(out)
    assert data["matchers"] == {"cluster": "prod", "rule": "under_replicated_*"}
    assert data["end"] == "2026-12-01T12:30:00Z"
    engine = IncidentEngine(IncidentStore(store_url))
    # Matching alert: fires, but nothing is sent while silenced; another rule still pages.
    first = engine.cycle("prod", [finding(), finding("offline_partitions", Severity.P0)], at(0))
    result = engine.cycle("prod", [finding(), finding("offline_partitions", Severity.P0)], at(10))
    sent_rules = {n.finding.rule for n in (*first.notifications, *result.notifications)}
    assert "under_replicated_partitions" not in sent_rules
    assert "offline_partitions" in sent_rules
    # Still firing when the silence ends: sent at once.
    after = engine.cycle("prod", [finding(), finding("offline_partitions", Severity.P0)], at(
        minutes=31))  # fmt: skip
    assert "under_replicated_partitions" in {n.finding.rule for n in after.notifications}


def test_silence_needs_a_matcher_and_a_reason(store_url: str, clock: list[datetime]) -> None:
    code, _, err = run(store_url, "maintenance", "silence", "--comment", "x")
    assert code == 3 and "--cluster" in err
    code, _, err = run(store_url, "maintenance", "silence", "--severity", "P9", "--comment", "x")
    assert code == 3 and "P9" in err


def test_incidents_show_and_list_say_what_is_muted_and_until_when(
    store_url: str, clock: list[datetime]
) -> None:
    daily = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)  # inside the runbook's daily window
    engine = IncidentEngine(IncidentStore(store_url))
    engine.cycle("prod", [finding()], daily)
    inc_id = engine.cycle("prod", [finding()], daily + timedelta(seconds=10)).incidents[0].id
    clock[0] = daily + timedelta(minutes=1)
    code, out, _ = run(store_url, "incidents", "show", inc_id)
    assert code == 0
    assert "muted by window `daily` until 2026-12-01 04:00Z" in " ".join(out.split())
    code, out, _ = run(store_url, "incidents", "show", inc_id, "--json")
    (muted,) = json.loads(out)["muted"]
    assert muted["window"] == "daily" and muted["until"] == "2026-12-01T04:00:00Z"
    code, out, _ = run(store_url, "incidents", "list")
    assert code == 0 and "not paged yet" in out and "04:00Z" in out


def test_incidents_list_reads_well_at_80_columns(
    store_url: str, clock: list[datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10, item 3: ids, statuses and severities stay whole ("statu/s" was folded)."""
    from rich.console import Console

    inc_id = seed(store_url)
    clock[0] = at(minutes=5)
    monkeypatch.setattr(cli, "out", Console(width=80))
    code, out, _ = run(store_url, "incidents", "list")
    assert code == 0
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    (row,) = [line for line in lines if inc_id in line]
    assert " P1 " in row and " open " in row
