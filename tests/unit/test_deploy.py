"""The deploy/ files, checked as far as this machine can: the systemd unit by systemd-analyze,
the Kubernetes manifest parsed and its embedded config validated, the Dockerfile's contract
(non-root, /health check, the same entry point). No image is built here (no container engine)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kafkaops.config import load_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = (DEPLOY / "kafkaops.service").read_text()
    assert "ExecStart=/opt/kafkaops/bin/kafkaops serve" in unit and "User=kafkaops" in unit
    # verify insists the binary exists; everything else is checked as written
    (tmp_path / "kafkaops.service").write_text(
        unit.replace("/opt/kafkaops/bin/kafkaops", "/bin/true")
    )
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "kafkaops.service")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def test_kubernetes_manifest(tmp_path: Path) -> None:
    docs = {
        d["kind"]: d for d in yaml.safe_load_all((DEPLOY / "kubernetes/kafkaops.yaml").read_text())
    }
    assert set(docs) == {"ConfigMap", "Secret", "Deployment", "Service"}
    cfg_file = tmp_path / "kafkaops.yaml"
    cfg_file.write_text(docs["ConfigMap"]["data"]["kafkaops.yaml"])
    cfg = load_config(cfg_file)
    assert cfg.store.url and cfg.store.url.startswith("postgresql")  # two replicas share it
    spec = docs["Deployment"]["spec"]
    assert spec["replicas"] == 2
    container = spec["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_dockerfile_contract() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert "USER 10001" in text and "HEALTHCHECK" in text and "/health" in text
    assert 'ENTRYPOINT ["kafkaops"]' in text and '"--bind", "0.0.0.0"' in text
