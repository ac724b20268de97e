"""A node that exits during start-up is named with its cause (CI deletes the log file)."""

from __future__ import annotations

from pathlib import Path

from kafkaops.sandbox.cluster import startup_failure_cause

BIND_FAILURE = "\n".join(
    (
        "[2026-12-01 16:10:01,000] INFO KafkaConfig values: ... (AbstractConfig)",
        "[2026-12-01 16:10:02,100] ERROR [ControllerServer id=100] Fatal error during"
        " controller startup. Prepare to shutdown (kafka.server.ControllerServer)",
        "org.apache.kafka.common.KafkaException: Socket server failed to bind to"
        " 127.0.0.1:33192: Address already in use.",
        "\tat kafka.network.Acceptor.openServerSocket(SocketServer.scala:734)",
        "[2026-12-01 16:10:02,200] INFO [ControllerServer id=100] shut down completed",
    )
)


def test_the_last_error_line_is_the_cause(tmp_path: Path) -> None:
    (tmp_path / "server.log").write_text(BIND_FAILURE)
    cause = startup_failure_cause(tmp_path)
    assert "Address already in use" in cause and "33192" in cause


def test_stdout_is_read_when_the_server_log_says_nothing(tmp_path: Path) -> None:
    (tmp_path / "server.log").write_text("[...] INFO starting\n")
    (tmp_path / "stdout.log").write_text("Error: Could not find or load main class kafka.Kafka\n")
    assert startup_failure_cause(tmp_path) == "Error: Could not find or load main class kafka.Kafka"


def test_no_logs_no_cause(tmp_path: Path) -> None:
    assert startup_failure_cause(tmp_path) == ""
    (tmp_path / "server.log").write_text("x" * 10 + "\n")
    assert startup_failure_cause(tmp_path, max_chars=5) == ""
