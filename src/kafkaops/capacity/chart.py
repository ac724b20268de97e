"""The capacity chart: per broker log dir, history (daily min–max band and the daily max), the
forecast with its 80 % interval, and the warning / critical / full lines.

matplotlib (Agg backend: no display, no browser, no CDN) renders PNG for files and SVG text that
an HTML report inlines.  Imported only when a chart is asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kafkaops.core import charts

if TYPE_CHECKING:
    from kafkaops.capacity.analysis import CapacityReport

GiB = 1024**3
MAX_PANELS = 12


def _date(day: float) -> datetime:
    return datetime.fromtimestamp(day * 86400, UTC)


def _figure(report: CapacityReport):  # type: ignore[no-untyped-def]
    plt = charts.pyplot()

    disks = [d for d in report.disks if d.history][:MAX_PANELS]
    if not disks:
        raise ValueError("no capacity history to chart yet")
    cols = 1 if len(disks) == 1 else 2
    rows = (len(disks) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 3.2 * rows), squeeze=False)
    s = report.settings
    for ax, d in zip([a for row in axes for a in row], disks, strict=False):
        days = [_date(h[0]) for h in d.history]
        ax.fill_between(
            days,
            [h[1] / GiB for h in d.history],
            [h[3] / GiB for h in d.history],
            color="#9ecae1",
            alpha=0.5,
            label="daily min–max",
        )
        ax.plot(days, [h[3] / GiB for h in d.history], color="#08519c", lw=1.5, label="daily max")
        proj = d.projection(report.horizon_days)
        if proj:
            pdays = [_date(p[0]) for p in proj]
            ax.plot(pdays, [p[1] / GiB for p in proj], "--", color="#d94801", label="forecast")
            ax.fill_between(
                pdays,
                [p[2] / GiB for p in proj],
                [p[3] / GiB for p in proj],
                color="#fdae6b",
                alpha=0.4,
                label=f"{round(100 * d.fit.level) if d.fit else 80}% interval",
            )
        if d.capacity_bytes:
            cap = d.capacity_bytes / GiB
            for pct, color, name in (
                (s.warning, "#fdd0a2", "warning"),
                (s.critical, "#fc8d59", "critical"),
                (100.0, "#a50f15", "full"),
            ):
                ax.axhline(cap * pct / 100, color=color, lw=1, ls=":", label=f"{name} {pct:g}%")
        full = d.crossings.get("full")
        title = f"broker {d.broker} {d.log_dir}"
        if d.fit is None:
            title += f" — {d.not_enough}"
        elif full is not None and full.days is not None:
            title += f" — full in {full.days:.0f} d"
        else:
            title += f" — not full within {report.horizon_days} d"
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("GiB")
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.grid(alpha=0.3)
    for ax in [a for row in axes for a in row][len(disks) :]:
        ax.set_visible(False)
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle(
        f"{report.cluster}: disk per broker, {report.generated_at:%Y-%m-%d %H:%M} UTC", fontsize=11
    )
    fig.tight_layout()
    return fig


def write_chart(report: CapacityReport, path: Path) -> Path:
    """PNG or SVG by the file's suffix."""
    return charts.write_chart(lambda: _figure(report), path)


def chart_svg(report: CapacityReport) -> str:
    """The chart as inline SVG text (for HTML reports: no external file, no CDN)."""
    return charts.chart_svg(lambda: _figure(report))


def render_chart(report: CapacityReport, key: str, title: str) -> charts.Chart:
    """The chart as SVG (pages) and PNG (e-mail)."""
    return charts.render(key, title, lambda: _figure(report))
