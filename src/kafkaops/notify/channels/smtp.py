"""E-mail over SMTP (stdlib ``smtplib``): STARTTLS, AUTH, plain text + HTML.

Why STARTTLS is required by default: the submission port (587) starts in clear text; a server
(or a man in the middle) that does not offer STARTTLS would otherwise get the alert, and the
SMTP password, unencrypted.  With ``starttls: true`` a server without it fails the message
permanently (configuration problem).  The server certificate is verified (system CAs or
``ca_file``).

Error mapping: SMTP 4xx replies, timeouts, refused/dropped connections → retryable; 5xx
replies (unknown recipient, auth failed, message refused) → permanent.

``Message-ID`` is derived from the idempotency key, so a duplicate (at-least-once delivery)
has the same Message-ID and mail clients thread or drop it; the key is also in
``X-Kafkaops-Idempotency-Key``.

Reports (``action == "report"``, :mod:`kafkaops.notify.reports`) are built from the stored
report at send time: HTML with the charts as inline PNG parts (``cid:``), the summary as the
plain-text alternative, the report's JSON attached.
"""

from __future__ import annotations

import hashlib
import html
import json
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate

from kafkaops.core.report_page import RenderedReport
from kafkaops.notify.errors import PermanentDelivery, RetryableDelivery
from kafkaops.notify.message import OutboundMessage, action_lines
from kafkaops.notify.redact import redact
from kafkaops.notify.secrets import read_secret
from kafkaops.notify.settings import EmailSettings

#: Reads a stored report by id (the dispatcher passes the report store of the outbox's database).
ReportLoader = Callable[[str], RenderedReport | None]


def subject(msg: OutboundMessage) -> str:
    if msg.action == "report":
        return f"[kafkaops] {msg.details.get('title') or msg.summary}"
    if msg.action == "notice":
        return str(msg.details.get("subject") or msg.summary)
    return f"[kafkaops] {msg.summary}"


def text_body(msg: OutboundMessage) -> str:
    d = msg.details
    lines = [msg.summary, ""]
    for label in ("cluster",):
        lines.append(f"{label}: {msg.cluster}")
    for label in ("rule", "subject", "value", "threshold", "unit", "incident_id", "fired_at"):
        if d.get(label) not in (None, ""):
            lines.append(f"{label}: {d[label]}")
    if d.get("notice"):
        lines += [f"{k}: {v}" for k, v in d["notice"].items()]
    for title, key in (("Evidence", "evidence"), ("Response", "response")):
        if d.get(key):
            lines += ["", f"{title}:"] + [f"  - {item}" for item in d[key]]
    actions = action_lines(d)
    if actions:
        lines += ["", "Actions:"] + [
            f"  {a}" if a.startswith("  $") else f"  - {a}" for a in actions
        ]
    lines += ["", f"idempotency key: {msg.idempotency_key}"]
    return "\n".join(lines) + "\n"


def html_body(msg: OutboundMessage) -> str:
    d = msg.details
    rows = [("cluster", msg.cluster), ("severity", msg.severity)]
    rows += [
        (k, d[k])
        for k in ("rule", "subject", "value", "threshold", "unit", "incident_id", "fired_at")
        if d.get(k) not in (None, "")
    ]
    if d.get("notice"):
        rows += list(d["notice"].items())
    table = "".join(
        f"<tr><th align='left'>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    parts = [f"<h2>{html.escape(msg.summary)}</h2>", f"<table>{table}</table>"]
    for title, key in (("Evidence", "evidence"), ("Response", "response")):
        if d.get(key):
            items = "".join(f"<li>{html.escape(str(i))}</li>" for i in d[key])
            parts.append(f"<h3>{title}</h3><ul>{items}</ul>")
    actions = action_lines(d)
    if actions:
        items = "".join(
            f"<pre>{html.escape(a[4:])}</pre>" if a.startswith("  $ ")
            else f"<li>{html.escape(a)}</li>"
            for a in actions
        )  # fmt: skip
        parts.append(f"<h3>Actions</h3><ul>{items}</ul>")
    parts.append(f"<p><small>idempotency key: {html.escape(msg.idempotency_key)}</small></p>")
    return "<html><body>" + "".join(parts) + "</body></html>"


def message_id(msg: OutboundMessage, domain: str) -> str:
    digest = hashlib.sha256(msg.idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def report_text(msg: OutboundMessage) -> str:
    """The plain-text part of a report mail: the summary, the link, the key."""
    d = msg.details
    lines = [str(d.get("text") or msg.summary).rstrip(), ""]
    if d.get("url"):
        lines.append(f"Full report: {d['url']}")
    lines.append(f"idempotency key: {msg.idempotency_key}")
    return "\n".join(lines) + "\n"


def add_report(mail: EmailMessage, msg: OutboundMessage, report: RenderedReport) -> None:
    """Text + HTML alternatives, PNG charts related to the HTML, the JSON attached."""
    mail.set_content(report_text(msg))
    page = report.email_html or report.html
    if msg.details.get("url"):
        link = html.escape(str(msg.details["url"]), quote=True)
        page = page.replace(
            "<body>", f'<body>\n<p><a href="{link}">Open this report on the dashboard</a></p>', 1
        )
    mail.add_alternative(page, subtype="html")
    html_part: EmailMessage = mail.get_payload()[-1]  # type: ignore[index,assignment]
    if report.email_html:
        for chart in report.charts:
            html_part.add_related(
                chart.png, maintype="image", subtype="png", cid=f"<{chart.content_id}>",
                filename=f"{chart.key}.png", disposition="inline",
            )  # fmt: skip
    name = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in report.report_id)
    mail.add_attachment(
        json.dumps(report.data, indent=1, default=str).encode(),
        maintype="application", subtype="json", filename=f"{name}.json",
    )  # fmt: skip


class EmailChannel:
    def __init__(
        self, settings: EmailSettings, timeout_s: float, reports: ReportLoader | None = None
    ) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self.reports = reports

    def _report(self, msg: OutboundMessage) -> RenderedReport:
        report_id = str(msg.details.get("report_id") or "")
        found = self.reports(report_id) if self.reports is not None else None
        if found is None:
            raise PermanentDelivery(
                f"report {report_id!r} is not in the report store (pruned, or queued on "
                "another database)"
            )
        return found

    def __repr__(self) -> str:
        return f"EmailChannel(host={self.settings.host!r}, port={self.settings.port})"

    def recipients(self, target: str) -> list[str]:
        return list(self.settings.to.get(target) or ([target] if "@" in target else []))

    def build(self, msg: OutboundMessage) -> EmailMessage:
        s = self.settings
        to = self.recipients(msg.target)
        if not to:
            raise PermanentDelivery(
                f"email target {msg.target!r} is not an address and not in channels.email.to"
            )
        mail = EmailMessage()
        mail["Subject"] = " ".join(subject(msg).split())[:250]
        mail["From"] = s.from_addr
        mail["To"] = ", ".join(to)
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = message_id(msg, s.from_addr.rpartition("@")[2] or "kafkaops")
        mail["X-Kafkaops-Idempotency-Key"] = msg.idempotency_key
        mail["X-Kafkaops-Severity"] = msg.severity
        if msg.action == "report":
            add_report(mail, msg, self._report(msg))
            return mail
        mail.set_content(text_body(msg))
        mail.add_alternative(html_body(msg), subtype="html")
        return mail

    def _tls_context(self) -> ssl.SSLContext:
        ca = self.settings.ca_file
        try:
            return ssl.create_default_context(cafile=str(ca.expanduser()) if ca else None)
        except (OSError, ssl.SSLError) as exc:
            raise PermanentDelivery(f"channels.email.ca_file: cannot load {ca}: {exc}") from None

    def send(self, msg: OutboundMessage) -> None:
        s = self.settings
        if not s.host:
            raise PermanentDelivery("channels.email.host is not configured")
        mail = self.build(msg)
        password = None
        if s.username:
            password = read_secret(s.password_env, s.password_file, "channels.email.password")
        where = f"smtp {s.host}:{s.port}"
        hidden = (password.get_secret_value(),) if password is not None else ()
        try:
            with smtplib.SMTP(s.host, s.port, timeout=self.timeout_s) as smtp:
                smtp.ehlo()
                if s.starttls:
                    if not smtp.has_extn("starttls"):
                        raise PermanentDelivery(
                            f"{where} does not offer STARTTLS (required by channels.email)"
                        )
                    smtp.starttls(context=self._tls_context())
                    smtp.ehlo()
                if s.username and password is not None:
                    smtp.login(s.username, password.get_secret_value())
                refused = smtp.send_message(mail)
                if refused:
                    raise PermanentDelivery(f"{where} refused recipients {sorted(refused)}")
        except PermanentDelivery:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentDelivery(f"{where}: authentication failed ({exc.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            text = f"{where}: recipients refused {sorted(exc.recipients)} ({sorted(codes)})"
            if all(400 <= c < 500 for c in codes):
                raise RetryableDelivery(text) from None
            raise PermanentDelivery(text) from None
        except smtplib.SMTPResponseException as exc:
            text = f"{where}: {exc.smtp_code} {_reply(exc.smtp_error, hidden)}"
            if 400 <= exc.smtp_code < 500:
                raise RetryableDelivery(text) from None
            raise PermanentDelivery(text) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentDelivery(f"{where}: {redact(str(exc), hidden)}") from None
        except ssl.SSLCertVerificationError as exc:
            raise PermanentDelivery(
                f"{where}: TLS certificate not trusted ({exc.reason})"
            ) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            text = redact(str(exc), hidden)
            raise RetryableDelivery(f"{where}: {type(exc).__name__}: {text}") from None


def _reply(raw: bytes | str, hidden: tuple[str, ...]) -> str:
    """The server's reply, the password removed before it is cut (a server may echo AUTH)."""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(redact(text, hidden).split())[:200]
