"""Budget burn over the month: cumulative bad minutes against the budget line, one panel per
SLI.  matplotlib on the Agg backend, PNG/SVG as in the capacity chart (no display, no CDN)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kafkaops.core import charts

if TYPE_CHECKING:
    from kafkaops.slo.report import SloReport


def _figure(report: SloReport):  # type: ignore[no-untyped-def]
    plt = charts.pyplot()

    slis = list(report.slis.values())
    fig, axes = plt.subplots(len(slis), 1, figsize=(6.4, 3.0 * len(slis)), squeeze=False)
    budget = report.settings.budget_ms / 60_000
    end = datetime.fromtimestamp(report.end.timestamp(), UTC)
    for ax, r in zip([row[0] for row in axes], slis, strict=True):
        xs = [datetime.fromtimestamp(t / 1000, UTC) for t, _ in r.burn]
        ys = [b / 60_000 for _, b in r.burn]
        ax.plot(xs, ys, color="#08519c", lw=1.5, label="budget spent (bad min)")
        ax.fill_between(xs, ys, color="#9ecae1", alpha=0.5)
        ax.plot([report.start, end], [0, budget], ":", color="#6baed6", lw=1,
                label="even burn")  # fmt: skip
        ax.axhline(budget, color="#a50f15", lw=1, ls="--", label=f"budget {budget:.1f} min")
        ax.set_xlim(report.start, end)
        ax.set_ylim(0, max(budget, max(ys, default=0)) * 1.1)
        left = r.left_ms / 60_000
        ax.set_title(f"{r.name}: {left:.1f} min of budget left", fontsize=9)
        ax.set_ylabel("minutes")
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{report.cluster}: error budget {report.start:%Y-%m}", fontsize=11)
    fig.tight_layout()
    return fig


def write_chart(report: SloReport, path: Path) -> Path:
    """PNG or SVG by the file's suffix."""
    return charts.write_chart(lambda: _figure(report), path)


def chart_svg(report: SloReport) -> str:
    """The chart as inline SVG text (for HTML reports: no external file, no CDN)."""
    return charts.chart_svg(lambda: _figure(report))


def render_chart(report: SloReport, key: str, title: str) -> charts.Chart:
    """The chart as SVG (pages) and PNG (e-mail)."""
    return charts.render(key, title, lambda: _figure(report))
