"""Silences: an operator's ad-hoc mute of the alerts its label matchers select.

Kept apart from the scheduled windows because a silence is made at run time (CLI, API) and
stored, not configured, and mutes P0 only when it names ``severity="P0"`` explicitly - a broad
"silence cluster X" must not swallow an outage (see :func:`kafkaops.incidents.windows.is_muted`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import AwareDatetime, field_validator, model_validator

from kafkaops.incidents.windows import Matchers, Occurrence, StrictModel, to_utc


class Silence(StrictModel):
    """Operator-made mute of the alerts its matchers select, for ``[start, end)``."""

    matchers: Matchers
    start: AwareDatetime
    end: AwareDatetime
    created_by: str
    comment: str = ""

    @field_validator("start", "end")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return to_utc(value)

    @model_validator(mode="after")
    def _ordered(self) -> Silence:
        if self.end <= self.start:
            raise ValueError("a silence must end after it starts")
        return self

    def occurrence(self) -> Occurrence:
        name = f"silence by {self.created_by}"
        return Occurrence(name, "silence", self.start, self.end, self.matchers, notify=False)

    def overlapping(self, start: datetime, end: datetime) -> list[Occurrence]:
        occ = self.occurrence()
        return [occ] if occ.end > start and occ.start < end else []

    def after(self, now: datetime) -> Iterator[Occurrence]:
        return iter([self.occurrence()] if self.start > now else [])
