"""A real DR pair for the DR tests: two small sandbox clusters (1 broker + 1 controller each) and a
real MirrorMaker 2 between them, in a temporary folder on ports of their own.

Ports: the primary from KAFKAOPS_TEST_DR_BASE_PORT (default 25092), the replica from 1000 above
it: both below the ephemeral port range, and far enough apart that the primary, moved up in
steps of 200 past ports in use while both start at once, does not land on the replica's block.
The pair is package-scoped: shared by the tests in tests/dr (JVM start-up is the slow part) and
stopped after the last of them, so its five JVMs do not run beside the rest of the suite on a
2-core machine (they did, and every later timing-sensitive test paid for it). Each test uses its
own topic and group names.

``KAFKAOPS_TEST_LOG_DIR``: when set, the pair's broker, controller and MirrorMaker 2 logs are
copied there before the pair's folder is deleted (what to read when a DR test failed in CI).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from kafkaops.sandbox.cluster import Sandbox
from kafkaops.sandbox.mirror import Mirror

#: Override with KAFKAOPS_TEST_DR_BASE_PORT; the replica uses base+1000 (see tests/conftest.py).
DR_BASE_PORT = int(os.environ.get("KAFKAOPS_TEST_DR_BASE_PORT", "25092"))
DR_REPLICA_PORT = DR_BASE_PORT + 1000
#: A topic MM2 is told not to replicate: how the tests get a "missing on the replica" topic.
SKIP_PREFIX = "drskip-"
MIRROR_EXTRA = {"topics.exclude": rf".*[\-\.]internal, .*\.replica, __.*, {SKIP_PREFIX}.*"}


@dataclass
class Pair:
    base: Path
    primary: Sandbox
    replica: Sandbox
    mirror: Mirror

    @property
    def env(self) -> dict[str, str]:
        """Environment for ``run_cli``: the pair is the CLI's default sandbox pair."""
        return {"KAFKAOPS_SANDBOX_DIR": str(self.base / "default")}

    def restart_mirror(self, policy: str | None = None) -> None:
        self.mirror.up(policy=policy, extra=MIRROR_EXTRA)
        # MM2's first start creates its internal topics: over a minute on a busy 2-core host.
        self.mirror.wait_flowing(timeout_s=240)


def _up(box: Sandbox, port: int) -> None:
    box.up(
        brokers=1,
        controllers=1,
        base_port=port,
        heap_mb=256,
        jmx_exporter=False,
        node_exporter=False,
    )


@pytest.fixture(scope="package")
def dr_pair() -> Iterator[Pair]:
    base = Path(tempfile.mkdtemp(prefix="kafkaops-dr-"))
    primary, replica = Sandbox(base / "default"), Sandbox(base / "dr")
    mirror = Mirror("default", "dr", base_dir=base)
    pair = Pair(base, primary, replica, mirror)
    try:
        # Both clusters at once: JVM start-up is most of it, and the two do not wait for
        # each other.
        with ThreadPoolExecutor(2) as pool:
            started = [
                pool.submit(_up, primary, DR_BASE_PORT),
                pool.submit(_up, replica, DR_REPLICA_PORT),
            ]
        for future in started:
            future.result()
        pair.restart_mirror("default")
        yield pair
    finally:
        mirror.down()
        # keep_data: the node logs live in the sandboxes' folders (all of base goes below).
        replica.down(keep_data=True)
        primary.down(keep_data=True)
        keep_logs(base)
        shutil.rmtree(base, ignore_errors=True)


def keep_logs(base: Path) -> None:
    """Copy ``*/logs/*.log*`` of the pair to ``$KAFKAOPS_TEST_LOG_DIR/<base name>/``."""
    dest = os.environ.get("KAFKAOPS_TEST_LOG_DIR")
    if not dest:
        return
    for log in base.glob("*/**/logs/*.log*"):
        target = Path(dest) / base.name / log.relative_to(base)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(log, target)
