"""MSK IAM per cluster: OAUTHBEARER tokens from AWS's signer, region/profile/role per cluster.

Unit level (no broker): what the token is (the signer's presigned URL, decoded and checked field
by field), two regions in one process, the refresh before expiry, a named profile, an assumed
role (STS on the moto server), and the one-line errors.  The handshake against a real broker is
tests/collect/test_msk_iam_broker.py.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from kafkaops.collect import msk_iam
from kafkaops.config import Config
from kafkaops.core.errors import ConfigError

KEY_ID = "AKIAKAFKAOPSTEST0001"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake static credentials; no profile files of the machine; a fresh provider cache."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "kafkaops-test-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setattr(msk_iam, "_providers", {})


def decode(token: str) -> tuple[str, dict[str, str]]:
    """The token → (host, query parameters): base64url without padding of a presigned URL."""
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    parsed = urlparse(url)
    return parsed.netloc, {k: v[0] for k, v in parse_qs(parsed.query).items()}


def iam_cluster(region: str | None = None, **security: str) -> dict:
    host = f"b-1.prod.abc123.c2.kafka.{region}.amazonaws.com:9098" if region else "h:9098"
    return {
        "bootstrap": host,
        "security": {"protocol": "SASL_SSL", "sasl_mechanism": "AWS_MSK_IAM", **security},
    }


def test_two_regions_in_one_process_each_get_their_own_token() -> None:
    cfg = Config.model_validate(
        {"clusters": {"eu": iam_cluster("eu-west-1"), "us": iam_cluster("us-east-1")}}
    )
    kw_eu = cfg.clusters["eu"].kafka_client_kwargs()
    kw_us = cfg.clusters["us"].kafka_client_kwargs()
    assert kw_eu["sasl_mechanism"] == kw_us["sasl_mechanism"] == "OAUTHBEARER"
    for kwargs, region in ((kw_eu, "eu-west-1"), (kw_us, "us-east-1")):
        host, q = decode(kwargs["sasl_oauth_token_provider"].token())
        assert host == f"kafka.{region}.amazonaws.com"
        assert q["Action"] == "kafka-cluster:Connect"
        assert q["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
        key, _day, scope_region, service, end = q["X-Amz-Credential"].split("/")
        assert (key, scope_region, service, end) == (
            KEY_ID,
            region,
            "kafka-cluster",
            "aws4_request",
        )
        assert q["X-Amz-Expires"] == "900" and len(q["X-Amz-Signature"]) == 64
        assert q["User-Agent"].startswith("aws-msk-iam-sasl-signer-python/")
    assert "AWS_DEFAULT_REGION" not in os.environ  # nothing process-wide any more
    # the secret is never in what gets logged
    assert "kafkaops-test-secret" not in repr(kw_eu) + repr(cfg)


def test_token_is_reused_then_re_signed_before_it_expires() -> None:
    now = [time.time()]  # the signer dates the token by the real clock
    provider = msk_iam.MskIamTokenProvider("eu-west-1", clock=lambda: now[0])
    first = provider.token()
    assert provider.signed == 1
    lifetime_s = provider.expiry_ms / 1000 - now[0]
    assert 800 < lifetime_s <= 900  # the signer's 15 minutes, from its signing time
    now[0] += lifetime_s - msk_iam.REFRESH_BEFORE_S - 1
    assert provider.token() == first and provider.signed == 1
    now[0] += 2  # now inside the refresh margin
    provider.token()
    assert provider.signed == 2


def test_named_profile_and_region_from_the_profile(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "aws-config").write_text("[profile msk-eu]\nregion = eu-central-1\n")
    (tmp_path / "aws-credentials").write_text(
        "[msk-eu]\naws_access_key_id = AKIAPROFILEEU0000001\n"
        "aws_secret_access_key = profile-secret\n"
    )
    cfg = Config.model_validate({"clusters": {"a": iam_cluster(None, aws_profile="msk-eu")}})
    provider = cfg.clusters["a"].kafka_client_kwargs()["sasl_oauth_token_provider"]
    host, q = decode(provider.token())
    assert host == "kafka.eu-central-1.amazonaws.com"
    assert q["X-Amz-Credential"].startswith("AKIAPROFILEEU0000001/")


def test_role_is_assumed_with_sts(moto_url: str, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_url)
    role = "arn:aws:iam::123456789012:role/kafkaops-msk"
    cfg = Config.model_validate({"clusters": {"a": iam_cluster("eu-west-1", aws_role_arn=role)}})
    provider = cfg.clusters["a"].kafka_client_kwargs()["sasl_oauth_token_provider"]
    _host, q = decode(provider.token())
    assert not q["X-Amz-Credential"].startswith(KEY_ID)  # the role's temporary key
    assert q["X-Amz-Security-Token"]  # temporary credentials carry a session token


def test_errors_are_one_line_naming_the_field(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    cfg = Config.model_validate({"clusters": {"a": iam_cluster("eu-west-1")}})
    with pytest.raises(ConfigError) as exc:
        cfg.clusters["a"].kafka_client_kwargs()
    assert "aws_profile" in str(exc.value) and "credentials" in str(exc.value)
    cfg = Config.model_validate({"clusters": {"a": iam_cluster(None, aws_profile="nope")}})
    with pytest.raises(ConfigError) as exc:
        cfg.clusters["a"].kafka_client_kwargs()
    assert "aws_profile" in str(exc.value) and "nope" in str(exc.value)
    assert "\n" not in str(exc.value)
    cfg = Config.model_validate({"clusters": {"a": iam_cluster(None)}})
    with pytest.raises(ConfigError, match="needs a region"):
        cfg.clusters["a"].kafka_client_kwargs()
    with pytest.raises(ValueError, match="not an IAM role ARN"):
        Config.model_validate({"clusters": {"a": iam_cluster("eu-west-1", aws_role_arn="x")}})
    with pytest.raises(ValueError, match="only used with sasl_mechanism AWS_MSK_IAM"):
        Config.model_validate(
            {"clusters": {"a": {"bootstrap": "h:9092", "security": {"aws_profile": "p"}}}}
        )
