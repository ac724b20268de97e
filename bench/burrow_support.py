"""Running the real Burrow (Debian package ``burrow``) next to a Kafka 3.9 sandbox, for benches.

Burrow 1.2.1 needs a ZooKeeper for its own coordination (started here from the same Kafka 3.9.2
jars) and speaks protocol versions Kafka 4 removed (KIP-896), so it is pointed at 3.9 with
``kafka-version = "2.1.0"``.  Everything binds 127.0.0.1; the caller terminates the processes.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from kafkaops.sandbox.jars import LEGACY_KAFKA_VERSION, classpath

BURROW_TOML = """
[general]
pidfile="{root}/burrow.pid"
[logging]
filename="{root}/burrow.log"
level="warn"
[zookeeper]
servers=["127.0.0.1:{zk}"]
timeout=6
root-path="/burrow"
[client-profile.{cluster}]
client-id="burrow-{cluster}"
kafka-version="2.1.0"
[cluster.{cluster}]
class-name="kafka"
servers=[{servers}]
client-profile="{cluster}"
topic-refresh={topic_refresh}
offset-refresh={offset_refresh}
[consumer.{cluster}]
class-name="kafka"
cluster="{cluster}"
servers=[{servers}]
client-profile="{cluster}"
group-whitelist="{whitelist}"
[httpserver.default]
address="127.0.0.1:{http}"
[storage.default]
class-name="inmemory"
workers=8
intervals=10
expire-group=604800
min-distance=1
"""


def start_zookeeper(root: Path, port: int) -> subprocess.Popen[bytes]:
    """A standalone ZooKeeper from the Kafka 3.9.2 jars, data under ``root/zk``."""
    (root / "zk").mkdir(exist_ok=True)
    (root / "zk.cfg").write_text(
        f"dataDir={root / 'zk'}\nclientPort={port}\nclientPortAddress=127.0.0.1\n"
        "admin.enableServer=false\ntickTime=2000\n"
    )
    return subprocess.Popen(
        ["java", "-Xmx128m", "-cp", classpath(LEGACY_KAFKA_VERSION),
         "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(root / "zk.cfg")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def start_burrow(
    root: Path,
    bootstrap: str,
    *,
    zk_port: int,
    http_port: int,
    cluster: str,
    whitelist: str,
    offset_refresh_s: int = 10,
    topic_refresh_s: int = 60,
) -> subprocess.Popen[bytes]:
    """Burrow with its config in ``root``; ``whitelist`` is a regex of groups to evaluate."""
    servers = ",".join(f'"{s}"' for s in bootstrap.split(","))
    (root / "burrow.toml").write_text(
        BURROW_TOML.format(
            root=root, zk=zk_port, servers=servers, http=http_port, cluster=cluster,
            whitelist=whitelist.replace("\\", "\\\\"), offset_refresh=offset_refresh_s,
            topic_refresh=topic_refresh_s,
        )
    )  # fmt: skip
    time.sleep(1)
    return subprocess.Popen(
        ["/usr/bin/Burrow", "-config-dir", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
