"""Layer 5: the runbook's scheduled jobs (daily check, capacity check, backup check, weekly
review), one mechanism for the service's scheduler and ``kafkaops jobs``: cron schedules (UTC),
every run recorded with status, duration and output, claimed so that one instance runs it when
several share a PostgreSQL store, and a late run caught up once."""
