"""Chart output shared by every report (capacity, SLO, weekly review, DR drill).

Why one place: each report draws its own figure, but turning a figure into a file, into SVG
text an HTML page inlines, or into PNG bytes an e-mail embeds was copied per report.  Why here
(``core``): capacity, SLO and DR are sibling packages that may not import each other, and the
report layer sits above them; matplotlib is imported only when a chart is drawn.

Why both SVG and PNG: browsers (the dashboard, a saved HTML file) draw inline SVG crisply, but
most mail clients (Gmail, Outlook) do not render SVG at all, so e-mail gets PNG parts referenced
by ``cid:``.  :func:`render` produces both from one figure.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

#: PNG resolution for e-mail and files: legible at 640 px wide without megabyte attachments.
PNG_DPI = 100

Figure = Any  # matplotlib.figure.Figure (not imported at module load)


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display, no browser, no CDN)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _close(fig: Figure) -> None:
    pyplot().close(fig)


def figure_svg(fig: Figure) -> str:
    """The figure as inline ``<svg …>`` text (the XML prolog and DOCTYPE cut off)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def figure_png(fig: Figure, dpi: int = PNG_DPI) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def write_chart(make: Callable[[], Figure], path: Path) -> Path:
    """Draw ``make()`` into ``path``, PNG or SVG by the file's suffix; the figure is closed."""
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError("the chart file must end in .png or .svg")
    fig = make()
    try:
        fig.savefig(path, format=suffix[1:], dpi=110)
    finally:
        _close(fig)
    return path


def chart_svg(make: Callable[[], Figure]) -> str:
    """Draw ``make()`` as inline SVG text; the figure is closed."""
    fig = make()
    try:
        return figure_svg(fig)
    finally:
        _close(fig)


@dataclass(frozen=True, slots=True)
class Chart:
    """One drawn chart in both forms: ``svg`` for pages, ``png`` for e-mail (``cid:<key>``)."""

    key: str
    title: str
    svg: str
    png: bytes

    @property
    def content_id(self) -> str:
        """The MIME Content-ID an e-mail's HTML refers to (``<img src="cid:…">``)."""
        return f"chart-{self.key}@kafkaops"


def render(key: str, title: str, make: Callable[[], Figure]) -> Chart:
    """Draw ``make()`` once and keep it as SVG and PNG; the figure is closed."""
    fig = make()
    try:
        return Chart(key, title, figure_svg(fig), figure_png(fig))
    finally:
        _close(fig)


def line_figure(
    title: str,
    series: Mapping[str, Sequence[tuple[datetime, float]]],
    unit: str,
    scale: float = 1.0,
    *,
    marker: str | None = "o",
    size: tuple[float, float] = (6.4, 2.6),
) -> Figure:
    """A small line chart, one line per series; "no data" written in when every series is
    empty (an empty axis would look like a broken chart)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=size)
    drawn = 0
    for name, pts in series.items():
        if not pts:
            continue
        ax.plot([t for t, _ in pts], [v / scale for _, v in pts], marker=marker, ms=3, label=name)
        drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "no data this period", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(unit)
    ax.grid(alpha=0.3)
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    if drawn:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
