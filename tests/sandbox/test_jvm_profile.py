"""The sandbox's broker JVM profiles: light for the suite, Kafka's own server flags for benches.

Why it matters: at 20,000 partitions the light profile's serial collector stopped each broker
for ~1.6 s every ~20 s, and the benchmark measured those pauses as slow watch cycles.  No JVM
is started here: the command line a node would be launched with is captured.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kafkaops.core.errors import KafkaopsError
from kafkaops.sandbox import cluster as cluster_mod
from kafkaops.sandbox.cluster import Node, Sandbox


def _launched_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: dict) -> list[str]:
    box = Sandbox(tmp_path / "box")
    node_dir = box.root / "node-1"
    (node_dir / "logs").mkdir(parents=True)
    state = {"version": "3.9.2", "nodes": [{"node_id": 1, "pid": None}], **state}
    box.state_file.write_text(json.dumps(state))
    seen: list[list[str]] = []

    class FakePopen:
        pid = 4242

        def __init__(self, cmd: list[str], **_kw: Any) -> None:
            seen.append(cmd)

    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    monkeypatch.setattr(cluster_mod.jars, "classpath", lambda _v: "kafka.jar")
    monkeypatch.setattr(cluster_mod.shutil, "which", lambda _n: "/usr/bin/java")
    node = Node(node_id=1, role="broker", port=1, dir=str(node_dir))
    box._launch(node)
    return seen[0]


def test_the_light_profile_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cmd = _launched_with(tmp_path, monkeypatch, {"heap_mb": 512})
    assert "-XX:+UseSerialGC" in cmd and "-XX:TieredStopAtLevel=1" in cmd
    assert "-Xmx512m" in cmd and "-Xms128m" in cmd


def test_the_server_profile_runs_brokers_as_kafka_server_start_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cmd = _launched_with(tmp_path, monkeypatch, {"heap_mb": 2048, "jvm": "server"})
    assert "-XX:+UseG1GC" in cmd and "-XX:MaxGCPauseMillis=20" in cmd
    assert "-XX:+UseSerialGC" not in cmd and "-XX:TieredStopAtLevel=1" not in cmd
    assert "-Xmx2048m" in cmd and "-Xms2048m" in cmd  # a fixed heap, as in production


def test_an_unknown_profile_is_refused_in_one_line(tmp_path: Path) -> None:
    expected = r"unknown JVM profile 'fast': expected one of light, server"
    with pytest.raises(KafkaopsError, match=expected):
        Sandbox(tmp_path / "box").up(jvm="fast")
