"""Where kafkaops keeps its state: one SQLAlchemy URL (SQLite file or PostgreSQL)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from kafkaops.core.errors import SECRET_ERROR


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(_Model):
    """Where history (offsets, lag) is kept: an SQLite file or a PostgreSQL database."""

    #: SQLAlchemy URL, e.g. sqlite:///var/lib/kafkaops/history.db or
    #: postgresql+psycopg://kafkaops@db:5432/kafkaops (password via PGPASSWORD or .pgpass).
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if "@" in value and ":" in value.split("@")[0].split("//")[-1]:
            # Checked first: the message must not repeat a URL that holds a password.
            raise PydanticCustomError(
                SECRET_ERROR, "put the database password in PGPASSWORD or ~/.pgpass, not the URL"
            )
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError(f"{value!r} is not an sqlite:// or postgresql+psycopg:// URL")
        return value
