"""A private Prometheus Alertmanager for tests (Debian package ``prometheus-alertmanager``).

Starts ``/usr/bin/prometheus-alertmanager`` on 127.0.0.1 with a free port, a temporary storage
path, clustering off (it would otherwise bind 0.0.0.0:9094) and a minimal config whose only
receiver does nothing; waits for ``/-/ready``; stops it at the end.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.notify.receivers import free_port

BINARY = "/usr/bin/prometheus-alertmanager"
CONFIG = """\
route:
  receiver: "null"
  group_wait: 1s
receivers:
  - name: "null"
"""


def available() -> bool:
    return Path(BINARY).exists()


@contextmanager
def temporary_alertmanager(ready_timeout_s: float = 30.0) -> Iterator[str]:
    """Yield the base URL of a fresh Alertmanager; it is stopped and its files removed after."""
    root = Path(tempfile.mkdtemp(prefix="kafkaops-am-"))
    (root / "alertmanager.yml").write_text(CONFIG)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (root / "alertmanager.log").open("wb")
    proc = subprocess.Popen(
        [
            BINARY,
            f"--config.file={root / 'alertmanager.yml'}",
            f"--storage.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + ready_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"alertmanager exited ({proc.returncode}): "
                    f"{(root / 'alertmanager.log').read_text()[-2000:]}"
                )
            try:
                if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("alertmanager did not become ready")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
