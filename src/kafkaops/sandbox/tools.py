"""Kafka's own CLI tools, run from the sandbox's jars: the reference kafkaops is compared with.

The shell wrappers (``kafka-consumer-groups.sh`` …) are not on Maven Central, only the classes
they start; this maps the familiar script names to those classes.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from kafkaops.core.errors import SandboxError

if TYPE_CHECKING:
    from kafkaops.sandbox.cluster import Sandbox

TOOLS: dict[str, str] = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-log-dirs": "org.apache.kafka.tools.LogDirsCommand",
    "kafka-metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
    "kafka-reassign-partitions": "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
    "kafka-producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
    "kafka-consumer-perf-test": "org.apache.kafka.tools.ConsumerPerformance",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-configs": "kafka.admin.ConfigCommand",
}


def tool_command(box: Sandbox, tool: str, args: list[str]) -> list[str]:
    """The java command line for ``tool`` (``kafka-topics`` or ``kafka-topics.sh``)."""
    name = tool.removesuffix(".sh")
    if name not in TOOLS:
        raise SandboxError(f"unknown Kafka tool '{tool}' (known: {', '.join(sorted(TOOLS))})")
    return box.tool_command(TOOLS[name], args)


def run_tool(box: Sandbox, tool: str, args: list[str], timeout_s: float = 300) -> str:
    """Run a Kafka tool and return its stdout; raise SandboxError with its stderr on failure."""
    cmd = tool_command(box, tool, args)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"{tool} did not finish within {timeout_s:.0f}s") from exc
    if proc.returncode != 0:
        raise SandboxError(f"{tool} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return proc.stdout


def jar_tool_command(version: str, tool: str, args: list[str]) -> list[str]:
    """The java command line for ``tool`` from the cached jars of Kafka ``version`` — no
    sandbox needed (``kafkaops perf-test`` against any cluster uses Kafka's own perf tools)."""
    import shutil
    from pathlib import Path

    from kafkaops.sandbox import jars
    from kafkaops.sandbox.cluster import TOOL_JVM_OPTS

    name = tool.removesuffix(".sh")
    if name not in TOOLS:
        raise SandboxError(f"unknown Kafka tool '{tool}' (known: {', '.join(sorted(TOOLS))})")
    java = shutil.which("java")
    if java is None:
        raise SandboxError("no 'java' on PATH (Kafka's tools need a JRE 17+)")
    log4j = Path(__file__).with_name("tools-log4j2.properties")
    opts = (*TOOL_JVM_OPTS, f"-Dlog4j2.configurationFile={log4j}")
    return [java, *opts, "-cp", jars.classpath(version), TOOLS[name], *args]
