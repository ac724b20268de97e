"""The one alembic migration history for every kafkaops table (driven by store/migrate.py)."""
