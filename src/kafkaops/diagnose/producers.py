"""The runbook's "Producer Performance Issues", measured on the brokers.

Where a produce request's time goes (Kafka's ``RequestMetrics`` for ``request=Produce``):

* **RequestQueueTimeMs** waiting for a request-handler thread → the broker is saturated
  (``RequestHandlerAvgIdlePercent`` low): fewer, larger requests help, and so do more
  ``num.io.threads`` or brokers;
* **LocalTimeMs** the leader appending to its log → the disk (page cache, I/O wait);
* **RemoteTimeMs** waiting for the followers (``acks=all``) → replication / ISR: a slow or dead
  follower, not the client.  Changing client settings will not fix it;
* **ResponseQueueTimeMs** / **ResponseSendTimeMs** → network threads (``NetworkProcessorAvgIdle
  Percent``) or a client slow to read;
* **ThrottleTimeMs** → a produce quota.

The runbook lists client tuning tips (acks, ``linger.ms``, ``batch.size``, compression,
idempotence, ``max.in.flight``) without saying *when* each applies; here each piece of advice is
tied to the measurement that calls for it, and a cause that is not the client says so.

Why the window mean and not the exporter's percentiles alone: Kafka's histograms keep
percentiles over a decaying ~5 minute reservoir, which blurs a shift that started a minute ago;
``Count`` and ``Mean`` are over the JVM's life, so Δ(Mean·Count) / ΔCount is the exact mean of
the window between two scrapes.  Both are reported.

Sources: the Prometheus JMX exporter scraped directly (MSK Open Monitoring, port 11001; the
sandbox's nodes), here; CloudWatch for MSK without Open Monitoring in
:mod:`kafkaops.diagnose.producers_cloudwatch` (same model and causes).

Why this module is long: the JMX exporter's produce-request families, the window arithmetic
over two scrapes and the cause-to-advice table belong together — each piece of advice is tested
against the measurement that triggers it, and splitting them would separate the two.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from kafkaops.collect.prometheus import (
    BYTES_IN,
    FAILED_PRODUCE_REQUESTS,
    HANDLER_IDLE,
    LEADER_COUNT,
    PRODUCE_REQUESTS,
    UNDER_REPLICATED,
    Scrape,
    counter_increase,
    parse_exposition,
)
from kafkaops.diagnose.settings import ProducerSettings

MESSAGES_IN = "kafka_server_brokertopicmetrics_messagesin_total"
NETWORK_IDLE = "kafka_network_socketserver_networkprocessoravgidlepercent"
THROTTLE = "kafka_server_produce_throttle_time"
#: The components of a produce request's time, in the order a request lives through them.
COMPONENTS = (
    "RequestQueueTimeMs",
    "LocalTimeMs",
    "RemoteTimeMs",
    "ThrottleTimeMs",
    "ResponseQueueTimeMs",
    "ResponseSendTimeMs",
)
TOTAL = "TotalTimeMs"
QUANTILES = ("0.50", "0.99", "0.999")


def _metric(component: str) -> str:
    return f"kafka_network_requestmetrics_{component.lower()}"


# --------------------------------------------------------------------------------- model
@dataclass(frozen=True)
class BrokerProduce:
    """One broker's produce side over the window (None: not measured)."""

    node_id: int
    produce_requests_per_s: float | None = None
    failed_produce_requests_per_s: float | None = None
    bytes_in_per_s: float | None = None
    messages_in_per_s: float | None = None
    #: Exact mean over the window per component (ms), ``TotalTimeMs`` included.
    mean_ms: dict[str, float] = field(default_factory=dict)
    #: TotalTimeMs percentiles from the broker's ~5 min reservoir: {"0.99": ms, …}.
    total_ms_quantiles: dict[str, float] = field(default_factory=dict)
    request_handler_idle_percent: float | None = None
    network_processor_idle_percent: float | None = None
    #: Largest produce throttle time any client sees on this broker (ms).
    throttle_ms: float | None = None
    under_replicated_partitions: int | None = None
    leaders: int | None = None
    error: str | None = None

    @property
    def failed_ratio(self) -> float | None:
        total, failed = self.produce_requests_per_s, self.failed_produce_requests_per_s
        if total is None or failed is None or total <= 0:
            return None
        return failed / total

    @property
    def bytes_per_request(self) -> float | None:
        if not self.produce_requests_per_s or self.bytes_in_per_s is None:
            return None
        return self.bytes_in_per_s / self.produce_requests_per_s

    def dominant(self) -> tuple[str, float] | None:
        """The component holding the largest share of the mean total time, with that share."""
        total = self.mean_ms.get(TOTAL)
        if not total or total <= 0:
            return None
        parts = {c: self.mean_ms[c] for c in COMPONENTS if c in self.mean_ms}
        if not parts:
            return None
        name = max(parts, key=lambda c: parts[c])
        return name, parts[name] / total


@dataclass(frozen=True)
class TopicProduce:
    """One topic's traffic summed over its brokers."""

    topic: str
    bytes_in_per_s: float
    messages_in_per_s: float
    #: None from CloudWatch (MSK publishes no per-topic request rates).
    produce_requests_per_s: float | None = None
    failed_produce_requests_per_s: float | None = None


@dataclass(frozen=True)
class Cause:
    """One diagnosed cause: severity (P1/P2/INFO), where, what was measured, what to do."""

    code: str
    severity: str
    subject: str
    title: str
    evidence: tuple[str, ...]
    advice: tuple[str, ...]
    #: False when the cause is on the brokers: client settings will not fix it.
    client_side: bool


@dataclass(frozen=True)
class ProducerReport:
    cluster: str
    window_s: float
    brokers: tuple[BrokerProduce, ...]
    topics: tuple[TopicProduce, ...]
    causes: tuple[Cause, ...]
    errors: tuple[str, ...] = ()
    #: Where the numbers come from: "prometheus" (JMX exporter) or "cloudwatch".
    source: str = "prometheus"

    @property
    def severity(self) -> str:
        sevs = {c.severity for c in self.causes}
        return "P1" if "P1" in sevs else "P2" if "P2" in sevs else "OK"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["severity"] = self.severity
        for b, src in zip(d["brokers"], self.brokers, strict=True):
            b["failed_ratio"] = src.failed_ratio
            b["bytes_per_request"] = src.bytes_per_request
            dom = src.dominant()
            b["dominant"] = {"component": dom[0], "share": dom[1]} if dom else None
        return d


# ------------------------------------------------------------------------------ analysis
def _rate(prev: Scrape, cur: Scrape, name: str, labels: tuple = ()) -> float | None:
    before = prev.series.get(name, {}).get(labels)
    after = cur.series.get(name, {}).get(labels)
    dt = cur.taken_at - prev.taken_at
    if before is None or after is None or dt <= 0:
        return None
    return counter_increase(before, after) / dt


def _window_mean(prev: Scrape, cur: Scrape, component: str) -> float | None:
    """Δ(Mean·Count)/ΔCount: the exact mean of the requests finished in the window."""
    key = (("request", "Produce"),)
    name = _metric(component)
    c0 = prev.series.get(f"{name}_count", {}).get(key)
    c1 = cur.series.get(f"{name}_count", {}).get(key)
    m0 = prev.series.get(f"{name}_mean", {}).get(key)
    m1 = cur.series.get(f"{name}_mean", {}).get(key)
    if None in (c0, c1, m0, m1) or c1 <= c0:  # type: ignore[operator]
        return None
    return max(0.0, (m1 * c1 - m0 * c0) / (c1 - c0))  # type: ignore[operator]


def broker_produce(node_id: int, prev: Scrape, cur: Scrape) -> BrokerProduce:
    """One broker's numbers from two scrapes of its JMX exporter."""
    means = {}
    for component in (TOTAL, *COMPONENTS):
        value = _window_mean(prev, cur, component)
        if value is not None:
            means[component] = value
    quantiles = {}
    for q in QUANTILES:
        value = cur.series.get(_metric(TOTAL), {}).get(
            tuple(sorted({"request": "Produce", "quantile": q}.items()))
        )
        if value is not None:
            quantiles[q] = value
    throttles = list(cur.series.get(THROTTLE, {}).values())
    handler = cur.value(HANDLER_IDLE)
    network = cur.value(NETWORK_IDLE)
    urp = cur.value(UNDER_REPLICATED)
    leaders = cur.value(LEADER_COUNT)
    return BrokerProduce(
        node_id=node_id,
        produce_requests_per_s=_rate(prev, cur, PRODUCE_REQUESTS),
        failed_produce_requests_per_s=_rate(prev, cur, FAILED_PRODUCE_REQUESTS),
        bytes_in_per_s=_rate(prev, cur, BYTES_IN),
        messages_in_per_s=_rate(prev, cur, MESSAGES_IN),
        mean_ms=means,
        total_ms_quantiles=quantiles,
        request_handler_idle_percent=None if handler is None else 100 * handler,
        network_processor_idle_percent=None if network is None else 100 * network,
        throttle_ms=max(throttles) if throttles else None,
        under_replicated_partitions=None if urp is None else round(urp),
        leaders=None if leaders is None else round(leaders),
    )


def topic_traffic(pairs: Mapping[int, tuple[Scrape, Scrape]]) -> list[TopicProduce]:
    """Per-topic rates summed over brokers, busiest (bytes in) first."""
    sums: dict[str, list[float]] = {}
    names = (BYTES_IN, MESSAGES_IN, PRODUCE_REQUESTS, FAILED_PRODUCE_REQUESTS)
    for prev, cur in pairs.values():
        for i, name in enumerate(names):
            for labels in cur.series.get(name, {}):
                topic = dict(labels).get("topic")
                if not topic:
                    continue
                rate = _rate(prev, cur, name, labels) or 0.0
                sums.setdefault(topic, [0.0] * len(names))[i] += rate
    rows = [TopicProduce(t, *v) for t, v in sums.items()]
    return sorted(rows, key=lambda r: (-r.bytes_in_per_s, -r.messages_in_per_s, r.topic))


_CLIENT_BATCHING = (
    "producer: linger.ms=5-20 and batch.size=65536-262144 so requests carry more records",
    "producer: compression.type=lz4 (or zstd): fewer bytes per request on the wire and disk",
)
_IDEMPOTENT = (
    "producer: enable.idempotence=true with acks=all and max.in.flight.requests.per.connection"
    " <= 5 (retries then neither duplicate nor reorder)",
)


def diagnose(brokers: list[BrokerProduce], settings: ProducerSettings | None = None) -> list[Cause]:
    """Per broker, the causes the measurements support, each with the advice it calls for."""
    s = settings or ProducerSettings()
    causes: list[Cause] = []
    for b in brokers:
        if b.error:
            continue
        subject = f"broker {b.node_id}"
        total = b.mean_ms.get(TOTAL)
        p99 = b.total_ms_quantiles.get("0.99")
        dom = b.dominant()
        latency = f"produce mean {total:.1f} ms over the window" if total is not None else ""
        if p99 is not None:
            latency += f", p99 {p99:.0f} ms (~5 min reservoir)"
        if total is not None and total >= s.slow_mean_ms and dom and dom[1] >= s.dominant_share:
            name, share = dom
            ev = (latency, f"{name} is {share:.0%} of it ({b.mean_ms[name]:.1f} ms)")
            if name == "RemoteTimeMs":
                urp = b.under_replicated_partitions
                causes.append(
                    Cause(
                        "remote_time",
                        "P2",
                        subject,
                        "produce waits for followers (replication / ISR), not the client",
                        (*ev, f"under-replicated partitions on this broker: {urp}"),
                        (
                            "acks=all waits until every in-sync follower has the records: find "
                            "the slow or dead follower (kafkaops health; under-replicated "
                            "partitions; broker logs)",
                            "check replica.lag.time.max.ms and follower fetch (num.replica."
                            "fetchers, network between brokers)",
                            "client settings will not fix this; acks=1 would hide it at the "
                            "cost of durability",
                        ),
                        False,
                    )
                )
            elif name == "RequestQueueTimeMs":
                causes.append(
                    Cause(
                        "queue_time",
                        "P2",
                        subject,
                        "produce requests wait for a request-handler thread (broker saturated)",
                        (*ev, f"request handler idle {_pct(b.request_handler_idle_percent)}"),
                        (
                            "broker: raise num.io.threads if CPU allows, else add brokers",
                            *_CLIENT_BATCHING,
                        ),
                        False,
                    )
                )
            elif name == "LocalTimeMs":
                causes.append(
                    Cause(
                        "local_time",
                        "P2",
                        subject,
                        "the leader's log append is slow (disk)",
                        ev,
                        (
                            "broker: check disk I/O wait and throughput (MSK: provisioned "
                            "storage throughput); avoid log.flush.* overrides",
                            "compression.type=lz4 on the producer writes fewer bytes",
                        ),
                        False,
                    )
                )
            elif name == "ThrottleTimeMs":
                causes.append(
                    Cause(
                        "throttled",
                        "P2",
                        subject,
                        "producers are throttled by a quota",
                        (*ev, f"largest client throttle {b.throttle_ms} ms"),
                        (
                            "kafka-configs --describe --entity-type clients/users: raise the "
                            "producer_byte_rate quota or spread the load",
                        ),
                        True,
                    )
                )
            else:
                causes.append(
                    Cause(
                        "response_time",
                        "P2",
                        subject,
                        "responses wait for network threads or a slow-reading client",
                        (*ev, f"network processor idle {_pct(b.network_processor_idle_percent)}"),
                        (
                            "broker: raise num.network.threads if its idle is low; otherwise "
                            "check the client host (CPU, GC) and the network",
                        ),
                        False,
                    )
                )
        elif total is not None and total >= s.slow_mean_ms:
            causes.append(
                Cause(
                    "slow",
                    "P2",
                    subject,
                    "produce requests are slow, no single component dominates",
                    (latency, _components(b)),
                    ("see the components above",),
                    False,
                )
            )
        idle = b.request_handler_idle_percent
        if (
            idle is not None
            and idle < s.idle_percent
            and not any(c.code == "queue_time" and c.subject == subject for c in causes)
        ):
            causes.append(
                Cause(
                    "handler_saturated",
                    "P2",
                    subject,
                    "request handler threads are busy",
                    (f"idle {idle:.0f}%",),
                    ("broker: num.io.threads, or fewer larger requests:", *_CLIENT_BATCHING),
                    False,
                )
            )
        net = b.network_processor_idle_percent
        if net is not None and net < s.idle_percent:
            causes.append(
                Cause(
                    "network_saturated",
                    "P2",
                    subject,
                    "network processor threads are busy",
                    (f"idle {net:.0f}%",),
                    ("broker: raise num.network.threads",),
                    False,
                )
            )
        ratio = b.failed_ratio
        if ratio is not None and ratio >= s.failed_ratio:
            causes.append(
                Cause(
                    "failed_produce",
                    "P1" if ratio >= 0.1 else "P2",
                    subject,
                    "produce requests fail",
                    (
                        f"{b.failed_produce_requests_per_s:.2f}/s of "
                        f"{b.produce_requests_per_s:.2f}/s ({ratio:.1%})",
                    ),
                    (
                        "read the producers' error callbacks/logs: NOT_ENOUGH_REPLICAS (ISR < "
                        "min.insync.replicas), RECORD_TOO_LARGE, authorization",
                        *_IDEMPOTENT,
                        "retries: keep the default (unbounded) and bound delivery.timeout.ms",
                    ),
                    True,
                )
            )
        per_request = b.bytes_per_request
        if (
            per_request is not None
            and per_request < s.small_request_bytes
            and (b.produce_requests_per_s or 0) >= s.small_requests_per_s
        ):
            causes.append(
                Cause(
                    "small_batches",
                    "INFO",
                    subject,
                    "producers send many small requests (little batching)",
                    (f"{b.produce_requests_per_s:.0f} requests/s averaging {per_request:.0f} B",),
                    _CLIENT_BATCHING,
                    True,
                )
            )
    return causes


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


def _components(b: BrokerProduce) -> str:
    return ", ".join(f"{c} {b.mean_ms[c]:.1f}" for c in COMPONENTS if c in b.mean_ms)


def analyse(
    cluster: str,
    pairs: Mapping[int, tuple[Scrape, Scrape]],
    errors: Mapping[int, str] | None = None,
    settings: ProducerSettings | None = None,
) -> ProducerReport:
    """The report from two scrapes per broker (pure: tests feed it exposition text)."""
    errors = dict(errors or {})
    brokers = [broker_produce(n, *pairs[n]) for n in sorted(pairs)]
    brokers += [BrokerProduce(node_id=n, error=e) for n, e in sorted(errors.items())]
    windows = [cur.taken_at - prev.taken_at for prev, cur in pairs.values()]
    notes = tuple(f"broker {n}: {e}" for n, e in sorted(errors.items()))
    if brokers and not any(b.mean_ms for b in brokers if not b.error):
        notes += (
            "no RequestMetrics Produce series: add the JMX exporter rules of "
            "src/kafkaops/sandbox/jmx_exporter.yaml (or no produce traffic)",
        )
    return ProducerReport(
        cluster=cluster,
        window_s=round(max(windows), 3) if windows else 0.0,
        brokers=tuple(sorted(brokers, key=lambda b: b.node_id)),
        topics=tuple(topic_traffic(pairs)),
        causes=tuple(diagnose(brokers, settings)),
        errors=notes,
    )


# ---------------------------------------------------------------------------- collection
def scrape_twice(
    endpoints: Mapping[int, str],
    *,
    window_s: float,
    timeout_s: float = 5.0,
    progress: Callable[[str], None] | None = None,
    what: str = "",
    transport: httpx.BaseTransport | None = None,
) -> tuple[dict[int, tuple[Scrape, Scrape]], dict[int, str]]:
    """Two scrapes of every node's exporter, ``window_s`` apart (concurrently, each bounded by
    ``timeout_s``); a node that failed either one is in the errors, one line each."""
    with httpx.Client(timeout=timeout_s, transport=transport) as client:

        def scrape(url: str) -> Scrape:
            resp = client.get(url)
            resp.raise_for_status()
            return parse_exposition(resp.text, url=url, taken_at=time.monotonic())

        def round_() -> dict[int, Scrape | str]:
            with ThreadPoolExecutor(max_workers=min(16, max(1, len(endpoints)))) as pool:
                futures = {n: pool.submit(scrape, u) for n, u in endpoints.items()}
                out: dict[int, Scrape | str] = {}
                for n, f in futures.items():
                    try:
                        out[n] = f.result(timeout=timeout_s * 2)
                    except Exception as exc:  # one line per broker, never a traceback
                        out[n] = f"{endpoints[n]}: {type(exc).__name__}: {exc}"[:300]
                return out

        first = round_()
        if progress:
            progress(f"measuring {what or 'metrics'} for {window_s:g} s …")
        time.sleep(window_s)
        second = round_()
    pairs: dict[int, tuple[Scrape, Scrape]] = {}
    errors: dict[int, str] = {}
    for n in endpoints:
        a, b = first[n], second[n]
        if isinstance(a, Scrape) and isinstance(b, Scrape):
            pairs[n] = (a, b)
        else:
            errors[n] = b if isinstance(b, str) else str(a)
    return pairs, errors


def measure(
    cluster: str,
    endpoints: Mapping[int, str],
    *,
    window_s: float,
    timeout_s: float = 5.0,
    settings: ProducerSettings | None = None,
    progress: Callable[[str], None] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ProducerReport:
    """Scrape every broker's JMX exporter twice, ``window_s`` apart, and analyse."""
    pairs, errors = scrape_twice(
        endpoints,
        window_s=window_s,
        timeout_s=timeout_s,
        progress=progress,
        what="produce traffic",
        transport=transport,
    )
    return analyse(cluster, pairs, errors, settings)
