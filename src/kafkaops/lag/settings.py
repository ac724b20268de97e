"""Consumer-status evaluation settings (Burrow-style sliding window) and the runbook's
partition-scaling recommendation values."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

#: A count: a YAML integer ≥ 0 (strict).
Count = Annotated[int, Field(ge=0, strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LagSettings(_Model):
    """Consumer status evaluation (Burrow-style sliding window)."""

    #: Samples per partition in the window (Burrow's default is 10 commits).
    window: int = Field(default=10, ge=2, le=1000)
    #: The runbook's scale_up_lag_threshold and partition_increment, for recommendations.
    scale_up_lag_threshold: Count = 10_000
    partition_increment: int = Field(default=4, ge=1)
