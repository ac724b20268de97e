"""``Finding.to_dict`` (written out for speed) gives what ``dataclasses.asdict`` gave."""

from __future__ import annotations

import dataclasses

from kafkaops.core.model import CheckStatus, Finding, Severity


def test_to_dict_equals_asdict_with_enum_values() -> None:
    f = Finding(
        "consumer_lag", Severity.P2, CheckStatus.TRIGGERED, "lag", 1234.0, 100.0, "records",
        "group-a", evidence=("lag 1234", "20 partitions"), source="admin",
        response=("check the consumer",),
    )  # fmt: skip
    expected = dataclasses.asdict(f)
    expected["severity"], expected["status"] = "P2", "triggered"
    got = f.to_dict()
    assert got == expected
    assert list(got) == [field.name for field in dataclasses.fields(Finding)]  # every field
    assert isinstance(got["evidence"], tuple) and isinstance(got["response"], tuple)
