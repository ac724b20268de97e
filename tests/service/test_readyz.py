"""``kafkaops serve`` with no store flag and no Kafka: the embedded default store is said first,
``/readyz`` turns 200 once the store answers and the first cycle is done (an unreachable cluster
still completes a cycle: readiness is the service's, not the cluster's)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port


def test_serve_zero_config_store_and_readyz(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KAFKAOPS_BOOTSTRAP": f"127.0.0.1:{free_port()}",  # nobody listens: unreachable
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "KAFKAOPS_API_TOKEN": "t" * 32,
    }
    env.pop("KAFKAOPS_STORE", None)
    log = tmp_path / "serve.log"
    with log.open("w") as errf:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kafkaops", "serve", "--port", "0", "--interval", "2",
             "--once-for", "120", "--log-format", "json"],
            stdout=subprocess.PIPE, stderr=errf, text=True, env=env,
        )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = re.search(r"serving on (http://\S+/) ", first)
        assert url, (first, log.read_text())
        deadline = time.monotonic() + 90
        ready = None
        while time.monotonic() < deadline:
            r = httpx.get(url.group(1) + "readyz", timeout=5)
            if r.status_code == 200:
                ready = r.json()
                break
            assert r.status_code == 503 and r.json()["status"] == "not_ready"
            time.sleep(1)
        assert ready == {"status": "ready", "store_ok": True, "waiting_for": [], "reasons": []}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    import json

    events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    db = tmp_path / "state" / "kafkaops" / "kafkaops.db"
    assert events[0]["msg"] == f"store: sqlite:///{db} (embedded default: state directory)"
    assert all(e["ts"].endswith("Z") for e in events)
    assert db.exists()
