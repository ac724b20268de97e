"""Runs the service: uvicorn in the main thread, the watch loop and the scheduler in threads.

Why threads and not asyncio tasks: the collector, the store and the channels are blocking code
(kafka-python, SQLAlchemy, httpx sync) shared with the CLI; a thread runs them unchanged while
the event loop keeps answering requests — including when a cluster's collection hangs until its
timeout.

Shutdown (SIGINT, SIGTERM, or ``--once-for`` elapsed): uvicorn stops accepting and finishes the
requests in flight, then the loop is told to stop and joined, so a cycle that is delivering
notifications finishes them (the outbox would redeliver anything cut off, but a page sent twice
is worse than a shutdown that takes a few seconds).  Exit code 0.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from kafkaops.core.clock import utc_now
from kafkaops.core.errors import KafkaopsError
from kafkaops.core.gc_policy import manage_collector
from kafkaops.core.memory import release_free_memory, tune_malloc

if TYPE_CHECKING:
    import uvicorn

    from kafkaops.core.gc_policy import CycleCollector
    from kafkaops.pipeline.watch import CycleOutcome
    from kafkaops.service.exporter.cache import Exporter
    from kafkaops.service.state import ServiceState

log = logging.getLogger("kafkaops.serve")

#: How long shutdown waits for the loop's current cycle (collection timeouts, deliveries).
LOOP_JOIN_S = 60.0


@dataclass
class ServeOptions:
    config: Path | None = None
    clusters: list[str] | None = None
    bootstrap: str | None = None
    store: str | None = None
    sandbox_dir: Path | None = None
    bind: str | None = None
    port: int | None = None
    interval_s: float | None = None
    once_for: float | None = None


def url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


def build_state(opts: ServeOptions) -> ServiceState:
    """Config, store, watcher (the same wiring as ``kafkaops watch``), token and scheduler."""
    from kafkaops.jobs.store import JobsStore
    from kafkaops.pipeline.runtime import open_watch
    from kafkaops.service.jobs import Scheduler, build_jobs
    from kafkaops.service.state import ServiceState, load_token, token_warning

    runtime, watcher = open_watch(
        opts.config,
        clusters=opts.clusters,
        bootstrap=opts.bootstrap,
        store=opts.store,
        sandbox_dir=opts.sandbox_dir,
        interval_s=opts.interval_s,
    )
    log.info("store: %s (%s)", runtime.store_url.split("@")[-1], runtime.store_origin)
    try:
        settings = runtime.config.service
        token, source = load_token(settings)
        warning = token_warning(token, source)
        if warning:
            log.warning("%s", warning)
        state = ServiceState(
            config=runtime.config,
            watcher=watcher,
            runtime=runtime,
            store_url=runtime.store_url,
            token=token,
            token_source=source,
        )
        jobs = build_jobs(settings, utc_now(), runtime.config)
        state.scheduler = Scheduler(state, JobsStore(runtime.incidents.engine), jobs)
    except BaseException:
        runtime.close()
        raise
    return state


def listen(host: str, port: int) -> socket.socket:
    """Bind before starting anything, so "address in use" is one line and exit 3."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise KafkaopsError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


class _Cycles:
    """The loop's ``on_cycle`` hook: counters, pre-rendered metrics, a log line on change."""

    def __init__(self, state: ServiceState, exporter: Exporter, gc: CycleCollector) -> None:
        self.state, self.exporter, self.gc = state, exporter, gc
        self.last: dict[str, str] = {}

    def __call__(self, outcome: CycleOutcome) -> None:
        self.state.record_cycle(outcome)
        for c in outcome.clusters:
            now = "unreachable" if not c.reachable else c.severity.value
            if self.last.get(c.cluster) != now:
                log.info("%s: %s%s", c.cluster, now, f" ({c.error})" if c.error else "")
                self.last[c.cluster] = now
        try:
            self.exporter.refresh()
        except Exception as exc:  # a render bug must not stop the loop; /metrics retries
            log.error("metrics render failed: %s", type(exc).__name__)
        self.gc.after_cycle()  # one short collection over what this cycle left, then freeze
        release_free_memory()  # the cycle's and the old page's buffers go back to the OS


def _uvicorn_server(state: ServiceState, app: object) -> uvicorn.Server:
    import uvicorn

    from kafkaops.service.protocol import protocol_class

    settings = state.config.service
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        # h11 with a deadline for request heads (slowloris); heads ≤ 16 KiB (h11's default).
        http=protocol_class(settings.header_timeout / 1000),
        # Idle keep-alive connections close after 5 s (uvicorn's default, stated here).
        timeout_keep_alive=5,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=10,
        server_header=False,
    )
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    return uvicorn.Server(config)


def run(opts: ServeOptions, on_started: Callable[[str], None] | None = None) -> int:
    """Serve until a signal or ``once_for``; returns the exit code (0)."""
    from kafkaops.service.app import create_app

    tune_malloc()  # before any thread starts: arenas are per thread
    state = build_state(opts)
    settings = state.config.service
    host = opts.bind or settings.bind
    port = settings.port if opts.port is None else opts.port
    try:
        sock = listen(host, port)
    except BaseException:
        state.runtime.close()
        raise
    app = create_app(state, bind=host)
    server = _uvicorn_server(state, app)
    stop = threading.Event()

    def request_stop(*_: object) -> None:
        stop.set()
        server.should_exit = True

    def on_signal(sig: int, _frame: FrameType | None) -> None:
        log.info("%s: shutting down", signal.Signals(sig).name)
        request_stop()

    # uvicorn swaps in its own handlers while it runs and re-raises the signal afterwards;
    # these catch the re-raised one, so a Ctrl-C ends in exit code 0, not a traceback.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    collector = manage_collector()  # wired: what exists now lives as long as the process
    loop = threading.Thread(
        target=state.watcher.run,
        kwargs={"stop": stop, "on_cycle": _Cycles(state, app.state.exporter, collector)},
        name="kafkaops-watch",
        daemon=True,
    )
    state.loop_alive = loop.is_alive
    jobs = threading.Thread(
        target=state.scheduler.run if state.scheduler else (lambda _s: None),
        args=(stop,),
        name="kafkaops-jobs",
        daemon=True,
    )
    timer = threading.Timer(opts.once_for, request_stop) if opts.once_for else None
    loop.start()
    jobs.start()
    if timer is not None:
        timer.daemon = True
        timer.start()
    url = url_for(host, sock.getsockname()[1])
    if on_started is not None:
        on_started(url)
    try:
        server.run(sockets=[sock])
    finally:
        request_stop()
        if timer is not None:
            timer.cancel()
        loop.join(LOOP_JOIN_S)
        if loop.is_alive():
            log.warning("the watch loop did not stop within %.0fs; exiting anyway", LOOP_JOIN_S)
        jobs.join(5)
        state.close()
        state.runtime.close()
        sock.close()
    return 0


def configure_logging(verbose: bool = False) -> None:
    """One line per event on stderr, UTC timestamps; no tracebacks unless ``verbose``."""
    import time

    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)sZ %(levelname)s %(name)s: %(message)s")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("sqlalchemy", "httpx", "httpcore", "urllib3", "botocore"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not verbose else logging.INFO)
