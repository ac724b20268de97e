"""MSK IAM against a real broker: two regions in one process, through kafkaops' own client path.

One Kafka broker (combined KRaft mode, its own JVM: ~15 s) with two SASL_SSL listeners that
speak OAUTHBEARER like MSK's IAM listener, one per region.  Their validator
(tests/collect/java/MskIamTokenValidator.java, compiled here) accepts only a token that is the
signer's presigned ``kafka-cluster:Connect`` URL for that listener's region, signed now and not
expired.  Two clusters under ``clusters:`` (eu-west-1, us-east-1) connect in one process —
impossible with the old ``AWS_DEFAULT_REGION`` way — and a token for the wrong region is
refused, so the check can fail.  No AWS account: static fake credentials sign locally.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafkaops.collect import msk_iam
from kafkaops.collect.admin import CollectOptions, KafkaAdmin
from kafkaops.config import Config
from kafkaops.core.errors import ClusterUnreachable
from kafkaops.sandbox import jars
from tests.conftest import free_port

pytestmark = pytest.mark.integration

JAVA_SRC = Path(__file__).parent / "java" / "MskIamTokenValidator.java"
REGIONS = {"IAM_EU": "eu-west-1", "IAM_US": "us-east-1"}
#: listener name → port, the CA file, the broker's log
Broker = tuple[dict[str, int], Path, Path]


def _wait_port(port: int, proc: subprocess.Popen, log: Path, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited {proc.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise RuntimeError(f"broker did not listen on {port} within {timeout_s}s")


@pytest.fixture(scope="module")
def iam_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """(listener → port, CA file, broker log) of a one-node broker, an IAM listener per region."""
    import trustme
    from cryptography.hazmat.primitives import serialization

    if shutil.which("javac") is None:
        pytest.fail("javac is missing: make system-deps installs a JDK")
    root = tmp_path_factory.mktemp("iam-broker")
    libs = jars.classpath(jars.DEFAULT_KAFKA_VERSION)
    classes = root / "classes"
    subprocess.run(
        ["javac", "-nowarn", "-cp", libs, "-d", str(classes), str(JAVA_SRC)],
        check=True,
        timeout=120,
    )
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    # Kafka's PEM key store wants the key as PKCS#8 ("BEGIN PRIVATE KEY"); trustme writes the
    # traditional EC form.
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    keystore = root / "broker.pem"
    keystore.write_bytes(pkcs8 + b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))

    ports = {"PLAINTEXT": free_port(), "CONTROLLER": free_port()}
    ports.update({name: free_port() for name in REGIONS})
    listeners = ",".join(f"{n}://127.0.0.1:{p}" for n, p in ports.items())
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{ports['CONTROLLER']}",
        "controller.listener.names": "CONTROLLER",
        "listeners": listeners,
        "advertised.listeners": ",".join(
            f"{n}://127.0.0.1:{p}" for n, p in ports.items() if n != "CONTROLLER"
        ),
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
        + ",".join(f"{n}:SASL_SSL" for n in REGIONS),
        "log.dirs": str(root / "data"),
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "background.threads": "2",
    }
    for name, region in REGIONS.items():
        pre = f"listener.name.{name.lower()}"
        props[f"{pre}.sasl.enabled.mechanisms"] = "OAUTHBEARER"
        props[f"{pre}.oauthbearer.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
            f'region="{region}" unsecuredLoginStringClaim_sub="broker";'
        )
        props[f"{pre}.oauthbearer.sasl.server.callback.handler.class"] = (
            "kafkaops.test.MskIamTokenValidator"
        )
        props[f"{pre}.ssl.keystore.type"] = "PEM"
        props[f"{pre}.ssl.keystore.location"] = str(keystore)
    config = root / "server.properties"
    config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    java = ["java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", f"{libs}:{classes}"]
    subprocess.run(  # static quorum (controller.quorum.voters): no --standalone
        [*java, "kafka.tools.StorageTool", "format", "-t", "a0b1c2d3e4f5a6b7c8d9eA",
         "-c", str(config)],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    log = root / "broker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*java, "kafka.Kafka", str(config)], stdout=out, stderr=out)
    try:
        for name in REGIONS:
            _wait_port(ports[name], proc, log)
        yield ports, root / "ca.pem", log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAKAFKAOPSBROKER01")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "kafkaops-broker-test-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setattr(msk_iam, "_providers", {})


def _cluster(port: int, region: str, ca: Path) -> dict:
    return {
        "bootstrap": f"127.0.0.1:{port}",
        "timeouts": {"connect": "8s", "request": "10s"},
        "security": {
            "protocol": "SASL_SSL",
            "sasl_mechanism": "AWS_MSK_IAM",
            "aws_region": region,
            "ssl_cafile": str(ca),
        },
    }


def _options(cluster) -> CollectOptions:  # type: ignore[no-untyped-def]
    return CollectOptions(
        request_timeout_ms=cluster.timeouts.request, connect_timeout_ms=cluster.timeouts.connect
    )


def test_two_iam_clusters_in_two_regions_in_one_process(iam_broker, fake_credentials) -> None:
    ports, ca, log = iam_broker
    cfg = Config.model_validate(
        {
            "clusters": {
                "eu": _cluster(ports["IAM_EU"], "eu-west-1", ca),
                "us": _cluster(ports["IAM_US"], "us-east-1", ca),
                # the eu token sent to the us listener: must be refused
                "wrong": _cluster(ports["IAM_US"], "eu-west-1", ca),
            }
        }
    )
    admins = []
    try:
        for name in ("eu", "us"):
            cluster = cfg.clusters[name]
            admin = KafkaAdmin(cluster.kafka_client_kwargs(), _options(cluster))
            admins.append(admin)
            brokers = admin.describe_cluster()["brokers"]
            assert [b["broker_id"] for b in brokers] == [1]
        # both still work side by side (a new connection each re-authenticates)
        for admin in admins:
            assert admin.describe_cluster()["brokers"]
        wrong = cfg.clusters["wrong"]
        started = time.monotonic()
        with pytest.raises(ClusterUnreachable, match=r"(?i)authentication"):
            KafkaAdmin(wrong.kafka_client_kwargs(), _options(wrong))
        assert time.monotonic() - started < 30
        # refused by the validator, for the reason that matters (the region of the scope)
        assert "MskIamTokenValidator(us-east-1) rejected: host kafka.eu-west-1" in log.read_text()
    finally:
        for admin in admins:
            admin.close()
