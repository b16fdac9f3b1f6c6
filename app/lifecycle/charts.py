"""Charts for owners as server-side SVG: no script, no inline style, prints, and reads out.

A ``Chart`` is data (labels, one or more series) and knows three ways to show it: an SVG
(``svg()``, styled only through classes in ``static/css/charts.css``, so the strict CSP
holds), the same numbers as rows for the accessible table beside it, and a CSV download.
When there is too little data to say anything, ``enough`` is False and ``reason`` says why;
templates then show that sentence instead of a misleading picture.

Why hand-written rather than a library: the chart libraries on PyPI that make SVG (pygal,
matplotlib) write inline ``style`` attributes or ``<style>``/``<script>`` elements that the
site's CSP refuses, and pull in far more than two chart types need.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 40  # plot margins (axis labels live there)
MAX_SERIES = 5  # s0..s4 in charts.css: colours, dashes and markers that differ without colour


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]  # None: no data for that label (a gap, not a zero)


@dataclass(frozen=True)
class Chart:
    id: str  # also the CSV's name: /manage/charts/<id>.csv
    title: str
    summary: str  # one sentence for the figure and the SVG's <desc>
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    kind: str = "bar"  # bar | line | hbar
    unit: str = ""  # "" for counts, "%" for shares
    enough: bool = True
    reason: str = ""  # why there is no chart yet (when not enough)
    max_value: float | None = None  # fixed top of the scale (100 for shares)
    notes: tuple[str, ...] = field(default=())

    @property
    def rows(self) -> list[tuple[str, list[str]]]:
        return [(label, [fmt(s.values[i], self.unit) for s in self.series])
                for i, label in enumerate(self.labels)]

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["label", *(s.name for s in self.series)])
        for i, label in enumerate(self.labels):
            writer.writerow([label, *("" if s.values[i] is None else _num(s.values[i])
                                      for s in self.series)])
        return buffer.getvalue()

    def svg(self) -> Markup:
        if not self.enough or not self.labels or not self.series:
            return Markup("")
        body = _hbars(self) if self.kind == "hbar" else _plot(self)
        title, desc = f"{self.id}-title", f"{self.id}-desc"
        return Markup(  # noqa: S704 - every text inside is escaped; numbers are formatted
            f'<svg class="chart-svg chart-{escape(self.kind)}" viewBox="0 0 {WIDTH} '
            f'{_height(self)}" role="img" aria-labelledby="{title} {desc}" '
            f'focusable="false" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{title}">{escape(self.title)}</title>'
            f'<desc id="{desc}">{escape(self.summary)}</desc>{body}</svg>')


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    return f"{_num(value)}{unit}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def nice_top(peak: float) -> float:
    """A round top for the scale: 1, 2, 2.5 or 5 times a power of ten, at least ``peak``."""
    if peak <= 0:
        return 1
    power = 10 ** math.floor(math.log10(peak))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= peak)


def _height(chart: Chart) -> int:
    if chart.kind == "hbar":
        return TOP + BOTTOM + 26 * len(chart.labels)
    return HEIGHT


# Tops for counts: gridlines sit at quarters of the scale, so whole numbers need multiples of 4.
_COUNT_TOPS = sorted({int(k * 10 ** e) for e in range(9) for k in (1, 1.2, 1.6, 2, 4, 6, 8)
                      if int(k * 10 ** e) % 4 == 0})


def count_top(peak: float) -> int:
    return next((t for t in _COUNT_TOPS if t >= peak), _COUNT_TOPS[-1])


def _scale(chart: Chart) -> float:
    peak = max((v for s in chart.series for v in s.values if v is not None), default=0)
    if chart.max_value:
        return chart.max_value
    return nice_top(peak) if chart.unit else count_top(peak)


def _axes(chart: Chart, top: float) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(5):  # gridlines and y labels at 0, 1/4 … 1 of the scale
        value = top * i / 4
        y = HEIGHT - BOTTOM - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/><text class="tick y" x="{LEFT - 6}" y="{y + 4:.1f}">'
                     f'{escape(fmt(value, chart.unit))}</text>')
    n = len(chart.labels)
    step = max(1, math.ceil(n / 8))  # at most eight x labels fit
    slot = (WIDTH - LEFT - RIGHT) / n
    for i, label in enumerate(chart.labels):
        if (n - 1 - i) % step == 0:  # counted from the end: the latest label always shows
            x = LEFT + slot * (i + 0.5)
            parts.append(f'<text class="tick x" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}">'
                         f'{escape(label)}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" '
                 f'y2="{HEIGHT - BOTTOM}"/>')
    return parts


def _plot(chart: Chart) -> str:
    top = _scale(chart)
    plot_h = HEIGHT - TOP - BOTTOM
    n = len(chart.labels)
    slot = (WIDTH - LEFT - RIGHT) / n
    parts = _axes(chart, top)

    def y_of(value: float) -> float:
        return HEIGHT - BOTTOM - plot_h * min(value, top) / top

    shown = chart.series[:MAX_SERIES]
    for k, series in enumerate(shown):
        css = f"s{k}"
        if chart.kind == "bar":
            width = slot * 0.8 / len(shown)
            for i, value in enumerate(series.values):
                if value is None:
                    continue
                x = LEFT + slot * i + slot * 0.1 + width * k
                y = y_of(value)
                parts.append(f'<rect class="bar {css}" x="{x:.1f}" y="{y:.1f}" '
                             f'width="{max(width - 1, 1):.1f}" height="{HEIGHT - BOTTOM - y:.1f}">'
                             f'<title>{escape(chart.labels[i])}: {escape(series.name)} '
                             f'{escape(fmt(value, chart.unit))}</title></rect>')
        else:
            runs, run = [], []
            for i, value in enumerate(series.values):
                if value is None:  # a gap: the line stops rather than inventing a value
                    if run:
                        runs.append(run)
                    run = []
                    continue
                run.append((LEFT + slot * (i + 0.5), y_of(value), i, value))
            if run:
                runs.append(run)
            for points in runs:
                if len(points) > 1:
                    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
                    parts.append(f'<polyline class="line {css}" points="{coords}"/>')
                for x, y, i, value in points:
                    parts.append(f'<circle class="dot {css}" cx="{x:.1f}" cy="{y:.1f}" r="3.5">'
                                 f'<title>{escape(chart.labels[i])}: {escape(series.name)} '
                                 f'{escape(fmt(value, chart.unit))}</title></circle>')
    return "".join(parts)


def _hbars(chart: Chart) -> str:
    """One bar per label (documents), value at the end of each bar; the first series only."""
    top = _scale(chart)
    label_w = 200
    plot_w = WIDTH - label_w - RIGHT - 48
    parts = []
    values = chart.series[0].values
    for i, label in enumerate(chart.labels):
        y = TOP + 26 * i
        value = values[i]
        width = 0 if value is None else plot_w * min(value, top) / top
        short = label if len(label) <= 34 else label[:33] + "…"
        parts.append(f'<text class="tick label" x="{label_w - 8}" y="{y + 15}">'
                     f'{escape(short)}</text>'
                     f'<rect class="track" x="{label_w}" y="{y + 3}" width="{plot_w}" '
                     f'height="16"/>'
                     f'<rect class="bar s0" x="{label_w}" y="{y + 3}" width="{width:.1f}" '
                     f'height="16"><title>{escape(label)}: {escape(fmt(value, chart.unit))}'
                     f'</title></rect>'
                     f'<text class="tick value" x="{label_w + plot_w + 6}" y="{y + 15}">'
                     f'{escape(fmt(value, chart.unit))}</text>')
    return "".join(parts)
