"""Shared fixtures: one real sandbox Kafka cluster per test run (session scope).

Each test uses its own topic and group names (``unique_name``) and restores any broker it
stops, so tests do not depend on each other's order.  The cluster lives in a temporary folder
on its own ports, so a developer's ``make demo`` sandbox is never touched.

The clock guard: the runbook's default maintenance windows (daily 02:00-04:00 UTC, Sunday
01:00-05:00, first Sunday 00:00-06:00) mute P1/P2 pages, so a test that expects a page and
forgets to state its windows would pass or fail by the hour of day.  Every test marked
``pages`` therefore runs with the policy clock started at :data:`CLOCK_GUARD_NOW`, inside all
three windows: ``KAFKAOPS_NOW`` is set in the environment (the ``kafkaops`` subprocesses the
test starts inherit it) and this process's clock is restarted from it; afterwards both go back,
so every other test runs on the real clock.  Such a test fails at any hour, not only at night.
A module marked ``pages`` as a whole is guarded from its first module-scoped fixture on (its
servers start on the guard clock too); a single marked function only for itself.  A paging test
must not take a clock-dependent process from a package- or session-scoped fixture: those start
before any guard (tests/service/test_api.py starts its own service for this reason).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafkaops.core import clock
from kafkaops.sandbox.cluster import Sandbox
from kafkaops.sandbox.jars import DEFAULT_KAFKA_VERSION

# Port map of the suite's clusters.  Every block is below Linux's ephemeral range (32768-60999):
# a port in that range can be taken by any client socket between the sandbox's "is it free?"
# check and the JVM's bind (CI lost the whole DR package to that once: the pair sat at 33092).
#   TEST_BASE_PORT        29092..29291  session cluster (+10 diagnose, +40 balance inside it)
#   TEST_BASE_PORT + 1000 30092..30691  the sharing test's three small clusters
#   DR_BASE_PORT          25092..25291  DR primary;  DR_BASE_PORT + 1000: DR replica
#   LEGACY_BASE_PORT      27092..27291  the Kafka 3.9 smoke cluster
#: Override with KAFKAOPS_TEST_BASE_PORT to run two suites side by side (ports base..base+199).
TEST_BASE_PORT = int(os.environ.get("KAFKAOPS_TEST_BASE_PORT", "29092"))
#: The Kafka 3.9 smoke cluster's first port (tests/integration/test_smoke_legacy.py).
LEGACY_BASE_PORT = int(os.environ.get("KAFKAOPS_TEST_LEGACY_BASE_PORT", "27092"))

# Loopback only: no AWS SDK call may ever look for credentials on the instance-metadata
# address or reach a real AWS endpoint from a test (subprocesses inherit this).
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _var in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION"):
    os.environ.pop(_var, None)


#: Where the clock guard starts the policy clock: the first Sunday of December, 03:00 UTC, inside
#: the daily, weekly and monthly default windows (tests/core/test_clock.py checks it).
CLOCK_GUARD_NOW = os.environ.get("KAFKAOPS_TEST_CLOCK_GUARD_NOW", "2026-12-06T03:00:00Z")
#: Whether the whole run was started with a KAFKAOPS_NOW of its own (then nothing is on the
#: real clock, and the guard's clean-up goes back to that instant).
RUN_HAS_OWN_NOW = clock.ENV_VAR in os.environ


@contextlib.contextmanager
def clock_guard() -> Iterator[None]:
    """``KAFKAOPS_NOW`` at the guard instant, this process's clock restarted from it; undone
    on exit (a nested guard leaves the outer one's clock running on)."""
    if os.environ.get(clock.ENV_VAR) == CLOCK_GUARD_NOW:
        yield
        return
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(clock.ENV_VAR, CLOCK_GUARD_NOW)
            clock.restart_from_env()
            yield
    finally:
        clock.restart_from_env()


@pytest.fixture(scope="module", autouse=True)
def _clock_guard_module(request: pytest.FixtureRequest) -> Iterator[None]:
    """A module marked ``pages`` (``pytestmark``): guarded before its module-scoped fixtures."""
    if request.node.get_closest_marker("pages") is None:
        yield
        return
    with clock_guard():
        yield


@pytest.fixture(autouse=True)
def _clock_guard_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked ``pages``: guarded (a no-op inside a guarded module)."""
    if request.node.get_closest_marker("pages") is None:
        yield
        return
    with clock_guard():
        yield


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    return unique(request.node.name.replace("[", "-").replace("]", "")[:40])


def start_sandbox(version: str, base_port: int) -> Sandbox:
    root = Path(tempfile.mkdtemp(prefix=f"kafkaops-test-{version}-"))
    box = Sandbox(root)
    try:
        box.up(
            brokers=3,
            controllers=1,
            version=version,
            base_port=base_port,
            heap_mb=384,
            sasl_scram=True,
        )
    except BaseException:
        box.down()
        raise
    return box


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    box = start_sandbox(
        os.environ.get("KAFKAOPS_TEST_KAFKA", DEFAULT_KAFKA_VERSION), TEST_BASE_PORT
    )
    try:
        yield box
    finally:
        box.down()
        shutil.rmtree(box.root, ignore_errors=True)


@pytest.fixture(scope="session")
def bootstrap(sandbox: Sandbox) -> str:
    return sandbox.bootstrap()


def run_cli(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``kafkaops`` entry point in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "kafkaops.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def health_json(*args: str) -> tuple[int, dict]:
    proc = run_cli("health", "--json", *args)
    assert proc.stdout, f"no JSON on stdout; stderr: {proc.stderr}"
    return proc.returncode, json.loads(proc.stdout)


def wait_until(predicate, timeout: float = 60, interval: float = 1.0, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    from tests.postgres import temporary_postgres

    with temporary_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The history store on both supported databases; each test gets an empty database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    import sqlalchemy

    base = request.getfixturevalue("postgres_url")
    name = "t_" + uuid.uuid4().hex[:12]
    admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def free_port() -> int:
    """A loopback port nobody listens on right now (for receivers and emulators)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto in server mode on loopback: the AWS APIs (CloudWatch, MSK, SNS) — no AWS account
    exists here.  Tests reset it (``POST /moto-api/reset``) when they need a clean slate."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
