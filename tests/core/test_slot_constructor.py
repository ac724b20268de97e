"""The snapshot's fast constructors build the same objects as the dataclasses' own ``__init__``."""

from __future__ import annotations

import dataclasses

import pytest

from kafkaops.core.model import (
    PartitionLag,
    PartitionState,
    new_partition_lag,
    new_partition_state,
)


def test_partition_state_equals_the_dataclass() -> None:
    values = ("orders", 3, 2, (1, 2, 3), (1, 2), (3,), 2, 10, 42)
    built = new_partition_state(*values)
    expected = PartitionState(*values)
    assert built == expected and hash(built) == hash(expected)
    assert dataclasses.astuple(built) == values
    assert built.under_replicated and not built.under_min_isr and built.name == "orders-3"


def test_partition_lag_equals_the_dataclass_and_stays_frozen() -> None:
    values = ("orders", 0, None, 5, 9, None, False, "member-1", 1200, "exact")
    built = new_partition_lag(*values)
    assert built == PartitionLag(*values)
    assert dataclasses.astuple(built) == values
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.lag = 3  # type: ignore[misc]


def test_every_field_must_be_given() -> None:
    """A field added to the dataclass must be added at every call site, not default silently."""
    with pytest.raises(ValueError):
        new_partition_lag("orders", 0, 1, 0, 5, 4, False, None, None)
