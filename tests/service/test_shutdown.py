"""Start-up and shutdown of ``kafkaops serve``: no token → mutations refused; signals → exit 0."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.service.conftest import start_service, stop_service

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def test_no_token_refuses_mutations_and_sigint_exits_0(sandbox, tmp_path: Path) -> None:
    svc = start_service(tmp_path, sandbox, token=None)
    try:
        r = svc.post("/api/incidents/anything/ack", headers={"Authorization": "Bearer x"})
        assert r.status_code == 403
        assert "KAFKAOPS_API_TOKEN" in r.json()["error"]
        assert svc.get("/api/clusters/sbx/health").status_code == 200
    finally:
        started = time.monotonic()
        code = stop_service(svc, signal.SIGINT)
    took = time.monotonic() - started
    log = svc.log.read_text()
    assert code == 0, log[-2000:]
    assert "SIGINT: shutting down" in log and "Traceback" not in log
    assert took < 30, f"shutdown took {took:.1f}s"


def test_port_in_use_is_one_line_and_exit_3(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "kafkaops.cli", "serve", "--bootstrap", "127.0.0.1:9",
             "--store", f"sqlite:///{tmp_path / 'k.db'}", "--port", str(port)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert (
        proc.stderr.strip().splitlines()[-1].startswith(f"error: cannot listen on 127.0.0.1:{port}")
    )
    assert "Traceback" not in proc.stderr


def test_once_for_stops_cleanly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kafkaops.cli", "serve", "--bootstrap", "127.0.0.1:9",
         "--store", f"sqlite:///{tmp_path / 'k.db'}", "--port", "0", "--once-for", "3"],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "kafkaops serving on http://127.0.0.1:" in proc.stdout
