"""The one HTML look of kafkaops reports, and a rendered report as stored and delivered.

Why shared: the weekly review, the DR drill and the monthly SLO report are read side by side
(dashboard, mail); they use one page skeleton (self-contained: inline CSS, no script, no
stylesheet, image or font from anywhere else) and one way to place charts.

A page is rendered twice from the same parts: for the browser charts are inline SVG
(``mode="svg"``); for e-mail they are ``<img src="cid:…">`` pointing at PNG parts of the same
mail (``mode="cid"``), because mail clients do not draw SVG.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kafkaops.core.charts import Chart

ChartMode = Literal["svg", "cid"]

#: The weekly review's style, now every report's.  Kept small and inline: mail clients drop
#: ``<link>`` stylesheets and most of ``<style>``; what they drop degrades to plain tables.
STYLE = """\
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;
font-size:13px;text-align:left}
figure.chart{margin:1em 0} figure.chart svg,figure.chart img{max-width:100%;height:auto}
code{font-size:12px;word-break:break-all}
.ok{background:#dfd}.bad{background:#fdd}
.headline td{font-size:15px}
"""

e = html.escape


def figure(chart: Chart, mode: ChartMode) -> str:
    """One chart as a ``<figure class="chart" id="chart-<key>">``."""
    if mode == "cid":
        inner = f'<img src="cid:{e(chart.content_id)}" alt="{e(chart.title)}" width="640">'
    else:
        inner = chart.svg
    return f'<figure class="chart" id="chart-{e(chart.key)}">{inner}</figure>'


def figures(charts: Iterable[Chart], mode: ChartMode) -> str:
    return "".join(figure(c, mode) for c in charts)


def table(head: Sequence[str], rows: Iterable[Sequence[Any]], empty: str = "none") -> str:
    """A plain table; cells are escaped text.  ``empty``: the one row shown when there are none."""
    body = (
        "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
        or f"<tr><td colspan={len(head)}>{e(empty)}</td></tr>"
    )
    return "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + f"</tr>{body}</table>"


def headline_table(headline: Sequence[tuple[str, str]], verdicts: dict[str, bool] | None = None
                   ) -> str:  # fmt: skip
    """Label → value rows; a label in ``verdicts`` is coloured ok (met) or bad (missed)."""
    rows = []
    for label, value in headline:
        ok = (verdicts or {}).get(label)
        cls = "" if ok is None else (' class="ok"' if ok else ' class="bad"')
        rows.append(f"<tr><th>{e(label)}</th><td{cls}>{e(value)}</td></tr>")
    return f'<table class="headline">{"".join(rows)}</table>'


def page(title: str, body: str) -> str:
    """A complete self-contained HTML document: ``body`` is trusted (already escaped) HTML."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f"<title>{e(title)}</title>\n<style>\n{STYLE}</style></head><body>\n"
        f"{body}\n</body></html>\n"
    )


@dataclass(frozen=True)
class RenderedReport:
    """A report ready to store and deliver; built by each report, read by the store, the API
    and the notification channels (which never need to know what kind of report it is).

    * ``report_id`` — stable per report instance (``weekly_review:prod:2026-W48``): storing or
      delivering the same report twice is a no-op, not a second e-mail;
    * ``html`` — the page for browsers (inline SVG); ``email_html`` the same page with
      ``cid:`` images, whose PNGs are ``charts``;
    * ``summary`` — Markdown-ish text for chat and the plain-text mail part (Slack mrkdwn:
      ``*bold*``, ``•`` bullets);
    * ``headline`` — the few numbers a chat message shows as fields;
    * ``data`` — the report's JSON (attached to the mail, served by the API).
    """

    report_id: str
    kind: str
    cluster: str
    period: str
    title: str
    html: str
    summary: str
    data: dict[str, Any]
    headline: tuple[tuple[str, str], ...] = ()
    email_html: str | None = None
    charts: tuple[Chart, ...] = field(default=())
    #: P0/P1/P2 when the report itself is bad news (a missed drill target); "OK" otherwise.
    severity: str = "OK"
