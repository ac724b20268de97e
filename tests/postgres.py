"""A throw-away PostgreSQL server for the test run (Debian's packages, loopback only).

``make test`` installs the server; this starts a private cluster in a temporary folder on its own
port, as the ``postgres`` user when running as root (PostgreSQL refuses to run as root), and
stops it at the end.  ``KAFKAOPS_TEST_PG_URL`` points the tests at an existing server instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

#: KAFKAOPS_TEST_PG_PORT overrides it; by default any free loopback port (two suites, or a
#: developer's own PostgreSQL, never collide).
PG_PORT = int(os.environ.get("KAFKAOPS_TEST_PG_PORT", "0"))


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL server binary {name} not found: run 'make setup'")
    return found[-1]


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def temporary_postgres() -> Iterator[str]:
    if os.environ.get("KAFKAOPS_TEST_PG_URL"):
        yield os.environ["KAFKAOPS_TEST_PG_URL"]
        return
    root = tempfile.mkdtemp(prefix="kafkaops-pg-")
    data, sock = os.path.join(root, "data"), os.path.join(root, "sock")
    os.makedirs(sock)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    run = dict(check=True, capture_output=True, timeout=120)
    subprocess.run(
        _as_postgres([_bin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]),
        **run,
    )
    port = PG_PORT or _free_port()
    options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres(
            [_bin("pg_ctl"), "-D", data, "-o", options, "-l", f"{root}/pg.log", "-w", "start"]
        ),
        **run,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([_bin("pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)
