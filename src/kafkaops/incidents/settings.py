"""The ``incidents:`` section of the kafkaops config: everything the incident core is tuned by.

Why one model grouping the pure core's own models (instead of new copies of their fields): the
alert policy, escalation matrix, contacts, routing table and windows are already validated
pydantic models in :mod:`kafkaops.incidents`; the config must accept exactly what they accept,
so it embeds them.  Every default is the runbook's, so an absent ``incidents:`` section means
"behave as the runbook says" and :func:`settings_from_config` can return defaults for configs
written before the section existed.

Durations here are seconds in fields named ``*_s`` - the convention of the pure core models
(``for_s``, ``after_s``, ``duration_s``) this section embeds; one section, one convention.
Contacts carry placeholders only: real phone numbers belong in the operator's config file, not
in source control.

Documented field by field in ``incidents.example.yaml`` next to this module.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from kafkaops.incidents.alerts import AlertPolicy
from kafkaops.incidents.incident import Contacts, EscalationPolicy
from kafkaops.incidents.notices import DEFAULT_CONTACT, DEFAULT_SERVICES, NOTICE_LEAD
from kafkaops.incidents.routing import RoutingConfig
from kafkaops.incidents.silences import Silence
from kafkaops.incidents.windows import (
    AdHocWindow,
    PositiveSeconds,
    RecurringWindow,
    Window,
    default_windows,
)

EXAMPLE_PATH = Path(__file__).with_name("incidents.example.yaml")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MaintenanceSettings(_Model):
    """Maintenance windows (runbook "Maintenance Window Schedule") and their notices.

    ``windows`` replaces the runbook schedule as a whole when given: a shop that moved its
    daily window must not keep the old one by accident through a merge.
    """

    #: Recurring windows; default: the runbook's daily, weekly and monthly (first Sunday), UTC.
    windows: tuple[RecurringWindow, ...] = Field(default_factory=default_windows)
    #: One-off planned windows known when the config is written.  Emergency windows and
    #: windows created from the CLI live in the incident store, not here.
    adhoc: tuple[AdHocWindow, ...] = ()
    #: Standing silences (label matchers with a start and end).
    silences: tuple[Silence, ...] = ()
    #: A P0 still pages during maintenance: a window is for expected noise, not an outage.
    p0_pages_during_maintenance: bool = True
    #: Scheduled notices go out this long before a window starts (runbook: 24 hours).
    notice_lead_s: PositiveSeconds = Field(
        default=NOTICE_LEAD.total_seconds(),
        validation_alias=AliasChoices("notice_lead", "notice_lead_s"),
    )
    #: ``services_affected`` and ``contact`` of the runbook's maintenance-notice.json.
    services_affected: tuple[str, ...] = DEFAULT_SERVICES
    contact: str = DEFAULT_CONTACT
    #: How long ``maintenance start-emergency`` mutes when no ``--duration`` is given.
    emergency_duration_s: PositiveSeconds = Field(
        default=2 * 3600.0,
        validation_alias=AliasChoices("emergency_duration", "emergency_duration_s"),
    )

    @property
    def notice_lead(self) -> timedelta:
        return timedelta(seconds=self.notice_lead_s)

    def all_windows(self) -> tuple[Window, ...]:
        """Every window and silence from the config (the store adds the CLI-made ones)."""
        return (*self.windows, *self.adhoc, *self.silences)


class IncidentSettings(_Model):
    """The config's ``incidents:`` section; defaults are the runbook."""

    #: How long a finding must persist before it pages, and flap hysteresis.
    alerts: AlertPolicy = AlertPolicy()
    #: The runbook's "Incident Escalation Matrix" (15 min → P1, 30 min → P0, 1 h, 2 h).
    escalation: EscalationPolicy = EscalationPolicy()
    #: The runbook's "Escalation Contacts" tiers (placeholders by default).
    contacts: Contacts = Contacts()
    #: Channels per severity (runbook "Notification Method").
    routing: RoutingConfig = RoutingConfig()
    maintenance: MaintenanceSettings = MaintenanceSettings()


DEFAULT_SETTINGS = IncidentSettings()


def settings_from_config(cfg: Any) -> IncidentSettings:
    """The incident settings of a loaded config, or the runbook defaults.

    Accepts the main ``Config`` whether or not it has an ``incidents`` attribute yet, an
    ``IncidentSettings`` itself, a plain mapping (``incidents:`` as parsed YAML) or ``None``,
    so callers need not know which version of the config model they hold.
    """
    if cfg is None:
        return DEFAULT_SETTINGS
    if isinstance(cfg, IncidentSettings):
        return cfg
    if isinstance(cfg, dict):
        return IncidentSettings.model_validate(cfg)
    section = getattr(cfg, "incidents", None)
    if section is None:
        return DEFAULT_SETTINGS
    if isinstance(section, IncidentSettings):
        return section
    if isinstance(section, BaseModel):
        return IncidentSettings.model_validate(section.model_dump())
    return IncidentSettings.model_validate(section)
