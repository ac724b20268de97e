"""Real receivers on 127.0.0.1 for the channel tests: an HTTP recorder, an SMTP server.

The HTTP recorder answers like a webhook/PagerDuty/Slack endpoint and records every request.
It can be told, per upcoming request, to answer with a status (500, 429 + Retry-After, 400…) or
to hang: a hung request is held until released (or a limit) and then the connection is dropped
*without* an answer - the receiver never confirmed it, which is what a timeout means.
``completed`` lists only requests that got a 2xx answer written, i.e. deliveries the receiver
acknowledged.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int | None = None
    completed: bool = False

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class _Plan:
    kind: str  # "status" | "hang" | "echo"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    hang_s: float = 0.0
    body_first: bool = False


class Recorder:
    """Threaded HTTP server recording requests; ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, port: int = 0, status: int = 200, body: bytes = b"ok") -> None:
        self.default = _Plan("status", status, {}, body)
        self.requests: list[Recorded] = []
        self._plans: deque[_Plan] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.hanging = threading.Event()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = Recorded(
                    self.command, self.path, dict(self.headers.items()), body, time.time()
                )
                with recorder._lock:
                    recorder.requests.append(rec)
                    plan = recorder._plans.popleft() if recorder._plans else recorder.default
                if plan.kind == "hang":
                    recorder.hanging.set()
                    recorder._release.wait(plan.hang_s)
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                # Marked before writing: the client may read the answer and the test inspect
                # ``completed`` before this thread runs again.  Undone if the write fails.
                rec.status = plan.status
                rec.completed = 200 <= plan.status < 300
                answer = plan.body
                if plan.kind == "echo":
                    # Like a debugging proxy or a misconfigured gateway: the request echoed.
                    head = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
                    request = f"{self.command} {self.path}\n{head}\n".encode()
                    answer = body + b"\n" + request if plan.body_first else request + body
                try:
                    self.send_response(plan.status)
                    for key, value in plan.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    self.wfile.flush()
                except OSError:
                    rec.completed = False

            do_POST = _handle
            do_GET = _handle
            do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    # --- behaviour ----------------------------------------------------------------------
    def fail(self, times: int, status: int = 500, body: bytes = b"error") -> None:
        with self._lock:
            self._plans.extend(_Plan("status", status, {}, body) for _ in range(times))

    def respond(
        self, status: int, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> None:
        with self._lock:
            self._plans.append(_Plan("status", status, dict(headers or {}), body))

    def echo(self, status: int, times: int = 1, *, body_first: bool = False) -> None:
        """Answer the next ``times`` requests with ``status`` and the request itself as body
        (request line, headers, body; ``body_first``: the body, then the rest)."""
        with self._lock:
            self._plans.extend(_Plan("echo", status, body_first=body_first) for _ in range(times))

    def hang(self, max_s: float = 10.0) -> None:
        with self._lock:
            self._plans.append(_Plan("hang", hang_s=max_s))

    def release(self) -> None:
        self._release.set()

    # --- inspection ---------------------------------------------------------------------
    @property
    def completed(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.completed]

    def completed_keys(self, header: str = "X-Kafkaops-Idempotency-Key") -> list[str | None]:
        return [r.header(header) for r in self.completed]

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


class SmtpRecorder:
    """aiosmtpd server on 127.0.0.1 that requires STARTTLS and AUTH (PLAIN/LOGIN)."""

    def __init__(self, tls_context: Any, username: str, password: str) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[Any] = []
        self.sessions_tls: list[bool] = []
        self.logins: list[str] = []
        recorder = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                recorder.sessions_tls.append(session.ssl is not None)
                recorder.messages.append(envelope)
                return "250 OK"

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> AuthResult:
            if not isinstance(auth_data, LoginPassword):
                return AuthResult(success=False, handled=False)
            ok = auth_data.login.decode() == username and auth_data.password.decode() == password
            if ok:
                recorder.logins.append(auth_data.login.decode())
            return AuthResult(success=ok, handled=False)

        self.port = free_port()
        self.controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=tls_context,
            require_starttls=True,
            auth_require_tls=True,
            authenticator=authenticator,
            auth_exclude_mechanism=["CRAM-MD5"],
        )
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
