"""Inline SVG charts from plain numbers: no plotting package needed.

Three shapes cover the campaign's pictures: :func:`bar_chart` (one bar per label),
:func:`line_chart` (series over time) and :func:`interval_chart` (a dot and an error bar per
row, with an optional reference line: rates with their confidence intervals, a forest plot of
lifts). Each returns a :class:`Chart`, which Jupyter renders inline (``_repr_svg_`` and
``_repr_html_``) and which :meth:`Chart.save` writes as a ``.svg`` file.

The SVG is plain and machine-readable on purpose: every mark carries its value
(``data-value``, ``data-low``, ``data-high``) and every axis tick its value
(``<line class="tick" data-value=...>``), so a test or a script can check the picture
against the numbers it shows.

Example::

    >>> chart = bar_chart(["delivered", "undelivered"], [90, 10], title="Outcomes")
    >>> chart.svg.startswith("<svg") and "data-value='90'" in chart.svg
    True
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "PALETTE",
    "Chart",
    "Interval",
    "Scale",
    "bar_chart",
    "interval_chart",
    "line_chart",
    "nice_ticks",
]

#: Colours in order of use (colour-blind safe: Okabe–Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999")
_FONT = "font-family='sans-serif' font-size='12'"
_MUTED = "#666"
_GRID = "#e5e5e5"


@dataclass(frozen=True)
class Chart:
    """One SVG picture; displays itself in Jupyter.

    >>> Chart("<svg xmlns='http://www.w3.org/2000/svg'/>", "t")._repr_html_()[:28]
    "<div class='itnio-chart'><sv"
    """

    svg: str
    title: str = ""

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_html_(self) -> str:
        return f"<div class='itnio-chart'>{self.svg}</div>"

    def __str__(self) -> str:
        return self.svg

    def save(self, path: str | Path) -> Path:
        """Write the picture as an ``.svg`` file (opens in any browser); returns its path."""
        out = Path(path)
        out.write_text(self.svg, encoding="utf-8")
        return out


@dataclass(frozen=True)
class Scale:
    """A linear map from data values to pixels.

    >>> Scale(0, 10, 100, 200)(5)
    150.0
    """

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo
        share = (value - self.lo) / span if span else 0.5
        return self.start + share * (self.end - self.start)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering ``lo``..``hi`` (about ``count`` of them).

    >>> nice_ticks(0, 87)
    [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    >>> nice_ticks(-0.013, 0.042)
    [-0.02, 0.0, 0.02, 0.04, 0.06]
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:
        lo, hi = (lo - 1, hi + 1) if lo == 0 else (lo - abs(lo) * 0.1, hi + abs(hi) * 0.1)
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    digits = max(0, -math.floor(math.log10(step)) + 2)
    return [round(k * step, digits) + 0.0 for k in range(first, last + 1)]


def _fmt_number(value: float, percent: bool = False) -> str:
    """A tick or value label: ``0.05`` -> ``5%`` when ``percent``; thousands separated."""
    if percent:
        pct = value * 100
        return f"{pct:.0f}%" if abs(pct - round(pct)) < 1e-9 else f"{pct:.1f}%"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3g}"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _attr(value: float) -> str:
    """A data value as an attribute: exact enough to compare (repr of the float)."""
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    head = (
        f"<svg xmlns='http://www.w3.org/2000/svg' class='itnio-chart' width='{width:.0f}' "
        f"height='{height:.0f}' viewBox='0 0 {width:.0f} {height:.0f}' role='img' "
        f"aria-label='{_esc(title)}'>"
    )
    caption = (
        f"<text class='title' x='{width / 2:.1f}' y='18' text-anchor='middle' {_FONT} "
        f"font-weight='bold'>{_esc(title)}</text>"
    )
    return "".join([head, f"<title>{_esc(title)}</title>", caption, *body, "</svg>"])


def _y_axis(scale: Scale, ticks: Sequence[float], x0: float, x1: float, percent: bool) -> list[str]:
    out = []
    for t in ticks:
        y = scale(t)
        out.append(
            f"<line class='tick' data-axis='y' data-value='{_attr(t)}' x1='{x0:.2f}' "
            f"y1='{y:.2f}' x2='{x1:.2f}' y2='{y:.2f}' stroke='{_GRID}'/>"
            f"<text x='{x0 - 6:.1f}' y='{y + 4:.1f}' text-anchor='end' {_FONT} "
            f"fill='{_MUTED}'>{_fmt_number(t, percent)}</text>"
        )
    return out


def _x_axis(scale: Scale, ticks: Sequence[float], y0: float, y1: float,
            label: Callable[[float], str]) -> list[str]:  # fmt: skip
    out = []
    for t in ticks:
        x = scale(t)
        out.append(
            f"<line class='tick' data-axis='x' data-value='{_attr(t)}' x1='{x:.2f}' "
            f"y1='{y0:.2f}' x2='{x:.2f}' y2='{y1:.2f}' stroke='{_GRID}'/>"
            f"<text x='{x:.1f}' y='{y1 + 16:.1f}' text-anchor='middle' {_FONT} "
            f"fill='{_MUTED}'>{_esc(label(t))}</text>"
        )
    return out


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    y_label: str = "",
    colours: Mapping[str, str] | None = None,
    percent: bool = False,
    width: int = 640,
    height: int = 320,
) -> Chart:
    """Vertical bars, one per label, heights proportional to the values (from zero).

    Each bar is ``<rect class="bar" data-label=... data-value=...>``; ``colours`` maps a label
    to its fill.

    >>> chart = bar_chart(["a", "b"], [1, 3], title="t")
    >>> chart.svg.count("class='bar'")
    2
    """
    if len(labels) != len(values):
        raise ValueError("bar_chart needs one value per label")
    left, right, top, bottom = 56, 16, 44, 72
    top_value = max([0.0, *(float(v) for v in values)])
    ticks = nice_ticks(0, top_value if top_value > 0 else 1)
    scale = Scale(0, ticks[-1], height - bottom, top)
    body = _y_axis(scale, ticks, left, width - right, percent)
    slot = (width - left - right) / max(len(labels), 1)
    bar = min(slot * 0.7, 80)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = left + i * slot + (slot - bar) / 2
        y = scale(float(value))
        fill = (colours or {}).get(label, PALETTE[i % len(PALETTE)] if colours is None else "#888")
        shown = _fmt_number(float(value), percent)
        body.append(
            f"<rect class='bar' data-label='{_esc(label)}' data-value='{_attr(float(value))}' "
            f"x='{x:.2f}' y='{y:.2f}' width='{bar:.2f}' height='{scale(0) - y:.2f}' "
            f"fill='{fill}'><title>{_esc(label)}: {shown}</title></rect>"
            f"<text x='{x + bar / 2:.1f}' y='{y - 4:.1f}' text-anchor='middle' {_FONT}>"
            f"{shown}</text>"
            f"<text x='{x + bar / 2:.1f}' y='{height - bottom + 14:.1f}' text-anchor='end' "
            f"{_FONT} transform='rotate(-30 {x + bar / 2:.1f} {height - bottom + 14:.1f})'>"
            f"{_esc(label)}</text>"
        )
    body.append(
        f"<line class='axis' x1='{left}' y1='{scale(0):.2f}' x2='{width - right}' "
        f"y2='{scale(0):.2f}' stroke='#333'/>"
    )
    if y_label:
        body.append(_y_label(y_label, top, height - bottom))
    return Chart(_svg(width, height, title, body), title)


def _y_label(text: str, top: float, bottom: float) -> str:
    mid = (top + bottom) / 2
    return (
        f"<text x='14' y='{mid:.1f}' text-anchor='middle' {_FONT} fill='{_MUTED}' "
        f"transform='rotate(-90 14 {mid:.1f})'>{_esc(text)}</text>"
    )


def _time_label(span: float) -> Callable[[float], str]:
    """How to print an epoch tick: seconds for a short span, dates for a long one (UTC)."""
    fmt = "%H:%M:%S" if span < 600 else "%H:%M" if span < 2 * 86_400 else "%d %b %H:%M"
    return lambda t: datetime.fromtimestamp(t, UTC).strftime(fmt)


def line_chart(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str,
    y_label: str = "",
    time_axis: bool = True,
    width: int = 640,
    height: int = 300,
) -> Chart:
    """One line per series (``{name: (xs, ys)}``); xs are epoch seconds when ``time_axis``.

    Each line is ``<polyline class="line" data-series=...>``; its points are the data
    mapped by the axes (read them back with the ticks' ``data-value``). Times show in UTC.

    >>> chart = line_chart({"delivered": ([0, 60], [0, 5])}, title="t")
    >>> chart.svg.count("class='line'")
    1
    """
    left, right, top, bottom = 56, 120, 32, 40
    xs_all = [float(x) for xs, _ in series.values() for x in xs]
    ys_all = [float(y) for _, ys in series.values() for y in ys]
    x_lo, x_hi = (min(xs_all), max(xs_all)) if xs_all else (0.0, 1.0)
    if x_hi <= x_lo:
        x_hi = x_lo + 1
    y_ticks = nice_ticks(0, max([1.0, *ys_all]))
    x_scale = Scale(x_lo, x_hi, left, width - right)
    y_scale = Scale(0, y_ticks[-1], height - bottom, top)
    body = _y_axis(y_scale, y_ticks, left, width - right, False)
    span = x_hi - x_lo
    x_ticks = [x_lo + span * k / 4 for k in range(5)]
    label = _time_label(span) if time_axis else (lambda t: _fmt_number(t))
    body += _x_axis(x_scale, x_ticks, top, height - bottom, label)
    for i, (name, (xs, ys)) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        points = " ".join(
            f"{x_scale(float(x)):.2f},{y_scale(float(y)):.2f}" for x, y in zip(xs, ys, strict=True)
        )
        last = float(ys[-1]) if len(ys) else 0.0
        body.append(
            f"<polyline class='line' data-series='{_esc(name)}' data-last='{_attr(last)}' "
            f"points='{points}' fill='none' stroke='{colour}' stroke-width='2'>"
            f"<title>{_esc(name)}: {_fmt_number(last)}</title></polyline>"
            f"<text x='{width - right + 8}' y='{top + 16 * (i + 1):.1f}' {_FONT} "
            f"fill='{colour}'>{_esc(name)} ({_fmt_number(last)})</text>"
        )
    if y_label:
        body.append(_y_label(y_label, top, height - bottom))
    return Chart(_svg(width, height, title, body), title)


@dataclass(frozen=True)
class Interval:
    """One row of an :func:`interval_chart`: an estimate and its interval (NaN: no data)."""

    label: str
    estimate: float
    low: float
    high: float
    note: str = ""


def interval_chart(
    rows: Sequence[Interval],
    *,
    title: str,
    x_label: str = "",
    reference: float | None = None,
    reference_label: str = "",
    percent: bool = True,
    width: int = 640,
) -> Chart:
    """A dot per row at its estimate with an error bar from ``low`` to ``high`` (a forest
    plot when ``reference`` draws the line of "no effect").

    Marks: ``<circle class="estimate" data-label data-value>``,
    ``<line class="interval" data-label data-low data-high>``, ``<line class="reference">``.
    A row without data (NaN) shows its label and "no data".

    >>> chart = interval_chart([Interval("A", 0.5, 0.4, 0.6)], title="t")
    >>> chart.svg.count("class='interval'")
    1
    """
    left, right, top, bottom, row_h = 110, 150, 36, 44, 30
    height = top + bottom + row_h * max(len(rows), 1)
    finite = [v for r in rows for v in (r.estimate, r.low, r.high) if math.isfinite(v)]
    if reference is not None:
        finite.append(reference)
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    ticks = nice_ticks(lo, hi)
    scale = Scale(ticks[0], ticks[-1], left, width - right)
    body = _x_axis(scale, ticks, top - 6, height - bottom, lambda t: _fmt_number(t, percent))
    if reference is not None:
        x = scale(reference)
        body.append(
            f"<line class='reference' data-value='{_attr(reference)}' x1='{x:.2f}' "
            f"y1='{top - 6}' x2='{x:.2f}' y2='{height - bottom}' stroke='#333' "
            f"stroke-dasharray='4 3'/>"
        )
        if reference_label:
            body.append(
                f"<text class='reference-label' x='{width - right + 8}' y='{height - 6}' "
                f"{_FONT} fill='{_MUTED}'>- - {_esc(reference_label)}</text>"
            )
    for i, row in enumerate(rows):
        y = top + row_h * i + row_h / 2
        colour = PALETTE[i % len(PALETTE)]
        body.append(
            f"<text x='{left - 8}' y='{y + 4:.1f}' text-anchor='end' {_FONT}>"
            f"{_esc(row.label)}</text>"
        )
        if not math.isfinite(row.estimate):
            body.append(
                f"<text class='no-data' data-label='{_esc(row.label)}' x='{left + 4}' "
                f"y='{y + 4:.1f}' {_FONT} fill='{_MUTED}'>no data</text>"
            )
            continue
        shown = _fmt_number(row.estimate, percent)
        if math.isfinite(row.low) and math.isfinite(row.high):
            x1, x2 = scale(row.low), scale(row.high)
            span = f"{_fmt_number(row.low, percent)} to {_fmt_number(row.high, percent)}"
            body.append(
                f"<line class='interval' data-label='{_esc(row.label)}' "
                f"data-low='{_attr(row.low)}' data-high='{_attr(row.high)}' x1='{x1:.2f}' "
                f"y1='{y:.2f}' x2='{x2:.2f}' y2='{y:.2f}' stroke='{colour}' stroke-width='2'>"
                f"<title>{_esc(row.label)}: {span}</title></line>"
                f"<line x1='{x1:.2f}' y1='{y - 6:.2f}' x2='{x1:.2f}' y2='{y + 6:.2f}' "
                f"stroke='{colour}' stroke-width='2'/>"
                f"<line x1='{x2:.2f}' y1='{y - 6:.2f}' x2='{x2:.2f}' y2='{y + 6:.2f}' "
                f"stroke='{colour}' stroke-width='2'/>"
            )
            shown += f" [{span}]"
        x = scale(row.estimate)
        body.append(
            f"<circle class='estimate' data-label='{_esc(row.label)}' "
            f"data-value='{_attr(row.estimate)}' cx='{x:.2f}' cy='{y:.2f}' r='5' "
            f"fill='{colour}'><title>{_esc(row.label)}: {shown}</title></circle>"
            f"<text x='{width - right + 8}' y='{y + 4:.1f}' {_FONT}>"
            f"{_esc(row.note or _fmt_number(row.estimate, percent))}</text>"
        )
    if x_label:
        body.append(
            f"<text x='{(left + width - right) / 2:.1f}' y='{height - 6}' text-anchor"
            f"='middle' {_FONT} fill='{_MUTED}'>{_esc(x_label)}</text>"
        )
    return Chart(_svg(width, height, title, body), title)
