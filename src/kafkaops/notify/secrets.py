"""Secrets for channels (routing keys, webhook URLs, SMTP passwords): from env vars or files.

Why read at send time: a secret rotated on disk (Kubernetes secret volume, Vault agent) is
picked up without a restart, and ``config-check`` works on a laptop that has none of them.
Values are returned as ``SecretStr`` and only unwrapped at the moment they are handed to the
library; error messages name the variable or file, never the value.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import SecretStr

from kafkaops.core.secrets import ENV_NAME, check_env_name
from kafkaops.notify.errors import PermanentDelivery

__all__ = ["ENV_NAME", "check_env_name", "read_secret"]


def read_secret(env: str | None, file: Path | None, what: str) -> SecretStr:
    """The secret from ``env`` (preferred) or ``file``; :class:`PermanentDelivery` if missing.

    ``what`` names the config field for the error (``channels.slack.webhooks.#ops.url_env``).
    A missing secret is a configuration problem, so it is permanent: retrying for a day would
    only hide it.
    """
    if env is not None:
        value = os.environ.get(env, "").strip()
        if not value:
            raise PermanentDelivery(f"{what}: environment variable {env} is not set or empty")
        return SecretStr(value)
    if file is not None:
        path = file.expanduser()
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise PermanentDelivery(f"{what}: cannot read {path}: {why}") from None
        if not value:
            raise PermanentDelivery(f"{what}: {path} is empty")
        return SecretStr(value)
    raise PermanentDelivery(f"{what}: no secret configured (give an _env or a _file)")
