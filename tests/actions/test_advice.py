"""A page carries what to do: the runbook's action for the alert with its exact command (the
kafkaops dry run and the ``aws kafka`` line), and what the automatic action did or why it held
back — in every channel's rendering, and through a real webhook receiver on loopback.

The incident engine, outbox and dispatcher are the real ones (SQLite file store); the cluster
is only named (no Kafka, no AWS: advice needs neither).
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import yaml
from botocore.stub import Stubber

from kafkaops.actions.advice import Advisor, aws_storage_cli, recommended
from kafkaops.actions.audit import AuditLog
from kafkaops.actions.auto import auto_cycle, status
from kafkaops.actions.settings import AutoAction
from kafkaops.config import load_config
from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.notify.channels import slack, smtp
from kafkaops.notify.channels.alertmanager import AlertmanagerChannel
from kafkaops.notify.channels.pagerduty import PagerDutyChannel
from kafkaops.notify.message import OutboundMessage, action_lines
from kafkaops.notify.settings import AlertmanagerSettings, PagerDutySettings
from kafkaops.pipeline.health import Target
from kafkaops.pipeline.runtime import open_runtime
from tests.notify.receivers import Recorder

ARN = "arn:aws:kafka:eu-west-1:123456789012:cluster/prod/abc-1"
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _disk(cluster_pct: float = 91.0) -> Finding:
    return Finding("disk_usage", Severity.P1, CheckStatus.TRIGGERED, "Broker disk usage",
                   value=cluster_pct, threshold=85, unit="percent", subject="broker-2",
                   evidence=("broker 2 /data 91 % used",), response=("Check disk",))  # fmt: skip


def _config(tmp_path: Path, hook_url: str) -> Path:
    path = tmp_path / "kafkaops.yaml"
    path.write_text(yaml.safe_dump({
        "store": {"url": f"sqlite:///{tmp_path / 'store.db'}"},
        "clusters": {"prod": {"bootstrap": "127.0.0.1:1"},
                     "onprem": {"bootstrap": "127.0.0.1:2"}},
        "incidents": {
            "maintenance": {"windows": []},
            "alerts": {"for": {"p0": "0s", "p1": "0s", "p2": "0s"}},
            "routing": {"p0": ["webhook:ops"], "p1": ["webhook:ops"], "p2": ["webhook:ops"]},
        },
        "channels": {"webhooks": {"ops": {"url": hook_url}}},
        "actions": {
            # A dead loopback endpoint: no test ever reaches AWS, whatever credentials exist.
            "msk": {"prod": {"cluster_arn": ARN, "az_count": 3,
                             "endpoint_url": "http://127.0.0.1:9"}},
            "storage_step_gib": 100, "storage_cap_gib": 1000,
            "auto": {"disk_usage": {"p1": {"preset": "storage-grow-100g", "for": "20s",
                                           "cooldown": "6h"}}},
        },
    }))  # fmt: skip
    return path


def test_recommendations_name_the_exact_commands(tmp_path) -> None:
    cfg = load_config(_config(tmp_path, "http://127.0.0.1:9/hook"))
    c = shlex.quote(str(cfg.source))
    [storage] = recommended(cfg, "prod", "disk_usage", "broker-2")
    assert storage["command"] == (f"kafkaops msk scale storage --by 100GiB -c {c} --cluster prod")
    assert "max 1000 GiB per broker" in storage["text"]
    assert storage["aws_cli"] == aws_storage_cli(ARN, 100)
    [selfm] = recommended(cfg, "onprem", "broker_unreachable", "cluster",
                          ["broker 3 kafka-3.internal:9092: no answer"])  # fmt: skip
    assert selfm["command"] == f"kafkaops brokers restart --broker 3 -c {c} --cluster onprem"
    [reboot] = recommended(cfg, "prod", "broker_unreachable", "cluster", ["broker 2 b-2:9092: x"])
    assert reboot["aws_cli"] == f"aws kafka reboot-broker --cluster-arn {ARN} --broker-ids 2"
    [brokers] = recommended(cfg, "prod", "broker_cpu", "broker-1")
    assert "--add-per-az 1" in brokers["command"] and "+ 3 ))" in brokers["aws_cli"]
    assert recommended(cfg, "prod", "data_loss", "g") == []


def test_the_aws_storage_line_runs_and_sends_a_valid_request(tmp_path) -> None:
    """Run the printed shell line with a stand-in ``aws`` (prints 1000 GiB / version K1, records
    the update's arguments); the request it would send passes botocore's real model."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "args.json"
    fake = bindir / "aws"
    fake.write_text(
        "#!/usr/bin/env python3\nimport json, sys\na = sys.argv[1:]\n"
        "if a[1] == 'describe-cluster-v2':\n"
        "    print('K1' if 'ClusterInfo.CurrentVersion' in a else '1000')\n"
        f"else:\n    json.dump(a, open({str(record)!r}, 'w'))\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    subprocess.run(["bash", "-c", aws_storage_cli(ARN, 100)], env=env, check=True, timeout=30)
    args = json.loads(record.read_text())
    assert args[:2] == ["kafka", "update-broker-storage"]
    request = {
        "ClusterArn": args[args.index("--cluster-arn") + 1],
        "CurrentVersion": args[args.index("--current-version") + 1],
        "TargetBrokerEBSVolumeInfo": json.loads(
            args[args.index("--target-broker-ebs-volume-info") + 1]
        ),
    }
    assert request == {"ClusterArn": ARN, "CurrentVersion": "K1", "TargetBrokerEBSVolumeInfo":
                       [{"KafkaBrokerNodeId": "All", "VolumeSizeGB": 1100}]}  # fmt: skip
    client = boto3.client("kafka", region_name="eu-west-1", aws_access_key_id="x",
                          aws_secret_access_key="x")  # fmt: skip
    with Stubber(client) as stub:
        stub.add_response("update_broker_storage", {"ClusterOperationArn": "arn:op"}, request)
        client.update_broker_storage(**request)


def test_status_says_taken_or_why_held_back() -> None:
    cfg = AutoAction(action="scale_storage", **{"for": "15m"}, mode="apply")
    assert status(cfg, "pending: firing for 0s of the 900s required", None) == (
        "pending", "pending: firing for 0s of the 900s required")  # fmt: skip
    assert status(cfg, "daily cap of 1 reached", None) == ("held back", "daily cap of 1 reached")
    assert status(cfg, "maintenance window daily is active", None)[0] == "held back"
    assert status(cfg, None, None) == ("due", "runs in this watch cycle")
    row = {"at": "2026-12-01T10:00:00Z", "result": "succeeded", "summary": "done: +100 GiB"}
    assert status(cfg, "cool-down: last run …, next after 2026-12-01T16:00:00Z", row) == (
        "taken", "2026-12-01T10:00:00Z: done: +100 GiB; cool-down: last run …, next after "
        "2026-12-01T16:00:00Z")  # fmt: skip
    assert status(cfg, "cool-down: …", {**row, "result": "dry_run"})[0] == "held back (dry run)"


def _rendered(msg: OutboundMessage) -> dict[str, str]:
    """Every channel's rendering of ``msg`` as text."""
    pd = PagerDutyChannel(PagerDutySettings(), client=None)  # type: ignore[arg-type]
    am = AlertmanagerChannel(AlertmanagerSettings(url="http://127.0.0.1:9"), client=None)
    return {
        "slack": json.dumps(slack.payload(msg), ensure_ascii=False),
        "email": smtp.text_body(msg) + smtp.html_body(msg),
        "pagerduty": json.dumps(pd.events(msg, "RK"), ensure_ascii=False),
        "alertmanager": json.dumps(am.alerts(msg), ensure_ascii=False),
        "webhook": msg.to_json(),
    }


def test_pages_and_updates_carry_actions_to_every_channel(tmp_path) -> None:
    hook = Recorder()
    try:
        path = _config(tmp_path, f"{hook.url}/hook")
        cfg = load_config(path)
        runtime = open_runtime(cfg, None)
        target = Target(name="prod", client_kwargs={}, options=None, config=cfg,  # type: ignore[arg-type]
                        store_url=cfg.store.url)  # fmt: skip
        try:
            runtime.engine.cycle("prod", [_disk()], T0)  # opens the incident and pages
            page = _only(runtime, "trigger")
            d = page.details
            assert d["actions"][0]["command"].startswith("kafkaops msk scale storage --by 100GiB")
            [auto] = d["auto_actions"]
            assert (auto["action"], auto["mode"], auto["status"]) == (
                "scale_storage", "dry_run", "pending")  # fmt: skip
            texts = _rendered(page)
            for channel, text in texts.items():
                assert "kafkaops msk scale storage --by 100GiB" in text, channel
                assert "update-broker-storage" in text, channel
                assert "scale_storage" in text and "pending" in text, channel
            assert "*Actions*" in texts["slack"] and "Actions:" in texts["email"]
            assert action_lines(d)[0].startswith("Grow every broker's EBS volume by 100 GiB")

            # 30 s later the for: has passed; a dry run (the cluster's MSK describe is not
            # reachable: "cannot plan") is recorded and its outcome sent as an update.
            t1 = T0 + timedelta(seconds=30)
            runtime.engine.cycle("prod", [_disk()], t1)
            [out] = auto_cycle(target, runtime.engine, [_disk()], t1, None)
            assert out.result == "failed" and "cannot plan" in out.detail
            update = _only(runtime, "update")
            assert update.summary.startswith("[P1] incident prod-")
            assert "auto-action (dry run): scale_storage for disk_usage P1" in update.summary
            assert "auto_actions" in update.details, update.details
            [auto] = update.details["auto_actions"]
            assert auto["status"] == "failed" and "cannot plan" in auto["reason"]
            assert "🤖 P1 UPDATE" in _rendered(update)["slack"]
            assert json.loads(_rendered(update)["pagerduty"])[0]["event_action"] == "trigger"

            # A second attempt in the cool-down is held back: said once, not every cycle.
            for i in (2, 3):
                t = T0 + timedelta(seconds=30 * i)
                runtime.engine.cycle("prod", [_disk()], t)
                [out] = auto_cycle(target, runtime.engine, [_disk()], t, None)
                assert out.result == "skipped" and out.detail.startswith("cool-down")
            held = [r.message for r in runtime.outbox.pending()
                    if "auto-action held back" in r.message.summary]  # fmt: skip
            assert len(held) == 1, [m.summary for m in held]

            # The outbox and the dispatcher share the real clock (a message's age decides when
            # retrying ends); only the incident engine runs on the injected one.
            report = runtime.dispatcher.deliver_due()
            assert report.claimed >= 3
            bodies = [r.json() for r in hook.requests if r.completed]
            kinds = [(b["action"], bool(b["details"].get("actions"))) for b in bodies]
            assert ("trigger", True) in kinds and ("update", True) in kinds, kinds
        finally:
            runtime.close()
    finally:
        hook.stop()


def _only(runtime, action: str) -> OutboundMessage:
    rows = [r.message for r in runtime.outbox.pending() if r.message.action == action]
    assert rows, [r.message.action for r in runtime.outbox.pending()]
    return rows[-1]


def test_advice_never_breaks_the_page(tmp_path) -> None:
    """A failure inside the advisor leaves the message as it was (the page still goes)."""
    cfg = load_config(_config(tmp_path, "http://127.0.0.1:9/hook"))

    class Broken:
        def last(self, *a, **k):
            raise RuntimeError("store gone")

    advisor = Advisor(cfg, Broken(), engine=object())
    msg = OutboundMessage("k", "webhook:ops", "trigger", "prod|disk_usage|b", "P1", "prod",
                          "x", {"rule": "disk_usage", "subject": "b"})  # fmt: skip
    assert advisor.enrich(msg) == msg
    with AuditLog.open(cfg.store.url) as audit:  # the table exists for the real advisor
        assert audit.list() == []


def test_automatic_restart_runs_the_configured_command_for_the_down_broker(tmp_path) -> None:
    """broker_unreachable + restart_broker (apply) on a self-managed cluster: the configured
    command runs once for the broker the finding names, with its host; the update says so."""
    out_file = tmp_path / "restarted.txt"
    path = _config(tmp_path, "http://127.0.0.1:9/hook")
    data = yaml.safe_load(path.read_text())
    data["actions"]["restart"] = {"onprem": {"command": [
        "sh", "-c", f"echo {{broker}} {{host}} {{cluster}} >> {out_file}"]}}  # fmt: skip
    data["actions"]["auto"]["broker_unreachable"] = {
        "p1": {"action": "restart_broker", "mode": "apply", "for": "0s", "cooldown": "1h"}
    }
    path.write_text(yaml.safe_dump(data))
    cfg = load_config(path)
    down = Finding("broker_unreachable", Severity.P1, CheckStatus.TRIGGERED, "Broker down",
                   value=1, threshold=0, unit="count",
                   evidence=("broker 3 kafka-3.internal:9092: no answer",))  # fmt: skip
    runtime = open_runtime(cfg, None)
    target = Target(name="onprem", client_kwargs={}, options=None, config=cfg,  # type: ignore[arg-type]
                    store_url=cfg.store.url)  # fmt: skip
    try:
        runtime.engine.cycle("onprem", [down], T0)
        page = _only(runtime, "trigger")
        assert page.details["actions"][0]["command"].startswith(
            "kafkaops brokers restart --broker 3"
        )
        [out] = auto_cycle(target, runtime.engine, [down], T0 + timedelta(seconds=10), None)
        assert out.result == "succeeded", out.detail
        assert out_file.read_text() == "3 kafka-3.internal onprem\n"
        [auto] = _only(runtime, "update").details["auto_actions"]
        assert auto["status"] == "taken" and "restarted broker 3" in auto["reason"]
        # Within the cool-down it does not run again.
        [again] = auto_cycle(target, runtime.engine, [down], T0 + timedelta(seconds=20), None)
        assert again.result == "skipped" and out_file.read_text().count("\n") == 1
    finally:
        runtime.close()
