"""``balance:`` in the config: tolerance bands, default throttle and batch, the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from kafkaops.core.units import ByteSize, Percent, parse_bytes


def parse_rate(value: object) -> int:
    """A replication throttle in bytes per second: ``50MiB/s``, ``10MB/s`` (or ``50MiB``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"{value!r}: give the unit, e.g. 50MiB/s")
    text = str(value).strip()
    if text.lower().endswith("/s"):
        text = text[:-2]
    rate = parse_bytes(text)
    if rate <= 0:
        raise ValueError(f"{value!r} must be above zero")
    return rate


#: Config field type: the YAML says ``50MiB/s``, the model holds bytes per second.
Rate = Annotated[int, BeforeValidator(parse_rate)]


def default_audit_log() -> Path:
    return Path.home() / ".kafkaops" / "balance-audit.jsonl"


class BalanceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Cruise Control-style band around the mean for replicas, leaders and bytes.
    tolerance: Percent = 10.0
    #: Bytes are judged only once the average broker holds this much.
    min_disk_bytes: ByteSize = 1 << 30
    #: Replication throttle during ``balance apply`` (always removed at the end).
    throttle: Rate = 50 * 2**20
    #: Partitions reassigned at a time.
    batch: int = Field(default=10, ge=1, le=10_000)
    #: Every apply, cancel and cleanup is appended here as one JSON line.
    audit_log: Path = Field(default_factory=default_audit_log)

    @field_validator("audit_log")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()
