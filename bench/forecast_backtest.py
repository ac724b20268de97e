"""Rolling-origin backtest of the capacity forecaster against ``predict_linear`` (the peer).

Synthetic series with known truth (see ``kafkaops.capacity.backtest``): linear growth, growth +
weekly seasonality, retention plateau, step change, noisy saw-tooth — and, with ``--record``,
a series recorded from a real sandbox broker (time-compressed: a topic with tiny segments and a
short retention under a producer whose rate grows, so the broker's log dir is a real saw-tooth;
each ``--day-seconds`` of recording is one "day").

    .venv/bin/python bench/forecast_backtest.py                      # synthetic, ~20 s
    .venv/bin/python bench/forecast_backtest.py --record --minutes 12 # + a sandbox recording

Prints a Markdown table (appended by hand to bench/README.md) and writes
bench/results/forecast-backtest.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from kafkaops.capacity.backtest import (
    CAPACITY,
    HOURS,
    SERIES,
    Score,
    Series,
    _judge,
    _judge_values,
    backtest,
)
from kafkaops.capacity.forecast import fit_trend, predict_linear

RESULTS = Path(__file__).resolve().parent / "results"


def _fmt(v: float | None, unit: str = "%") -> str:
    return "-" if v is None else f"{v:.1f}{unit}"


def table(scores: list[Score]) -> str:
    lines = [
        "| series | forecaster | days-to-full error @30 d (n) | 80 % interval coverage (n) "
        "| fill day in interval | false fills (plateau) |",
        "|---|---|---|---|---|---|",
    ]
    for s in scores:
        lines.append(
            f"| {s.series} | {s.name} | {_fmt(s.mape_30d)} ({len(s.errors_30d)}) "
            f"| {_fmt(s.value_coverage)} ({s.value_judged}) | {_fmt(s.coverage)} "
            f"| {_fmt(s.false_fill_rate)} |"
        )
    return "\n".join(lines)


def record_sandbox(minutes: float, sample_s: float, out: Path) -> Path:
    """Record one broker's log-dir bytes from a private sandbox under a growing producer."""
    import shutil
    import tempfile

    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    from kafkaops.collect.snapshot import collect_snapshot
    from kafkaops.sandbox.cluster import Sandbox

    root = Path(tempfile.mkdtemp(prefix="kafkaops-fbench-"))
    box = Sandbox(root)
    box.up(brokers=1, controllers=1, base_port=int(_env("KAFKAOPS_BENCH_PORT", "35092")),
           heap_mb=256, jmx_exporter=False, node_exporter=False,
           extra_broker_config={"log.retention.check.interval.ms": "5000",
                                "log.segment.delete.delay.ms": "1000"})  # fmt: skip
    try:
        bootstrap = box.bootstrap()
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        topic = "fbench"
        # A segment every 5 s, 60 s retention, checked every 5 s: deletion makes a saw-tooth
        # (Kafka 4 refuses segment.bytes under 1 MiB, so segments roll by time).
        admin.create_topics([NewTopic(topic, 1, 1, topic_configs={
            "segment.ms": "5000", "retention.ms": "60000",
            "file.delete.delay.ms": "1000"})])  # fmt: skip
        admin.close()
        producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        payload = b"x" * 512
        samples = []
        start = time.monotonic()
        next_sample = start
        while (elapsed := time.monotonic() - start) < minutes * 60:
            # Rate grows linearly: 20 → 120 records/s over the recording.
            rate = 20 + 100 * elapsed / (minutes * 60)
            for _ in range(max(1, int(rate * 0.1))):
                producer.send(topic, payload)
            time.sleep(0.1)
            if time.monotonic() >= next_sample:
                producer.flush()
                snap = collect_snapshot("fbench", {"bootstrap_servers": bootstrap})
                used = sum(d.used_bytes for d in snap.log_dirs if not d.error)
                samples.append((round(time.monotonic() - start, 2), used))
                next_sample += sample_s
        producer.close()
    finally:
        box.down()
        shutil.rmtree(root, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(f"{t},{v}" for t, v in samples) + "\n")
    return out


def _env(name: str, default: str) -> str:
    import os

    return os.environ.get(name, default)


def recorded_backtest(path: Path, day_seconds: float) -> list[Score]:
    """The recorded series, resampled to HOURS samples per "day"; capacity = the peak reached
    in the last fifth of the recording (so the truth is known), origins over the rest."""
    rows = [tuple(map(float, line.split(","))) for line in path.read_text().split()]
    step = day_seconds / HOURS
    n = int(rows[-1][0] // step)
    samples, j = [], 0
    for h in range(n):
        t = h * step
        while j + 1 < len(rows) and rows[j + 1][0] <= t:
            j += 1
        samples.append((h / HOURS, rows[j][1]))
    days = n // HOURS
    peak = max(v for _, v in samples[: days * HOURS])
    scale = CAPACITY / (peak * 1.0001)
    # Scale so the final peak sits just under capacity; capacity is then crossed at the
    # last days — an earlier "capacity" is set at 90 % of it to have a crossing to predict.
    series = Series("sandbox", tuple((t, v * scale / 0.9) for t, v in samples), days)
    ours, peer = Score("kafkaops", "sandbox", []), Score("predict_linear", "sandbox", [])
    for origin in range(10, days - 2):
        fill = series.true_fill_day(origin)
        if fill is None or series.true_fill_day(0) != fill:
            continue
        truth = fill - (origin - 1)
        fit = fit_trend(series.daily_max(origin, 60))
        _judge(ours, fit, truth, origin - 1, 0.0, 90)
        _judge_values(ours, fit, series, origin - 1)
        first = max(0, origin - 30) * HOURS
        raw = list(series.samples[first : origin * HOURS])
        pfit = predict_linear(raw)
        _judge(peer, pfit, truth, origin - 1, raw[-1][0] - (origin - 1), 90)
        _judge_values(peer, pfit, series, origin - 1)
    # On a short recording the "30-day" bucket is nearly empty: report every origin whose
    # truth is at least 7 days out instead.
    for sc, fitter in ((ours, "ours"), (peer, "peer")):
        sc.errors_30d = _all_errors(series, fitter, days)
    return [ours, peer]


def _all_errors(series: Series, fitter: str, days: int) -> list[float]:
    errs = []
    for origin in range(10, days - 2):
        fill = series.true_fill_day(origin)
        if fill is None or series.true_fill_day(0) != fill:
            continue
        truth = fill - (origin - 1)
        if truth < 7:
            continue  # a relative error on a 1-3 day truth is noise, not skill
        if fitter == "ours":
            fit = fit_trend(series.daily_max(origin, 60))
            shift = 0.0
        else:
            raw = list(series.samples[max(0, origin - 30) * HOURS : origin * HOURS])
            fit = predict_linear(raw)
            shift = raw[-1][0] - (origin - 1) if raw else 0.0
        c = fit.crossing(CAPACITY, 90) if hasattr(fit, "crossing") else None
        pred = None if c is None or c.days is None else math.ceil(c.days + shift - 1e-9)
        errs.append(1.0 if pred is None else abs(pred - truth) / truth)
    return errs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--record", action="store_true", help="also record and test a sandbox")
    ap.add_argument("--recorded", type=Path, help="a recording made earlier (t_s,bytes CSV)")
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--day-seconds", type=float, default=20.0)
    args = ap.parse_args()
    t0 = time.monotonic()
    scores = backtest(SERIES, seeds=tuple(range(args.seeds)))
    recorded = args.recorded
    if args.record:
        recorded = record_sandbox(args.minutes, args.day_seconds / 10,
                                  RESULTS / "forecast-sandbox-recording.csv")  # fmt: skip
    if recorded:
        scores += recorded_backtest(recorded, args.day_seconds)
    print(table(scores))
    print(f"\n({time.monotonic() - t0:.0f} s, {args.seeds} seeds per synthetic series)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "forecast-backtest.json").write_text(
        json.dumps([s.to_dict() for s in scores], indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
