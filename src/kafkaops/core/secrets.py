"""Secret references in settings: the *name* of an environment variable, never the value.

Shared by every settings model that points at a secret (SASL passwords, channel URLs and
routing keys, the API token): a pasted secret is refused, and the refusal does not echo it.
"""

from __future__ import annotations

import re

from pydantic_core import PydanticCustomError

from kafkaops.core.errors import SECRET_ERROR

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_env_name(value: str | None) -> str | None:
    """Validator helper: an env var *name*, so a pasted secret is refused (and not echoed)."""
    if value is not None and not ENV_NAME.match(value):
        raise PydanticCustomError(
            SECRET_ERROR,
            "must be the name of an environment variable (e.g. SLACK_WEBHOOK_URL), "
            "not the secret itself",
        )
    return value
