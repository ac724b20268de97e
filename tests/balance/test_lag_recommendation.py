"""The runbook's partition-scaling trigger with the config's values (lag.scale_up_lag_threshold,
lag.partition_increment), pointing at ``kafkaops partitions add``."""

from __future__ import annotations

from kafkaops.config import Config
from kafkaops.lag.diagnosis import diagnose_group
from tests.unit.test_lag_diagnosis import group, member, snap


def test_trigger_uses_configured_threshold_and_increment():
    cfg = Config.model_validate(
        {"lag": {"scale_up_lag_threshold": 20_000, "partition_increment": 6}}
    )
    members = [member(f"m{i}", [i]) for i in range(4)]
    g = group("g", [5_000, 5_000, 1, 1], members=members)  # 10,002 > 10,000 default
    kwargs = {
        "scale_up_lag_threshold": cfg.lag.scale_up_lag_threshold,
        "partition_increment": cfg.lag.partition_increment,
    }
    below = diagnose_group(snap([g]), "g", **kwargs)
    assert below is not None and not any("partitions add" in r for r in below.recommendations)
    g = group("g", [15_000, 5_000, 1, 1], members=members)
    above = diagnose_group(snap([g]), "g", **kwargs)
    assert above is not None
    assert any(
        "add 6 partitions" in r and "kafkaops partitions add TOPIC --by 6" in r
        for r in above.recommendations
    )
