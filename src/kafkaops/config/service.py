"""``service:`` configuration for ``kafkaops serve``: where it listens, who may change things, when
the runbook's scheduled checks run.

Why strict (``extra="forbid"``) like every other section: a misspelt ``protect_reads`` would
otherwise silently leave the API open.  The API token is never inline: ``token_env`` names an
environment variable, ``token_file`` a file (a Kubernetes secret volume); a pasted token is
refused by the same validator the channels use, so it cannot end up in a config repository.

Schedules are UTC: the runbook's "Daily Checks" run at 09:00, its "Weekly Review" on Monday at
10:00.  They are written ``"HH:MM"`` and ``"<DAY> HH:MM"``; ``null`` turns a job off.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from kafkaops.core.secrets import check_env_name
from kafkaops.core.units import ByteSize, bounded_duration

DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
EnvName = Annotated[str, AfterValidator(check_env_name)]


def parse_time(text: str) -> tuple[int, int]:
    """``"09:00"`` → ``(9, 0)``; raises ValueError with the accepted form."""
    m = _TIME.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a time of day; use HH:MM in UTC, e.g. 09:00")
    return int(m.group(1)), int(m.group(2))


def parse_weekly(text: str) -> tuple[int, int, int]:
    """``"MON 10:00"`` → ``(0, 10, 0)`` (weekday 0 = Monday, as dateutil counts)."""
    day, _, clock = text.strip().partition(" ")
    day = day[:3].upper()
    if day not in DAYS:
        raise ValueError(f"{text!r}: start with a weekday ({', '.join(DAYS)}), e.g. 'MON 10:00'")
    return (DAYS.index(day), *parse_time(clock))


class ServiceSettings(BaseModel):
    """The ``service:`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Loopback by default: the API can acknowledge incidents, so exposing it is a decision.
    bind: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    #: Environment variable holding the bearer token for mutating endpoints (ack, resolve).
    token_env: EnvName | None = "KAFKAOPS_API_TOKEN"
    #: File holding the token, read when the variable is unset (secret volumes, Vault agent).
    token_file: Path | None = None
    #: Require the token for read endpoints and ``/metrics`` as well (``/health`` stays open).
    protect_reads: bool = False
    #: Largest request body accepted (413 above it).  The API's bodies are a one-line note;
    #: without a cap a single unauthenticated POST could make the service buffer gigabytes.
    max_body: ByteSize = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    #: A client must finish sending a request's headers within this time of connecting (or of
    #: its previous response), else the connection is closed: slow-header clients (slowloris)
    #: cannot hold connections open.
    header_timeout: bounded_duration(1_000, 300_000) = 10_000  # type: ignore[valid-type]
    #: Host names the API answers to besides IP addresses, ``localhost`` and ``bind`` (a DNS
    #: rebinding guard); ``*.example.com`` matches sub-domains.  Other Host headers get 403.
    allowed_hosts: list[str] = Field(default_factory=list, max_length=100)
    #: The runbook's daily health check, ``HH:MM`` UTC; null: off.
    daily_check: str | None = "09:00"
    #: The runbook's weekly review, ``<DAY> HH:MM`` UTC; null: off.
    weekly_review: str | None = "MON 10:00"
    #: The monthly report (SLO, budget, incidents with MTTA/MTTR of the month that ended), on
    #: the *first* such weekday of the month, ``<DAY> HH:MM`` UTC; null: off.
    monthly_report: str | None = "MON 11:00"

    @field_validator("daily_check")
    @classmethod
    def _daily(cls, value: str | None) -> str | None:
        if value is not None:
            parse_time(value)
        return value

    @field_validator("weekly_review", "monthly_report")
    @classmethod
    def _weekly(cls, value: str | None) -> str | None:
        if value is not None:
            parse_weekly(value)
        return value
