"""``kafkaops actions presets|run``: the built-in and configured presets, run through the
command each stands for (dry run first); errors are one line with the documented exit codes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from kafkaops.cli.actions import actions_app


def _run(*args: str):
    return CliRunner().invoke(actions_app, list(args), catch_exceptions=False)


def test_presets_list_and_run(tmp_path) -> None:
    marker = tmp_path / "ran"
    cfg = tmp_path / "k.yaml"
    cfg.write_text(
        "actions:\n  presets:\n"
        f"    touch-it: {{action: command, command: [touch, '{marker}'], description: demo}}\n"
        "    storage-grow-100g: {action: scale_storage, by: 200GiB}\n"
    )
    r = _run("presets", "-c", str(cfg), "--json")
    assert r.exit_code == 0, r.output
    presets = json.loads(r.stdout)
    assert presets["storage-grow-100g"]["runs"] == "kafkaops msk scale storage --by 200GiB"
    assert presets["reboot-rolling"]["runs"] == "kafkaops brokers restart --rolling"
    assert presets["touch-it"]["description"] == "demo"

    r = _run("run", "touch-it", "-c", str(cfg))
    assert r.exit_code == 0 and "dry run: would run touch" in r.stdout and not marker.exists()
    r = _run("run", "touch-it", "-c", str(cfg), "--apply")
    assert r.exit_code == 0, r.output
    assert marker.exists()

    r = _run("run", "no-such", "-c", str(cfg))
    assert r.exit_code == 4 and "actions.presets.no-such: no such preset" in r.stderr
    r = _run("run", "partitions-add-4")
    assert r.exit_code == 3 and "--topic NAME" in r.stderr
    r = _run("run", "storage-grow-20pct")
    assert r.exit_code == 3 and "pass -c kafkaops.yaml --cluster" in r.stderr
