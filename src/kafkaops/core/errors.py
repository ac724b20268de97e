"""Errors a user can act on: one line, no traceback.

Both faces (CLI, service) catch :class:`KafkaopsError`, print ``str(exc)`` and stop (the CLI
with exit code 3).  Anything else escaping is a bug and may show a traceback.  So the message
must stand on its own: say *what* is wrong, *where* (file, field, host) and, when it is not
obvious, *how to fix it* — and never contain a secret.
"""

from __future__ import annotations

from pathlib import Path

#: pydantic error type for problems whose offending value must not be echoed (a password).
SECRET_ERROR = "secret_value"


class KafkaopsError(Exception):
    """Base for errors shown to the user as exactly one line."""

    #: Process exit code the CLI uses for every user-facing error.
    exit_code: int = 3

    def __init__(self, message: str) -> None:
        # Messages often embed text from elsewhere (YAML parser, broker errors): keep the
        # promise of one line whatever they contain.
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        """The one-line, user-facing text (same as ``str(exc)``)."""
        return str(self.args[0]) if self.args else ""


class ConfigError(KafkaopsError):
    """A configuration file, field or referenced secret is wrong or missing.

    Format: ``config error: <file>: <dotted.field.path>: <problem>`` — the file and field are
    left out only when there is none (e.g. built-in defaults).
    """

    @classmethod
    def at(cls, source: str | Path | None, field: str | None, problem: str) -> ConfigError:
        """Build the standard message from its parts; ``None`` parts are omitted."""
        parts = ["config error", *(str(p) for p in (source, field) if p), problem]
        return cls(": ".join(parts))


class ClusterUnreachable(KafkaopsError):
    """No broker of the cluster answered within the configured timeouts."""


class SandboxError(KafkaopsError):
    """The local sandbox cluster could not be set up, started or controlled."""
