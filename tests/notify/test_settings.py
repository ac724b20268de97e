"""The documented example config is valid and complete."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import kafkaops.notify
from kafkaops.notify.settings import ChannelsSettings

pytestmark = pytest.mark.timeout(30)

EXAMPLE = Path(kafkaops.notify.__file__).parent / "channels.example.yaml"


def _keys(model: type, prefix: str = "") -> set[str]:
    out = set()
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        out.add(prefix + name)
        ann = info.annotation
        if isinstance(ann, type) and hasattr(ann, "model_fields"):
            out |= _keys(ann, f"{prefix}{name}.")
    return out


def _yaml_keys(data: object, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(data, dict):
        for k, v in data.items():
            out.add(prefix + str(k))
            out |= _yaml_keys(v, f"{prefix}{k}.")
    return out


def test_example_parses() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    settings = ChannelsSettings.model_validate(data["channels"])
    assert settings.retry.base_backoff == 2000
    assert settings.slack.webhooks["#ops-critical"].url_env == "SLACK_OPS_CRITICAL_WEBHOOK"
    assert settings.pager == "paging-gateway"


def test_example_documents_every_field() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())["channels"]
    documented = _yaml_keys(data)
    fixed = {k for k in _keys(ChannelsSettings) if k.count(".") <= 1}
    # x_env and x_file are alternatives (only one may be given); the comment names the other.
    fixed = {k for k in fixed if not (k.endswith("_file") and k[:-5] + "_env" in documented)}
    # Fields of the per-entry models (webhooks.<name>.*, slack.webhooks.<target>.*) are
    # checked through their examples above; the fixed structure must all be present.
    assert fixed <= documented, sorted(fixed - documented)
