"""One redaction function for every text that leaves the process or is stored.

Why: channels quote receiver answers in their errors (the first 200 characters of a 5xx body
help an on-call engineer), and a receiver or a proxy that echoes the request puts the PagerDuty
routing key, the Slack webhook path or the HMAC secret into that body - and from there into the
log, ``outbox_messages.last_error`` and ``kafkaops outbox list --json``.  Quoting nothing would
lose the useful part, so the secrets are cut out instead.

Two layers use :func:`redact`:

* each channel, with the secrets it just used (it knows them at send time), *before* the body
  is cut to its excerpt - a secret cut in half at the excerpt's end would no longer match;
* :class:`Redactor` - the dispatcher before it logs or stores an error and the outbox when it
  stores or lists one - with every secret configured in ``channels:`` (read at call time, like
  the channels do, so a rotated secret is covered too).

Secrets: routing keys, webhook URLs (Slack's and the ``url_env``/``url_file`` webhooks') with
their paths, path segments and queries, HMAC secrets and the SMTP password.  SNS topic ARNs are
identifiers, not secrets.  Each value is also matched in the spellings an echo may use: JSON
with escaped slashes and percent-encoded.  Values shorter than :data:`MIN_SECRET` characters
are not matched: replacing every ``a`` of a text would destroy it, and such a value protects
nothing anyway.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from kafkaops.notify.settings import ChannelsSettings

MARK = "<redacted>"
#: Shortest value that is redacted (see the module doc).
MIN_SECRET = 4
#: Shortest URL path segment treated as secret on its own (Slack's ``T…``/``B…``/token parts).
_MIN_SEGMENT = 8


def _variants(value: str) -> set[str]:
    out = {value, value.replace("/", "\\/"), quote(value, safe=""), quote(value, safe="/")}
    return {v for v in out if len(v) >= MIN_SECRET}


def url_parts(url: str) -> set[str]:
    """A secret URL and the parts of it an echo may quote alone: path, long segments, query."""
    parts = {url}
    try:
        split = urlsplit(url)
    except ValueError:
        return parts
    if split.path not in ("", "/"):
        parts.add(split.path)
        parts.update(seg for seg in split.path.split("/") if len(seg) >= _MIN_SEGMENT)
    if split.query:
        parts.add(split.query)
    return parts


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret (in every spelling of :func:`_variants`) replaced by MARK.

    Longest first, so a URL is replaced whole before its path could leave the host behind.
    """
    values: set[str] = set()
    for secret in secrets:
        if secret and len(secret.strip()) >= MIN_SECRET:
            values |= _variants(secret.strip())
    for value in sorted(values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MARK)
    return text


def _read(env: str | None, file: Path | None) -> str | None:
    """The secret's current value, or None when it is not set/readable (nothing to redact)."""
    if env:
        return os.environ.get(env, "").strip() or None
    if file is not None:
        try:
            return file.expanduser().read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError):
            return None
    return None


class Redactor:
    """Redacts every secret configured in ``channels:`` (values read at each call).

    Called only on error texts (rare), so reading a few environment variables and small files
    per call costs nothing that matters, and a secret rotated on disk is known at once.
    """

    def __init__(self, settings: ChannelsSettings | None) -> None:
        self.settings = settings

    def __repr__(self) -> str:
        return "Redactor()"

    def secrets(self) -> set[str]:
        """The configured secret values and their URL parts (never logged or returned out)."""
        s = self.settings
        if s is None:
            return set()
        found: set[str] = set()
        pd = s.pagerduty
        email = s.email
        plain = [
            _read(pd.routing_key_env, pd.routing_key_file),
            _read(email.password_env, email.password_file),
        ]
        urls = [_read(hook.url_env, hook.url_file) for hook in s.slack.webhooks.values()]
        for hook in s.webhooks.values():
            plain.append(_read(hook.secret_env, hook.secret_file))
            urls.append(_read(hook.url_env, hook.url_file))
        found.update(v for v in plain if v)
        for url in urls:
            if url:
                found |= url_parts(url)
        return found

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        return redact(text, self.secrets())
