"""User-facing errors: one line, no traceback (placeholder; helper-1 owns this file)."""


class KafkaopsError(Exception):
    """Base for errors shown to the user as one line."""


class ConfigError(KafkaopsError):
    pass


class ClusterUnreachable(KafkaopsError):
    pass


class SandboxError(KafkaopsError):
    pass
