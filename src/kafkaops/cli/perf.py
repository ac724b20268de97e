"""``kafkaops perf-test``: the runbook's monthly performance benchmark, bounded and compared.

Thin: the plan, the run and the comparison are :mod:`kafkaops.slo.perf`; this resolves the
cluster, applies the command-line bounds (validated like the config), prints progress on stderr
and the result.  Exit codes: 0 ok, 1 a regression against earlier months, 3 refused or failed.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from kafkaops.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_P2,
    ConfigOpt,
    JsonFlag,
    SandboxDir,
    StoreOpt,
    emit_json,
    fail,
    utcnow,
)
from kafkaops.core.errors import KafkaopsError


def _settings(base: Any, overrides: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from kafkaops.slo.settings import PerfTestSettings

    try:  # validated alone (the config's bounds and units), then laid over the config's
        checked = PerfTestSettings.model_validate(overrides)
        return base.model_copy(update={k: getattr(checked, k) for k in overrides})
    except ValidationError as exc:
        e = exc.errors()[0]
        fail(f"--{str(e['loc'][0]).replace('_', '-')}: {e['msg']}")


def perf_test(
    config: ConfigOpt = None,
    cluster: Annotated[str | None, typer.Option("--cluster", help="Cluster in the config.")] = None,
    records: Annotated[
        int | None, typer.Option("--records", help="Records to produce (default: config, 100000).")
    ] = None,
    record_size: Annotated[
        int | None, typer.Option("--record-size", help="Bytes per record (default 1024).")
    ] = None,
    throughput: Annotated[
        int | None,
        typer.Option("--throughput", help="Producer cap, records/s; -1 none (the default)."),
    ] = None,
    max_time: Annotated[
        str | None,
        typer.Option("--max-time", help="Each phase is killed after this (e.g. 60s; default 5m)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the commands and settings; run nothing.")
    ] = False,
    store_url: StoreOpt = None,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Benchmark a cluster with Kafka's own producer and consumer perf tests.

    Writes --records records to a dedicated topic (slo.perf_test.topic, created when missing,
    retention 1 day), reads them back, and records throughput and produce latency percentiles
    in the store; compares with the earlier months and flags a drop of throughput or a rise of
    p99 latency beyond slo.perf_test.regression_percent.  Refused on every configured cluster
    not named in slo.perf_test.allow (the sandbox is always allowed).

    Exit codes: 0 ok, 1 a regression against earlier months, 3 refused or failed.

    Examples:

      kafkaops perf-test --records 20000 --dry-run  # sandbox: show

      kafkaops perf-test --records 20000 --max-time 60s

      kafkaops perf-test -c kafkaops.yaml --cluster staging --json
    """
    from kafkaops.pipeline.health import resolve_target
    from kafkaops.slo.perf import build_plan, compare, refusal, run_plan
    from kafkaops.slo.perf_store import PerfStore

    try:
        target = resolve_target(config_path=config, cluster=cluster, sandbox_root=sandbox_dir)
    except KafkaopsError as exc:
        fail(str(exc))
    overrides = {
        k: v
        for k, v in (("records", records), ("record_size", record_size),
                     ("throughput", throughput), ("max_time", max_time))
        if v is not None
    }  # fmt: skip
    settings = _settings(target.config.slo.perf_test, overrides)
    why = refusal(target.name, settings, sandbox=config is None and target.name == "sandbox")
    if why:
        fail(why)
    try:
        plan = build_plan(target.name, target.client_kwargs, settings)
    except KafkaopsError as exc:
        fail(str(exc))
    if dry_run:
        if as_json:
            emit_json({"dry_run": True, "plan": plan.to_dict()})
        else:
            _print_plan(plan.to_dict())
        raise typer.Exit(int(EXIT_OK))
    url = store_url or target.store_url
    now = utcnow()

    def progress(line: str) -> None:
        if not as_json:
            print(f"  {line}", file=sys.stderr, flush=True)

    print(f"perf-test on {target.name}: {plan.records:,} records of {plan.record_size} B "
          f"to {plan.topic} (at most {plan.max_time_ms / 1000:.0f} s a phase)",
          file=sys.stderr, flush=True)  # fmt: skip
    result = run_plan(plan, target.client_kwargs, now=now, progress=progress)
    if url:
        try:
            store = PerfStore(url)
            try:
                if result.ok:
                    result.detail.update(
                        compare(result, store.runs(target.name), settings.regression_percent)
                    )
                store.record(result)
            finally:
                store.close()
        except (SQLAlchemyError, OSError, ValueError) as exc:
            fail(f"store {url.split('@')[-1]} cannot be written: {type(exc).__name__}")
    regressions = result.detail.get("regressions", [])
    if as_json:
        emit_json({"result": result.to_dict(), "stored": bool(url)})
    else:
        _print_result(result.to_dict(), stored=bool(url))
    if not result.ok:
        if not as_json:
            print(f"error: {result.error}", file=sys.stderr)
        raise typer.Exit(int(EXIT_ERROR))
    raise typer.Exit(int(EXIT_P2 if regressions else EXIT_OK))


def _print_plan(plan: dict[str, Any]) -> None:
    typer.echo(f"Dry run: perf-test on {plan['cluster']} (nothing is written)")
    typer.echo(f"  topic      {plan['topic']} (created when missing)")
    typer.echo(f"  records    {plan['records']:,} x {plan['record_size']} B, throughput "
               f"{'unlimited' if plan['throughput'] < 0 else plan['throughput']}/s, "
               f"max {plan['max_time_s']:.0f} s a phase")  # fmt: skip
    typer.echo(f"  tools      {plan['tools']}")
    props = plan["client_properties"]
    if isinstance(props, dict):
        _wrapped("client", " ".join(f"{k}={v}" for k, v in props.items()))
    else:
        _wrapped("client", f"{props} (slo.perf_test.client_config)")
    for label in ("producer_command", "consumer_command"):
        argv = plan[label]
        # The java classpath and JVM flags are long: show the class and the tool's arguments
        # (--json has the whole argv).
        shown = argv[argv.index("-cp") + 2 :] if "-cp" in argv else argv
        _wrapped(label.split("_")[0], " ".join(shown))


def _wrapped(label: str, text: str) -> None:
    """``label`` then ``text`` wrapped at 80 columns under itself (no word is split)."""
    import textwrap

    lines = textwrap.wrap(text, 80 - 13, break_long_words=False, break_on_hyphens=False)
    for i, line in enumerate(lines or [""]):
        typer.echo(f"  {label if i == 0 else '':<10} {line}")


def _num(v: float | None, unit: str) -> str:
    return "n/a" if v is None else f"{v:,.1f} {unit}"


def _print_result(r: dict[str, Any], *, stored: bool) -> None:
    state = "ok" if r["ok"] else "FAILED"
    typer.echo(f"{r['cluster']}: perf-test {state}, {r['records']:,} records of "
               f"{r['record_size']} B")  # fmt: skip
    typer.echo(f"  topic     {r['topic']}")
    typer.echo(f"  produce   {_num(r['produce_records_per_s'], 'rec/s')}  "
               f"{_num(r['produce_mb_per_s'], 'MB/s')}")  # fmt: skip
    typer.echo(f"  latency   avg {_num(r['latency_avg_ms'], 'ms')}  p50 "
               f"{_num(r['latency_p50_ms'], 'ms')}  p99 {_num(r['latency_p99_ms'], 'ms')}  "
               f"p99.9 {_num(r['latency_p999_ms'], 'ms')}")  # fmt: skip
    typer.echo(f"  consume   {_num(r['consume_records_per_s'], 'rec/s')}  "
               f"{_num(r['consume_mb_per_s'], 'MB/s')}")  # fmt: skip
    d = r["detail"]
    if d.get("baseline_months"):
        typer.echo(f"  baseline  median of {', '.join(d['baseline_months'])}")
        for g in d["regressions"]:
            typer.echo(f"  REGRESSION {g['metric']}: {g['value']:,.1f} vs {g['baseline']:,.1f} "
                       f"({g['change_percent']:+.1f} %)")  # fmt: skip
        if not d["regressions"]:
            typer.echo("  no regression against the earlier months")
    elif r["ok"]:
        typer.echo("  no earlier month to compare with (first benchmark)")
    if not stored:
        typer.echo("  not stored: no store.url (pass --store URL)")


def register(app: typer.Typer) -> None:
    """Add ``perf-test`` to the main CLI."""
    app.command("perf-test")(perf_test)
