"""Notification delivery: channel-independent messages, a persistent outbox, channels.

Flow: the incident core decides (``Notification``, ``IncidentAction``, ``MaintenanceNotice``)
→ :mod:`.message` builders turn each decision into :class:`OutboundMessage` s (one per channel)
→ :meth:`Outbox.enqueue` stores them (idempotent) → :class:`Dispatcher` claims due messages and
sends them through :mod:`.channels` (PagerDuty, Slack, e-mail, SNS, webhook, Alertmanager),
retrying with backoff.  Delivery is at least once; receivers deduplicate by key.
"""

# Nothing is imported here on purpose: ``kafkaops.config`` imports ``notify.settings`` and every
# CLI command loads the config, so this package must not pull in httpx, boto3 or SQLAlchemy.
